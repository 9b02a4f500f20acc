//! The networks whose filters can be shown, each a table of its conv layers (torchvision's `features`), and a
//! model: one network's conv stack with its weights on a device, evaluated up to a chosen layer.
//!
//! A network is data, not code: its layers' kernels, strides, padding and the max-pools before them. A third
//! network with a plain conv–ReLU–pool stack is one more table here and a weights conversion in
//! `weights/prepare.py`; one with branches (GoogLeNet's inception blocks) would need the forward pass to follow a
//! graph instead of a list.

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, activation::relu};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Which activation of a layer is read: after its ReLU (the classic choice), or before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    PreRelu,
    PostRelu,
}

/// A max-pool before a conv layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pool {
    pub kernel: usize,
    pub stride: usize,
}

/// One conv layer (and the pool before it, if any), as torchvision defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerSpec {
    /// The layer's usual name: Caffe-style `conv1_1` … `conv5_3` for VGG16, `conv1` … `conv5` for AlexNet.
    pub name: &'static str,
    /// Index in torchvision's `features` (names the tensors `features.{index}.weight|bias`).
    pub index: usize,
    pub in_channels: usize,
    pub channels: usize,
    /// Side of the square kernel.
    pub kernel: usize,
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
    /// The max-pool applied to the previous layer's (post-ReLU) output before this layer.
    pub pool_before: Option<Pool>,
}

impl LayerSpec {
    /// The side of this layer's output for an input side of `side` (the previous layer's output, or the image),
    /// or `None` where the pool or the kernel would not fit.
    fn output_side(&self, side: usize) -> Option<usize> {
        let side = match self.pool_before {
            Some(pool) => side.checked_sub(pool.kernel)? / pool.stride + 1,
            None => side,
        };
        Some((side + 2 * self.padding).checked_sub(self.kernel)? / self.stride + 1)
    }
}

const fn conv3(name: &'static str, index: usize, in_channels: usize, channels: usize, pooled: bool) -> LayerSpec {
    let pool_before = if pooled { Some(Pool { kernel: 2, stride: 2 }) } else { None };
    LayerSpec { name, index, in_channels, channels, kernel: 3, stride: 1, padding: 1, pool_before }
}

/// torchvision's `vgg16().features`: 13 3×3 convs, a 2×2 max-pool before the first conv of blocks 2 to 5.
pub const VGG16: [LayerSpec; 13] = [
    conv3("conv1_1", 0, 3, 64, false),
    conv3("conv1_2", 2, 64, 64, false),
    conv3("conv2_1", 5, 64, 128, true),
    conv3("conv2_2", 7, 128, 128, false),
    conv3("conv3_1", 10, 128, 256, true),
    conv3("conv3_2", 12, 256, 256, false),
    conv3("conv3_3", 14, 256, 256, false),
    conv3("conv4_1", 17, 256, 512, true),
    conv3("conv4_2", 19, 512, 512, false),
    conv3("conv4_3", 21, 512, 512, false),
    conv3("conv5_1", 24, 512, 512, true),
    conv3("conv5_2", 26, 512, 512, false),
    conv3("conv5_3", 28, 512, 512, false),
];

/// 3×3 overlapping max-pools, AlexNet's.
const OVERLAPPING: Option<Pool> = Some(Pool { kernel: 3, stride: 2 });

/// torchvision's `alexnet().features`: an 11×11 conv with stride 4, a 5×5, three 3×3, with overlapping pools.
pub const ALEXNET: [LayerSpec; 5] = [
    LayerSpec {
        name: "conv1",
        index: 0,
        in_channels: 3,
        channels: 64,
        kernel: 11,
        stride: 4,
        padding: 2,
        pool_before: None,
    },
    LayerSpec {
        name: "conv2",
        index: 3,
        in_channels: 64,
        channels: 192,
        kernel: 5,
        stride: 1,
        padding: 2,
        pool_before: OVERLAPPING,
    },
    LayerSpec {
        name: "conv3",
        index: 6,
        in_channels: 192,
        channels: 384,
        kernel: 3,
        stride: 1,
        padding: 1,
        pool_before: OVERLAPPING,
    },
    LayerSpec {
        name: "conv4",
        index: 8,
        in_channels: 384,
        channels: 256,
        kernel: 3,
        stride: 1,
        padding: 1,
        pool_before: None,
    },
    LayerSpec {
        name: "conv5",
        index: 10,
        in_channels: 256,
        channels: 256,
        kernel: 3,
        stride: 1,
        padding: 1,
        pool_before: None,
    },
];

