//! One shard's share of an atlas, and its run: the batches dealt to it whose pictures are not all there yet.

use std::fmt;
use std::str::FromStr;

use web_time::Instant;

use super::parts::Parts;
use super::{Batch, Plan};
use crate::picture::image::{Rgba, batch_rgba};
use crate::{Ascent, Model, RunRequest, Start};

/// Shard `index` of `count`: it takes every `count`-th batch, from batch `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Where a scheduler puts an array task's index: Slurm's job arrays, Kubernetes' Indexed Jobs.
pub const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `index` of `count`, where it is one.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count} does not exist: shards are numbered 0 to count - 1"));
        }
        Ok(Shard { index, count })
    }

    /// Shard `index` of `count` with the index from the scheduler (`variable`'s value, the first of
    /// [`INDEX_VARIABLES`] set, as `lookup` finds it): an array task's. The count is given, not read: a task
    /// resubmitted on its own is an array of one.
    pub fn from_scheduler(count: usize, lookup: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let found = INDEX_VARIABLES.iter().find_map(|&name| lookup(name).map(|value| (name, value)));
        match found {
            Some((name, value)) => {
                let index = value.trim().parse().map_err(|_| format!("{name}={value} is not a shard index"))?;
                Shard::new(index, count)
            }
            None if count == 1 => Ok(Shard::WHOLE),
            None => Err(format!(
                "{count} shards, but which is this one? Give --shard i/{count}, or run it as an array task ({} set)",
                INDEX_VARIABLES.join(" or ")
            )),
        }
    }

    /// Whether `batch` is this shard's.
    pub fn takes(&self, batch: &Batch) -> bool {
        batch.index % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    /// "i/N".
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("'{text}' is not a shard (e.g. 2/8)"));
        let (index, count) = text.split_once('/').ok_or_else(|| format!("'{text}' is not a shard (e.g. 2/8)"))?;
        Shard::new(number(index)?, number(count)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a shard's run tells its front end as it goes.
pub enum Event<'a> {
    /// A batch whose pictures were all there already.
    Skipped(&'a Batch),
    /// A batch starts (`steps` steps).
    Started(&'a Batch, usize),
    Step,
    Done(&'a Batch),
    Failed(&'a Batch, &'a str),
}

/// What a shard did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Pictures made, and found already made.
    pub made: usize,
    pub found: usize,
    /// The batches that failed, with why.
    pub failed: Vec<(Batch, String)>,
    pub seconds: f64,
}

/// Runs `shard`'s batches of `plan` on `model` whose pictures are not all in `parts`, writing the missing pictures
/// as their batch finishes. A failed batch is reported and the rest go on.
pub fn run(
    plan: &Plan,
    settings: &RunRequest,
    shard: Shard,
    parts: &Parts,
    model: &Model,
    start: &Start,
    mut on: impl FnMut(Event),
) -> Summary {
    let began = Instant::now();
    let mut summary = Summary::default();
    for batch in plan.batches().iter().filter(|b| shard.takes(b)) {
        // A batch killed while it wrote its pictures has some: it runs again (its pictures are made together) and
        // writes the others.
        let missing: Vec<(usize, String)> = (batch.filters.iter().map(|&f| plan.key(batch, f)).enumerate())
            .filter(|(_, key)| !parts.has(key))
            .collect();
        summary.found += batch.filters.len() - missing.len();
        if missing.is_empty() {
            on(Event::Skipped(batch));
            continue;
        }
        match make(plan, settings, batch, model, start, &mut on) {
            Ok(pictures) => {
                let written = missing.iter().try_for_each(|(i, key)| parts.write(key, &pictures[*i]));
                match written {
                    Ok(()) => {
                        summary.made += missing.len();
                        on(Event::Done(batch));
                    }
                    Err(e) => {
                        on(Event::Failed(batch, &e));
                        summary.failed.push((batch.clone(), e));
                    }
                }
            }
            Err(e) => {
                on(Event::Failed(batch, &e));
                summary.failed.push((batch.clone(), e));
            }
        }
    }
    summary.seconds = began.elapsed().as_secs_f64();
    summary
}

/// One batch's pictures, each as a PNG of its own.
fn make(
    plan: &Plan,
    settings: &RunRequest,
    batch: &Batch,
    model: &Model,
    start: &Start,
    on: &mut impl FnMut(Event),
) -> Result<Vec<Vec<u8>>, String> {
    let (objective, config) = plan.request(settings, batch).plan(start).map_err(|e| e.to_string())?;
    let size = config.size;
    on(Event::Started(batch, config.steps));
    let mut ascent = Ascent::new(model, objective, config).map_err(|e| e.to_string())?;
    while !ascent.is_done() {
        pollster::block_on(ascent.step()).map_err(|e| e.to_string())?;
        on(Event::Step);
    }
    let pixels = pollster::block_on(ascent.pixels()).map_err(|e| e.to_string())?;
    let tiles = batch_rgba(&pixels, size, ascent.levels());
    Ok(tiles.into_iter().map(|pixels| Rgba { width: size, height: size, pixels }.to_png()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::{Plan, Source};
    use crate::{Mode, Network};

    fn plan(batch: usize) -> Plan {
        let settings = RunRequest { model: Network::Alexnet, ..RunRequest::new(Mode::Classic, "conv1", &[]) };
        let source = Source { file: "alexnet.safetensors".into(), sha256: "0".repeat(64), preprocess: None };
        Plan::new(&settings, source, &["conv1".into(), "conv2".into()], batch).unwrap()
    }

    /// Whatever the shard count, every batch is taken by exactly one shard, and the batches are the plan's own.
    #[test]
    fn every_batch_is_one_shards() {
        let batches = plan(16).batches();
        assert_eq!(batches.len(), 4 + 12);
        for count in 1..=20 {
            for batch in &batches {
                let takers = (0..count).filter(|&i| Shard::new(i, count).unwrap().takes(batch)).count();
                assert_eq!(takers, 1, "batch {} with {count} shards", batch.index);
            }
        }
    }

    #[test]
    fn shards_are_read_from_the_command_line_or_the_scheduler() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!("8/8".parse::<Shard>().unwrap_err(), "shard 8/8 does not exist: shards are numbered 0 to count - 1");
        assert_eq!("2-8".parse::<Shard>().unwrap_err(), "'2-8' is not a shard (e.g. 2/8)");
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::from_scheduler(4, env(&[("SLURM_ARRAY_TASK_ID", "3")])), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(Shard::from_scheduler(4, env(&[("JOB_COMPLETION_INDEX", "0")])), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::from_scheduler(1, env(&[])), Ok(Shard::WHOLE));
        assert!(Shard::from_scheduler(4, env(&[])).unwrap_err().starts_with("4 shards, but which is this one?"));
        assert_eq!(
            Shard::from_scheduler(4, env(&[("SLURM_ARRAY_TASK_ID", "x")])).unwrap_err(),
            "SLURM_ARRAY_TASK_ID=x is not a shard index"
        );
        assert!(Shard::from_scheduler(2, env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
    }
}
