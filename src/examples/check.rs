//! A check of a visualization against a picture set, in the spirit of Geirhos et al.'s "Don't trust your eyes"
//! (2023): a visualization can drive its filter far harder than any natural picture while resembling none of what
//! drives it in practice. Two numbers: how hard the visualization drives the filter compared with the set's best
//! picture (a ratio), and how alike the visualization's activation pattern across the layer's other channels is to
//! the set's top pictures' patterns (the mean of their cosine similarities): whether it makes the filter's usual
//! companions fire, as the pictures that drive the filter do. A check, not a proof: a high ratio is
//! expected (the ascent optimises exactly that), and a low cosine says the visualization reaches the filter by
//! another route than the pictures do, or that the set has nothing like it.

use super::index::{ExampleIndex, channel_means};
use crate::Error;
use crate::net::Model;

/// What the check found for one filter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Check {
    /// The visualization's mean activation of the filter, and the set's best picture's.
    pub value: f32,
    pub best: f32,
    /// `value / best`; none where the best picture does not make the filter fire (best ≤ 0).
    pub ratio: Option<f32>,
    /// The mean cosine similarity between the visualization's channel means across the layer's other channels and
    /// each top picture's; none where a pattern is all zeros.
    pub cosine: Option<f32>,
    /// How many top pictures the cosine compares with.
    pub compared: usize,
}

impl Check {
    /// The check in a line, as the page and the CLI say it: "drives this filter 14× harder than your best picture;
    /// its pattern across conv4_3's other filters resembles your top pictures' at 0.62".
    pub fn sentence(&self, layer: &str) -> String {
        let drive = match self.ratio {
            None => "your pictures do not make this filter fire".to_string(),
            Some(r) if r >= 1.0 => format!("drives this filter {} harder than your best picture", times(r)),
            Some(r) => format!("drives this filter only {} as hard as your best picture", times(r)),
        };
        match self.cosine {
            Some(c) => {
                format!("{drive}; its pattern across {layer}'s other filters resembles your top pictures' at {c:.2}")
            }
            None => format!("{drive}; it leaves {layer}'s other filters silent"),
        }
    }
}

/// A ratio as the sentence says it: `14×`, `2.5×`, `0.31×`.
fn times(r: f32) -> String {
    match r {
        r if r >= 10.0 => format!("{r:.0}×"),
        r if r >= 1.0 => format!("{r:.1}×"),
        r => format!("{r:.2}×"),
    }
}

/// Checks the visualization `planar` (`[3][size][size]` in [0, 1], seen at its own size) of channel `channel` of
/// `layer` against the pictures of `index`, which must hold that layer and at least one picture.
pub async fn check(
    index: &ExampleIndex,
    model: &Model,
    layer: usize,
    channel: usize,
    planar: Vec<f32>,
    size: usize,
) -> Result<Check, Error> {
    let examples = index
        .examples(layer, channel)
        .ok_or(Error::NotIndexed { layer: model.network().layers()[layer].name.as_str() })?;
    let best = examples.top.first().ok_or(Error::NoPictures)?.value;
    let pattern = channel_means(model, planar, size, layer).await?;
    let value = pattern[channel];
    // The patterns across the layer's other filters: the filter itself, driven far harder by the visualization,
    // would otherwise make the cosine its share of each picture's pattern.
    let others = |means: &[f32]| -> Vec<f32> {
        means.iter().enumerate().filter(|&(c, _)| c != channel).map(|(_, &m)| m).collect()
    };
    let visualized = others(&pattern);
    let cosines: Vec<f32> = examples
        .top
        .iter()
        .filter_map(|e| cosine(&visualized, &others(index.means(layer, e.picture).expect("a kept picture is indexed"))))
        .collect();
    Ok(Check {
        value,
        best,
        ratio: (best > 0.0).then(|| value / best),
        cosine: (!cosines.is_empty()).then(|| cosines.iter().sum::<f32>() / cosines.len() as f32),
        compared: cosines.len(),
    })
}

/// The cosine of the angle between `a` and `b`; none if either is all zeros.
fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    (na > 0.0 && nb > 0.0).then(|| (dot / (na * nb)) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_reads_as_a_sentence() {
        let check = Check { value: 14.2, best: 1.0, ratio: Some(14.2), cosine: Some(0.623), compared: 9 };
        assert_eq!(
            check.sentence("conv4_3"),
            "drives this filter 14× harder than your best picture; its pattern across conv4_3's other filters resembles your top pictures' at 0.62"
        );
        let weak = Check { ratio: Some(0.314), cosine: None, ..check };
        assert_eq!(
            weak.sentence("conv1"),
            "drives this filter only 0.31× as hard as your best picture; it leaves conv1's other filters silent"
        );
    }

    #[test]
    fn cosine_is_the_angle_between_patterns() {
        assert_eq!(cosine(&[1.0, 0.0], &[2.0, 0.0]), Some(1.0));
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), Some(0.0));
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]).unwrap() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), None);
    }
}
