//! The atlas: a picture of every filter of chosen layers, computed ahead by a batch job split into shards (one
//! process each, on a scheduler's array of tasks), then packed for the page.
//!
//! - [`Plan`]: what the atlas shows (the network's file by its SHA-256, one run request's settings, the layers) and
//!   how the work splits: fixed batches of filters, dealt to shards round-robin. A batch is the same whatever the
//!   shard count, so an atlas made by N shards is pixel for pixel the one a single process makes;
//! - [`parts`]: each filter's picture, written once and atomically under its content hash, so a shard killed and
//!   run again redoes only what is missing, and two shards never write the same file;
//! - [`pack`]: the merge, which names any filter missing and packs each layer into one file the page reads by
//!   byte range, with a contact sheet per layer and a manifest of every part's SHA-256.

pub mod pack;
pub mod parts;
pub mod shard;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::RunRequest;

/// The plan's format, in its file and in every content hash: a change to what a part means changes it.
pub const FORMAT: &str = "filterlens-atlas/1";

/// What an atlas shows and how its work splits; `plan.json` in the atlas's folder, written by the first shard and
/// checked by every other (a folder holds one atlas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    /// The request's `model`, and its title.
    pub network: String,
    pub title: String,
    pub source: Source,
    /// The run request every batch makes, without its layer and filters (as JSON: an ONNX model's name means
    /// something only where that model is open, and the merge opens none).
    pub settings: serde_json::Value,
    pub layers: Vec<PlanLayer>,
    /// Filters optimised together as one batch.
    pub batch: usize,
    /// Side of each picture, pixels (the settings' size, or the mode's).
    pub size: usize,
}

/// The weights the network came with, by content: an atlas belongs to those weights and no others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The file's name (without its folder: shards may see it at different paths).
    pub file: String,
    /// Of the weights as filterlens reads them: a safetensors file, or an ONNX model's initialisers.
    pub sha256: String,
    /// How an ONNX model's input is normalised (built-in networks have theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLayer {
    pub name: String,
    pub channels: usize,
}

/// Filters of one layer optimised together: the unit of work a shard takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its place in the plan's batches, which decides its shard.
    pub index: usize,
    pub layer: String,
    pub filters: Vec<usize>,
}

/// Why a plan cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    #[error("unknown layer '{layer}' for the atlas ({network} has {known})")]
    UnknownLayer { layer: String, network: String, known: String },
    #[error("the batch must hold 1 to 64 filters, not {0}")]
    Batch(usize),
    #[error("an atlas shows filters of a layer: {0} does not apply")]
    NotFilters(&'static str),
    #[error(
        "{folder} holds an atlas with other settings ({differs}): choose another folder, or the same settings to carry on"
    )]
    OtherPlan { folder: String, differs: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error(
        "{missing} of {total} pictures are missing ({named}): run their shards again (each redoes only what is missing)"
    )]
    Missing { missing: usize, total: usize, named: String },
}

impl Plan {
    /// The atlas of `layers` (all of the network's where empty) with `settings`' mode, size, steps and seed, in
    /// batches of `batch` filters.
    pub fn new(settings: &RunRequest, source: Source, layers: &[String], batch: usize) -> Result<Plan, AtlasError> {
        if !(1..=64).contains(&batch) {
            return Err(AtlasError::Batch(batch));
        }
        if !settings.expressions.is_empty() {
            return Err(AtlasError::NotFilters("an objective expression"));
        }
        if settings.accentuate > 0 {
            return Err(AtlasError::NotFilters("accentuation (the atlas starts from noise)"));
        }
        let network = settings.model;
        let known = network.layers();
        let chosen = if layers.is_empty() {
            known.iter().collect::<Vec<_>>()
        } else {
            layers
                .iter()
                .map(|name| {
                    known.iter().find(|l| &l.name == name).ok_or_else(|| AtlasError::UnknownLayer {
                        layer: name.clone(),
                        network: network.title().to_string(),
                        known: known.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
                    })
                })
                .collect::<Result<_, _>>()?
        };
        // In full, so the settings name the pictures whatever the presets (and a page can match its request).
        let settings = RunRequest { layer: None, filters: Vec::new(), ..settings.resolved() };
        let size = settings.size.expect("a resolved request has its size");
        Ok(Plan {
            format: FORMAT.to_string(),
            network: network.name().to_string(),
            title: network.title().to_string(),
            source,
            settings: settings_json(&settings),
            layers: chosen.iter().map(|l| PlanLayer { name: l.name.clone(), channels: l.channels }).collect(),
            batch,
            size,
        })
    }

    /// Every batch, in order: each layer's filters in runs of `batch` (a layer's last run may be shorter).
    pub fn batches(&self) -> Vec<Batch> {
        let chunks = self.layers.iter().flat_map(|layer| {
            (0..layer.channels).step_by(self.batch).map(|first| {
                (layer.name.clone(), (first..(first + self.batch).min(layer.channels)).collect::<Vec<_>>())
            })
        });
        chunks.enumerate().map(|(index, (layer, filters))| Batch { index, layer, filters }).collect()
    }

    /// How many pictures the atlas holds.
    pub fn filters(&self) -> usize {
        self.layers.iter().map(|l| l.channels).sum()
    }

    /// The request a batch runs: the settings with its layer and filters.
    pub fn request(&self, settings: &RunRequest, batch: &Batch) -> RunRequest {
        RunRequest { layer: Some(batch.layer.clone()), filters: batch.filters.clone(), ..settings.clone() }
    }

