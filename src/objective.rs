//! What the ascent maximises, per image of a batch: a channel's mean activation (classic), the activation of the
//! channel's centre neuron, or the whole layer's mean squared activation (DeepDream).

use burn::tensor::{Device, Tensor, activation::relu};

use crate::Error;
use crate::vgg::{Activation, LAYERS, layer_index};

/// Which part of a layer's activations an objective reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Mean over the feature map of one channel (classic).
    #[default]
    Channel,
    /// The one activation at the centre of a channel's feature map.
    Neuron,
    /// Mean of the squares of every activation of the layer (DeepDream); the filter is ignored.
    #[serde(alias = "deepdream")]
    Layer,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Channel, Target::Neuron, Target::Layer];
}

/// Objectives for a batch of images: image `i` maximises (or minimises) `target` of channel `filters[i]` of
/// `layer`. A single visualization is a batch of one; a grid is a batch of several filters of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    layer: usize,
    filters: Vec<usize>,
    target: Target,
    activation: Activation,
    minimise: bool,
    /// The weight of Lucid's diversity term (0: none): the batch's images are pushed apart.
    diversity: f32,
}

impl Objective {
    /// The classic objective (channel mean after ReLU) for several filters of one layer, checked against the
    /// layer's channel count.
    pub fn channels(layer: &str, filters: &[usize]) -> Result<Self, Error> {
        Self::new(layer, filters, Target::Channel, Activation::PostRelu)
    }

    pub fn new(layer: &str, filters: &[usize], target: Target, activation: Activation) -> Result<Self, Error> {
        let layer = layer_index(layer)?;
        let spec = LAYERS[layer];
        if filters.is_empty() {
            return Err(Error::NoFilters);
        }
        if let Some(&filter) = filters.iter().find(|&&f| f >= spec.channels) {
            return Err(Error::FilterOutOfRange { layer: spec.name, filter, channels: spec.channels });
        }
        Ok(Self { layer, filters: filters.to_vec(), target, activation, minimise: false, diversity: 0.0 })
    }

    /// The same objective, minimised: the ascent climbs its negative (negative visualization).
    pub fn minimised(self) -> Self {
        Self { minimise: true, ..self }
    }

    /// The same objective with Lucid's diversity term: `weight` × [`similarity`] of the batch is subtracted, so its
    /// images (several of one filter, say) are pushed towards different patterns.
    pub fn with_diversity(self, weight: f32) -> Self {
        Self { diversity: weight, ..self }
    }

    /// The diversity term's weight (0: none).
    pub fn diversity(&self) -> f32 {
        self.diversity
    }

    /// Whether the ascent lowers the objective instead of raising it.
    pub fn minimises(&self) -> bool {
        self.minimise
    }

    pub fn layer(&self) -> usize {
        self.layer
    }

    pub fn filters(&self) -> &[usize] {
        &self.filters
    }

    /// What each image shows, for a grid's captions: `layer:filter`, or the layer alone for a whole-layer objective.
    pub fn captions(&self) -> Vec<String> {
        let layer = LAYERS[self.layer].name;
        match self.target {
            Target::Layer => vec![layer.to_string(); self.filters.len()],
            Target::Channel | Target::Neuron => self.filters.iter().map(|f| format!("{layer}:{f}")).collect(),
        }
    }

    /// The activation each image starts with (a dead filter may switch to pre-ReLU).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// One-hot channel weights `[batch, channels, 1, 1]`, split by which activation each image reads, so that
    /// [`Self::evaluate`] is two multiplies and a reduction, whatever the batch.
    pub(crate) fn selection(&self, activations: &[Activation], device: &Device) -> Selection {
        let channels = LAYERS[self.layer].channels;
        let weights_for = |wanted: Activation| {
            if !activations.contains(&wanted) {
                return None;
            }
            let mut w = vec![0.0f32; self.filters.len() * channels];
            for (i, (&filter, &activation)) in self.filters.iter().zip(activations).enumerate() {
                if activation == wanted {
                    w[i * channels + filter] = 1.0;
                }
            }
            let w = Tensor::<1>::from_floats(w.as_slice(), device);
            Some(w.reshape([self.filters.len(), channels, 1, 1]))
        };
        Selection { post_relu: weights_for(Activation::PostRelu), pre_relu: weights_for(Activation::PreRelu) }
    }

