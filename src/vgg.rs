//! VGG16's convolutional stack (torchvision's `features`), evaluated up to a chosen layer.

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, activation::relu};

use crate::Error;

/// Which activation of a layer is read: after its ReLU (the classic choice), or before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    PreRelu,
    PostRelu,
}

/// One conv layer of VGG16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerSpec {
    /// Caffe-style name, `conv1_1` … `conv5_3`.
    pub name: &'static str,
    /// Index in torchvision's `features` (names the tensors `features.{index}.weight|bias`).
    pub index: usize,
    pub in_channels: usize,
    pub channels: usize,
    /// A 2×2 max-pool halves the resolution before this layer (the first conv of blocks 2 to 5).
    pub pooled_before: bool,
}

const fn spec(name: &'static str, index: usize, in_channels: usize, channels: usize, pooled_before: bool) -> LayerSpec {
    LayerSpec { name, index, in_channels, channels, pooled_before }
}

pub const LAYERS: [LayerSpec; 13] = [
    spec("conv1_1", 0, 3, 64, false),
    spec("conv1_2", 2, 64, 64, false),
    spec("conv2_1", 5, 64, 128, true),
    spec("conv2_2", 7, 128, 128, false),
    spec("conv3_1", 10, 128, 256, true),
    spec("conv3_2", 12, 256, 256, false),
    spec("conv3_3", 14, 256, 256, false),
    spec("conv4_1", 17, 256, 512, true),
    spec("conv4_2", 19, 512, 512, false),
    spec("conv4_3", 21, 512, 512, false),
    spec("conv5_1", 24, 512, 512, true),
    spec("conv5_2", 26, 512, 512, false),
    spec("conv5_3", 28, 512, 512, false),
];

/// The position of a layer in [`LAYERS`], by name.
pub fn layer_index(name: &str) -> Result<usize, Error> {
    LAYERS.iter().position(|l| l.name == name).ok_or_else(|| Error::UnknownLayer(name.to_string()))
}

/// ImageNet statistics torchvision's VGG16 was trained with; inputs are RGB in [0, 1].
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

#[derive(Clone)]
struct Conv {
    weight: Tensor<4>,
    bias: Tensor<1>,
}

/// VGG16's conv layers with their weights on one device: all 13, or the first ones while the page downloads the
/// rest. Weights are constants: gradients flow to the input image only. Cloning shares the weights.
#[derive(Clone)]
pub struct Vgg16 {
    convs: Vec<Conv>,
    mean: Tensor<4>,
    std: Tensor<4>,
}

impl Vgg16 {
    /// Builds the model from `(weight [out, in, 3, 3], bias [out])` per layer, in [`LAYERS`] order, from the
    /// first: all 13 or fewer.
    pub(crate) fn from_tensors(convs: Vec<(Tensor<4>, Tensor<1>)>, device: &Device) -> Self {
        let mut model = Self {
            convs: Vec::with_capacity(LAYERS.len()),
            mean: Tensor::<1>::from_floats(MEAN, device).reshape([1, 3, 1, 1]),
            std: Tensor::<1>::from_floats(STD, device).reshape([1, 3, 1, 1]),
        };
        convs.into_iter().for_each(|conv| model.push_layer(conv));
        model
    }

    /// Adds the next layer's `(weight, bias)`.
    pub(crate) fn push_layer(&mut self, (weight, bias): (Tensor<4>, Tensor<1>)) {
        assert!(self.convs.len() < LAYERS.len(), "VGG16 has {} conv layers", LAYERS.len());
        self.convs.push(Conv { weight, bias });
    }

    /// How many layers, from the first, have their weights: the model evaluates layers `0..depth()`.
    pub fn depth(&self) -> usize {
        self.convs.len()
    }

    pub fn device(&self) -> Device {
        self.mean.device()
    }

    /// Activations of `LAYERS[layer]` (below [`Vgg16::depth`]) for images `[batch, 3, H, W]` in [0, 1]. Stops
    /// there: deeper layers are never computed.
    pub fn forward(&self, image: Tensor<4>, layer: usize, activation: Activation) -> Tensor<4> {
        assert!(layer < self.depth(), "{} has no weights yet", LAYERS[layer].name);
        let mut x = (image - self.mean.clone()) / self.std.clone();
        for (i, (spec, conv)) in LAYERS.iter().zip(&self.convs).enumerate().take(layer + 1) {
            if spec.pooled_before {
                x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
            }
            x = conv2d(x, conv.weight.clone(), Some(conv.bias.clone()), ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
            if i < layer || activation == Activation::PostRelu {
                x = relu(x);
            }
        }
        x
    }
}