    /// The content hash naming `filter`'s picture from `batch`: the format, the weights, and the batch's request
    /// (a picture can depend on its batch: lucid's and maco's random transforms are drawn per batch, and the
    /// arithmetic's order with the batch's size).
    pub fn key(&self, batch: &Batch, filter: usize) -> String {
        let mut request = self.settings.clone();
        request["layer"] = batch.layer.clone().into();
        request["filters"] = batch.filters.clone().into();
        // The weights by content, not the file's name.
        let identity = serde_json::json!({
            "format": self.format,
            "weights": self.source.sha256,
            "preprocess": self.source.preprocess,
            "request": request,
            "filter": filter,
        });
        // serde_json's maps are ordered by key, so the text (and the hash) is the same on every machine.
        sha256_hex(serde_json::to_string(&identity).expect("JSON serialises").as_bytes())
    }
}

/// The request as JSON, each number as the request's own type writes it: through text, as `to_value` would widen
/// an f32 to f64 first (lucid's 0.05 became 0.05000000074505806, which no page's request equals).
fn settings_json(settings: &RunRequest) -> serde_json::Value {
    let text = serde_json::to_string(settings).expect("a request serialises");
    serde_json::from_str(&text).expect("serde_json reads what it writes")
}

/// SHA-256 in lower-case hex, as the weights' manifest writes it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mode, Network};

    fn settings(seed: u64) -> RunRequest {
        RunRequest { model: Network::Alexnet, seed, ..RunRequest::new(Mode::Classic, "conv1", &[]) }
    }

    fn source(sha256: &str) -> Source {
        Source { file: "alexnet.safetensors".into(), sha256: sha256.repeat(64), preprocess: None }
    }

    /// Each layer's filters once each, in order, in runs of the batch size.
    #[test]
    fn batches_cover_every_filter_once() {
        let plan = Plan::new(&settings(0), source("0"), &[], 24).unwrap();
        let layers: Vec<_> = plan.layers.iter().map(|l| (l.name.as_str(), l.channels)).collect();
        assert_eq!(layers, [("conv1", 64), ("conv2", 192), ("conv3", 384), ("conv4", 256), ("conv5", 256)]);
        let batches = plan.batches();
        assert_eq!(batches.iter().map(|b| b.index).collect::<Vec<_>>(), (0..batches.len()).collect::<Vec<_>>());
        for layer in &plan.layers {
            let filters: Vec<usize> =
                batches.iter().filter(|b| b.layer == layer.name).flat_map(|b| b.filters.clone()).collect();
            assert_eq!(filters, (0..layer.channels).collect::<Vec<_>>(), "{}", layer.name);
        }
        assert!(batches.iter().all(|b| (1..=24).contains(&b.filters.len())));
        assert_eq!(plan.filters(), 1152);
    }

    /// A picture's name changes with anything that changes the picture, and with nothing else.
    #[test]
    fn keys_follow_the_pictures_content() {
        let plan = |seed, sha: &str| Plan::new(&settings(seed), source(sha), &["conv1".into()], 8).unwrap();
        let base = plan(0, "0");
        let batch = &base.batches()[1];
        let key = base.key(batch, 9);
        assert_eq!(key.len(), 64);
        assert_eq!(key, plan(0, "0").key(batch, 9), "the same on every run");
        let renamed = Plan { source: Source { file: "elsewhere.safetensors".into(), ..source("0") }, ..plan(0, "0") };
        assert_eq!(key, renamed.key(batch, 9), "the weights by content, not their file's name");
        assert_ne!(key, base.key(batch, 10));
        assert_ne!(key, plan(1, "0").key(batch, 9));
        assert_ne!(key, plan(0, "1").key(batch, 9));
        let smaller = Plan::new(&settings(0), source("0"), &["conv1".into()], 4).unwrap();
        let same_filter = smaller.batches().into_iter().find(|b| b.filters.contains(&9)).unwrap();
        assert_ne!(key, smaller.key(&same_filter, 9), "another batch may make another picture");
    }

    /// The settings say each field as a page's request does: lucid's learning rate is 0.05, not the f32 widened.
    #[test]
    fn settings_are_said_as_a_request_says_them() {
        let lucid = RunRequest { mode: Mode::Lucid, ..settings(0) };
        let plan = Plan::new(&lucid, source("0"), &[], 8).unwrap();
        let expected = serde_json::json!({
            "accentuate": 0, "diversity": 0, "jitter": 8, "lr": 0.05, "minimise": false, "mode": "lucid",
            "model": "alexnet", "objective": "channel", "preRelu": false, "seed": 0, "size": 128, "steps": 512,
        });
        assert_eq!(plan.settings, expected);
    }

    #[test]
    fn plans_refuse_what_makes_no_atlas() {
        let unknown = Plan::new(&settings(0), source("0"), &["fc6".into()], 8).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown layer 'fc6' for the atlas (AlexNet has conv1, conv2, conv3, conv4, conv5)"
        );
        assert_eq!(
            Plan::new(&settings(0), source("0"), &[], 65).unwrap_err().to_string(),
            "the batch must hold 1 to 64 filters, not 65"
        );
        let accentuated = RunRequest { accentuate: 5, ..settings(0) };
        assert!(Plan::new(&accentuated, source("0"), &[], 8).is_err());
    }
}
