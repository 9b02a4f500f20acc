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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    layer: usize,
    filters: Vec<usize>,
    target: Target,
    activation: Activation,
    minimise: bool,
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
        Ok(Self { layer, filters: filters.to_vec(), target, activation, minimise: false })
    }

    /// The same objective, minimised: the ascent climbs its negative (negative visualization).
    pub fn minimised(self) -> Self {
        Self { minimise: true, ..self }
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

/// Per-image channel weights for [`Objective::evaluate`]; rebuilt only when an image changes activation.
pub(crate) struct Selection {
    post_relu: Option<Tensor<4>>,
    pre_relu: Option<Tensor<4>>,
}
