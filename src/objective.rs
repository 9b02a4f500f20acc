//! What the ascent maximises: the mean activation of one channel ("filter") of a layer, per image.

use burn::tensor::{Device, Tensor, activation::relu};

use crate::Error;
use crate::vgg::{LAYERS, layer_index};

/// Which activation the objective reads: after the layer's ReLU (the seed's choice), or before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    PreRelu,
    PostRelu,
}

/// Channel objectives for a batch of images: image `i` maximises the mean of channel `filters[i]` of `layer`.
/// A single visualization is a batch of one; a grid is a batch of several filters of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    layer: usize,
    filters: Vec<usize>,
}

impl Objective {
    /// The seed's objective for several filters of one layer, checked against the layer's channel count.
    pub fn channels(layer: &str, filters: &[usize]) -> Result<Self, Error> {
        let layer = layer_index(layer)?;
        let spec = LAYERS[layer];
        if filters.is_empty() {
            return Err(Error::NoFilters);
        }
        if let Some(&filter) = filters.iter().find(|&&f| f >= spec.channels) {
            return Err(Error::FilterOutOfRange { layer: spec.name, filter, channels: spec.channels });
        }
        Ok(Self { layer, filters: filters.to_vec() })
    }

    pub fn layer(&self) -> usize {
        self.layer
    }

    pub fn filters(&self) -> &[usize] {
        &self.filters
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
        let picked = match (&selection.post_relu, &selection.pre_relu) {
            (Some(post), Some(pre)) => relu(pre_relu.clone()) * post.clone() + pre_relu * pre.clone(),
            (Some(post), None) => relu(pre_relu) * post.clone(),
            (None, Some(pre)) => pre_relu * pre.clone(),
            (None, None) => unreachable!("every image reads one activation"),
        };
        let batch = self.filters.len();
        picked.sum_dim(1).mean_dims(&[2, 3]).reshape([batch])
    }
}

/// Per-image channel weights for [`Objective::evaluate`]; rebuilt only when an image changes activation.
pub(crate) struct Selection {
    post_relu: Option<Tensor<4>>,
    pre_relu: Option<Tensor<4>>,
}