    /// Objective value per image, `[batch]`, from the layer's pre-ReLU features `[batch, channels, H, W]`.
    pub(crate) fn evaluate(&self, pre_relu: Tensor<4>, selection: &Selection) -> Tensor<1> {
        let batch = self.filters.len();
        if self.target == Target::Layer {
            let activations = match selection.post_relu {
                Some(_) => relu(pre_relu),
                None => pre_relu,
            };
            return activations.square().mean_dims(&[1, 2, 3]).reshape([batch]);
        }
        let picked = match (&selection.post_relu, &selection.pre_relu) {
            (Some(post), Some(pre)) => relu(pre_relu.clone()) * post.clone() + pre_relu * pre.clone(),
            (Some(post), None) => relu(pre_relu) * post.clone(),
            (None, Some(pre)) => pre_relu * pre.clone(),
            (None, None) => unreachable!("every image reads one activation"),
        };
        let map = picked.sum_dim(1);
        let map = match self.target {
            Target::Neuron => {
                let [_, _, h, w] = map.dims();
                map.narrow(2, h / 2, 1).narrow(3, w / 2, 1)
            }
            _ => map,
        };
        map.mean_dims(&[2, 3]).reshape([batch])
    }
}

/// Lucid's diversity measure of a batch, from the objective layer's pre-ReLU features `[batch, channels, H, W]`:
/// each image's Gram matrix of its post-ReLU features (channel × channel), normalised to unit length; the cosine
/// similarity of every pair of images, summed over each image's others, averaged over the images. 0 when the
/// images share no pattern statistics, batch − 1 when they all share the same; 0 for a batch of one. `[1]`.
pub fn similarity(pre_relu: Tensor<4>) -> Tensor<1> {
    let [batch, channels, h, w] = pre_relu.dims();
    let features = relu(pre_relu).reshape([batch, channels, h * w]);
    let grams = features.clone().matmul(features.swap_dims(1, 2)).reshape([batch, channels * channels]);
    let norms = grams.clone().square().sum_dim(1).sqrt().clamp_min(1e-10);
    let unit = grams / norms;
    let cosines = unit.clone().matmul(unit.transpose());
    // Each image's cosine with itself is 1: the batch's `batch` of them are not pairs.
    (cosines.sum() - batch as f32) / batch as f32
}

/// Per-image channel weights for [`Objective::evaluate`]; rebuilt only when an image changes activation.
pub(crate) struct Selection {
    post_relu: Option<Tensor<4>>,
    pre_relu: Option<Tensor<4>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// The batch's similarity, computed here from its definition in plain f64: Gram matrices of the post-ReLU
    /// features, each divided by its length, cosines summed over every ordered pair of different images, over the
    /// batch size.
    fn plain_similarity(values: &[f32], [b, c, n]: [usize; 3]) -> f64 {
        let grams: Vec<Vec<f64>> = (0..b)
            .map(|i| {
                let f = |ch: usize, p: usize| values[(i * c + ch) * n + p].max(0.0) as f64;
                let g: Vec<f64> = (0..c * c).map(|k| (0..n).map(|p| f(k / c, p) * f(k % c, p)).sum()).collect();
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                g.iter().map(|v| v / norm).collect()
            })
            .collect();
        let mut total = 0.0;
        for i in 0..b {
            for j in (0..b).filter(|&j| j != i) {
                total += grams[i].iter().zip(&grams[j]).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        total / b as f64
    }

    fn similarity_of(values: &[f32], shape: [usize; 4]) -> f32 {
        let device = Device::flex();
        let features = Tensor::<4>::from_data(TensorData::new(values.to_vec(), shape), &device);
        similarity(features).into_data().try_into_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn similarity_is_lucids_diversity_measure() {
        let shape = [3, 4, 5, 5];
        let values: Vec<f32> = (0..3 * 4 * 25).map(|i| (i as f32 * 0.71).sin() * 1.7 + 0.3).collect();
        let expected = plain_similarity(&values, [3, 4, 25]);
        assert!((similarity_of(&values, shape) as f64 - expected).abs() < 1e-5, "{expected}");
        // Alike images: every pair has cosine 1, so each image sums batch − 1; a batch of one has no pairs.
        let alike: Vec<f32> = values[..100].repeat(3);
        assert!((similarity_of(&alike, shape) - 2.0).abs() < 1e-5);
        assert!(similarity_of(&values[..100], [1, 4, 5, 5]).abs() < 1e-6);
    }
}