/// The networks filterlens shows, by the name the request, the link and the CLI use; `make weights` names their
/// files after it: `weights/{name}.safetensors` (f32, the CLI's) and `weights/{name}-f16.safetensors` (the page's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[default]
    Vgg16,
    Alexnet,
}

impl Network {
    pub const ALL: [Network; 2] = [Network::Vgg16, Network::Alexnet];

    pub fn layers(self) -> &'static [LayerSpec] {
        match self {
            Network::Vgg16 => &VGG16,
            Network::Alexnet => &ALEXNET,
        }
    }

    /// How people write the network's name.
    pub fn title(self) -> &'static str {
        match self {
            Network::Vgg16 => "VGG16",
            Network::Alexnet => "AlexNet",
        }
    }

    /// The layer a front end shows first: one whose filters show textures, neither edges nor object parts.
    pub fn default_layer(self) -> &'static str {
        match self {
            Network::Vgg16 => "conv3_2",
            Network::Alexnet => "conv3",
        }
    }

    /// The position of a layer in [`Network::layers`], by name.
    pub fn layer_index(self, name: &str) -> Result<usize, Error> {
        self.layers()
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| Error::UnknownLayer { network: self, layer: name.to_string() })
    }

    /// The smallest image side that reaches the deepest layer with a feature map of at least one pixel (16 for
    /// VGG16's four halvings, 31 for AlexNet's stride and overlapping pools).
    pub fn smallest_input(self) -> usize {
        (1..).find(|&side| self.output_side(side).is_some()).expect("some side reaches the deepest layer")
    }

    /// The side of the deepest layer's feature map for an image side of `side`, if it reaches it.
    fn output_side(self, side: usize) -> Option<usize> {
        self.layers().iter().try_fold(side, |side, layer| layer.output_side(side).filter(|&s| s > 0))
    }

    /// Each layer's multiply-adds per pixel of the network's input (its strides and pools shrink the maps it works
    /// on): a forward pass of an `s`-pixel image up to a layer costs about s² times the sum up to it, what a front
    /// end scales its time estimates by.
    pub fn macs_per_pixel(self) -> Vec<f64> {
        let mut reduction = 1;
        self.layers()
            .iter()
            .map(|layer| {
                reduction *= layer.pool_before.map_or(1, |pool| pool.stride) * layer.stride;
                let per_output = layer.in_channels * layer.channels * layer.kernel * layer.kernel;
                per_output as f64 / (reduction * reduction) as f64
            })
            .collect()
    }
}

crate::names::from_name!(Network, "model", Network::ALL);

/// ImageNet statistics torchvision's networks were trained with; inputs are RGB in [0, 1].
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

#[derive(Clone)]
struct Conv {
    weight: Tensor<4>,
    bias: Tensor<1>,
}

/// A network's conv layers with their weights on one device: all of them, or the first ones while the page
/// downloads the rest. Weights are constants: gradients flow to the input image only. Cloning shares the weights.
#[derive(Clone)]
pub struct Model {
    network: Network,
    convs: Vec<Conv>,
    mean: Tensor<4>,
    std: Tensor<4>,
}

impl Model {
    /// Builds the model from `(weight [out, in, k, k], bias [out])` per layer, in the network's order, from the
    /// first: all of them or fewer.
    pub(crate) fn from_tensors(network: Network, convs: Vec<(Tensor<4>, Tensor<1>)>, device: &Device) -> Self {
        let mut model = Self {
            network,
            convs: Vec::with_capacity(network.layers().len()),
            mean: Tensor::<1>::from_floats(MEAN, device).reshape([1, 3, 1, 1]),
            std: Tensor::<1>::from_floats(STD, device).reshape([1, 3, 1, 1]),
        };
        convs.into_iter().for_each(|conv| model.push_layer(conv));
        model
    }

    /// Adds the next layer's `(weight, bias)`.
    pub(crate) fn push_layer(&mut self, (weight, bias): (Tensor<4>, Tensor<1>)) {
        let layers = self.network.layers().len();
        assert!(self.convs.len() < layers, "{} has {layers} conv layers", self.network.title());
        self.convs.push(Conv { weight, bias });
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// How many layers, from the first, have their weights: the model evaluates layers `0..depth()`.
    pub fn depth(&self) -> usize {
        self.convs.len()
    }

    pub fn device(&self) -> Device {
        self.mean.device()
    }

    /// Activations of the network's layer `layer` (below [`Model::depth`]) for images `[batch, 3, H, W]` in
    /// [0, 1]. Stops there: deeper layers are never computed.
    pub fn forward(&self, image: Tensor<4>, layer: usize, activation: Activation) -> Tensor<4> {
        let [features] = self.pre_relu(image, &[layer]).try_into().expect("one layer asked for");
        match activation {
            Activation::PreRelu => features,
            Activation::PostRelu => relu(features),
        }
    }

    /// The pre-ReLU activations of each of `layers` (ascending, below [`Model::depth`]), from one forward pass
    /// that stops at the last of them.
    pub fn pre_relu(&self, image: Tensor<4>, layers: &[usize]) -> Vec<Tensor<4>> {
        let specs = self.network.layers();
        let deepest = *layers.last().expect("a layer to read");
        assert!(layers.is_sorted(), "layers ascending");
        assert!(deepest < self.depth(), "{} has no weights yet", specs[deepest].name);
        let mut x = (image - self.mean.clone()) / self.std.clone();
        let mut out = Vec::with_capacity(layers.len());
        for (i, (spec, conv)) in specs.iter().zip(&self.convs).enumerate().take(deepest + 1) {
            if let Some(pool) = spec.pool_before {
                x = max_pool2d(x, MaxPoolOptions::new([pool.kernel; 2]).with_stride([pool.stride; 2]));
            }
            let options = ConvOptions::new([spec.stride; 2], [spec.padding; 2], [1, 1], 1);
            x = conv2d(x, conv.weight.clone(), Some(conv.bias.clone()), options);
            if layers.contains(&i) {
                out.push(x.clone());
            }
            if i < deepest {
                x = relu(x);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiply-adds per input pixel, written out by hand: VGG16's conv1_2 (64 → 64, 3×3, full size), conv2_1
    /// after the first pool (64 → 128 on a quarter of the pixels), conv5_3 after four (512 → 512, 1/256); AlexNet's
    /// conv1 (3 → 64, 11×11, stride 4) and conv2 after its pool (64 → 192, 5×5, 1/64).
    #[test]
    fn macs_per_pixel_follow_strides_and_pools() {
        let vgg = Network::Vgg16.macs_per_pixel();
        assert_eq!(
            [vgg[1], vgg[2], vgg[12]],
            [64.0 * 64.0 * 9.0, 64.0 * 128.0 * 9.0 / 4.0, 512.0 * 512.0 * 9.0 / 256.0]
        );
        let alexnet = Network::Alexnet.macs_per_pixel();
        assert_eq!([alexnet[0], alexnet[1]], [3.0 * 64.0 * 121.0 / 16.0, 64.0 * 192.0 * 25.0 / 64.0]);
    }

    #[test]
    fn smallest_inputs_follow_the_tables() {
        assert_eq!(Network::Vgg16.smallest_input(), 16);
        // conv1: (31 + 4 − 11) / 4 + 1 = 7; pool: (7 − 3) / 2 + 1 = 3; conv2: 3; pool: 1. At 30 conv1 gives 6, the
        // first pool 2, and the second pool has no 3×3 window.
        assert_eq!(Network::Alexnet.smallest_input(), 31);
        assert_eq!(Network::Alexnet.output_side(224), Some(13));
        assert_eq!(Network::Vgg16.output_side(224), Some(14));
    }

    #[test]
    fn each_table_chains_its_channels() {
        for network in Network::ALL {
            let layers = network.layers();
            assert_eq!(layers[0].in_channels, 3);
            for pair in layers.windows(2) {
                assert_eq!(pair[0].channels, pair[1].in_channels, "{} {}", network.title(), pair[1].name);
                assert!(pair[0].index < pair[1].index);
            }
        }
    }
}
