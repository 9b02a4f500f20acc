//! A model: one network's graph with its weights on a device, evaluated up to the layers a request reads.

use burn::tensor::activation::softmax;
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::convolution::conv2d;
use super::graph::{Colour, Conv, Op};
use super::networks::Network;

/// Which output of a layer is read: after its activation function (ReLU, ReLU6, …; the classic choice), or before.
/// A layer without one reads the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Before,
    After,
}

/// A weighted node's tensors on the device, a batch normalisation already folded in.
#[derive(Clone)]
pub(crate) enum Weights {
    Conv { weight: Tensor<4>, bias: Option<Tensor<1>> },
    Linear { weight: Tensor<2>, bias: Option<Tensor<1>> },
}

/// A network's graph with the weights of its first weighted nodes on one device: all of them, or the first ones
/// while the page downloads the rest. Weights are constants: gradients flow to the input image only. Cloning shares
/// the weights.
#[derive(Clone)]
pub struct Model {
    network: Network,
    weights: Vec<Weights>,
    /// The preprocessing's channels: `[1, channels, 1, 1]`.
    mean: Tensor<4>,
    std: Tensor<4>,
    colour: Colour,
}

impl Model {
    /// A model with no weights yet: [`Model::push`] adds them, in the graph's order.
    pub(crate) fn new(network: Network, device: &Device) -> Self {
        let preprocessing = network.preprocessing();
        let channels = preprocessing.colour.channels();
        let per_channel = |values: [f32; 3]| {
            Tensor::<1>::from_floats(TensorData::new(values[..channels].to_vec(), [channels]), device)
                .reshape([1, channels, 1, 1])
        };
        Self {
            network,
            weights: Vec::with_capacity(network.graph().params().len()),
            mean: per_channel(preprocessing.mean),
            std: per_channel(preprocessing.std),
            colour: preprocessing.colour,
        }
    }

    /// Adds the next weighted node's weights.
    pub(crate) fn push(&mut self, weights: Weights) {
        let all = self.network.graph().params().len();
        assert!(self.weights.len() < all, "{} has {all} weighted nodes", self.network.title());
        self.weights.push(weights);
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// How many of the network's layers, from the first, have their weights: the model evaluates layers
    /// `0..depth()`.
    pub fn depth(&self) -> usize {
        self.network.layers().iter().take_while(|l| l.params <= self.weights.len()).count()
    }

    /// How many weighted nodes, from the first, have their weights.
    pub(crate) fn weighted(&self) -> usize {
        self.weights.len()
    }

    pub fn device(&self) -> Device {
        self.mean.device()
    }

    /// The outputs of each of `layers` (indices of [`Network::layers`], below [`Model::depth`]), before their
    /// activation function, for images `[batch, 3, H, W]` in [0, 1]: one forward pass that stops at the deepest of
    /// them; deeper nodes are never computed. A classifier's outputs are `[batch, classes, 1, 1]`. With `only`, the
    /// deepest layer's output holds those of its channels alone, in that order, and a convolution or classifier
    /// there computes nothing else: a filter's objective reads one channel of the 64 to 512 its layer makes.
    pub fn pre_activations(&self, image: Tensor<4>, layers: &[usize], only: Option<&Tensor<1, Int>>) -> Vec<Tensor<4>> {
        let graph = self.network.graph();
        let nodes: Vec<usize> = layers.iter().map(|&l| graph.layers()[l].node).collect();
        let deepest = *nodes.iter().max().expect("a layer to read");
        let needed = graph.params().iter().filter(|p| p.node <= deepest).count();
        assert!(needed <= self.weights.len(), "the weights up to node {deepest} have not arrived");
        let mut values: Vec<Tensor<4>> = Vec::with_capacity(deepest + 1);
        let mut weights = self.weights.iter();
        for (index, node) in graph.nodes()[..=deepest].iter().enumerate() {
            let input = |k: usize| values[node.inputs[k]].clone();
            let narrowed = only.filter(|_| index == deepest);
            if let Some(value) = narrowed.and_then(|channels| narrowed_node(&node.op, &mut weights, input(0), channels))
            {
                values.push(value);
                continue;
            }
            let value = match &node.op {
                Op::Input => (self.colour_channels(image.clone()) - self.mean.clone()) / self.std.clone(),
                Op::Conv(conv) => match weights.next() {
                    Some(Weights::Conv { weight, bias }) => convolve(conv, input(0), weight.clone(), bias.clone()),
                    _ => unreachable!("the graph's weights are in its order"),
                },
                Op::Activation(function) => function.apply(input(0)),
                Op::MaxPool(p) => max_pool2d(
                    input(0),
                    MaxPoolOptions::new([p.kernel; 2]).with_stride([p.stride; 2]).with_padding([p.padding; 2]),
                ),
                Op::AvgPool(p) => avg_pool2d(
                    input(0),
                    AvgPoolOptions::new([p.kernel; 2])
                        .with_stride([p.stride; 2])
                        .with_padding([p.padding; 2])
                        .with_count_include_pad(true),
                ),
                Op::GlobalAvgPool => input(0).mean_dims(&[2, 3]),
                Op::AdaptiveAvgPool(side) => adaptive_avg_pool2d(input(0), [*side; 2]),
                Op::Add => (1..node.inputs.len()).fold(input(0), |sum, k| sum + input(k)),
                Op::Mul => input(0) * input(1),
                Op::Concat => Tensor::cat((0..node.inputs.len()).map(input).collect(), 1),
                Op::Linear(_) => match weights.next() {
                    Some(Weights::Linear { weight, bias }) => linear(input(0), weight.clone(), bias.clone()),
                    _ => unreachable!("the graph's weights are in its order"),
                },
                Op::Softmax => softmax(input(0), 1),
            };
            values.push(match narrowed {
                Some(channels) => value.select(1, channels.clone()),
                None => value,
            });
        }
        nodes.iter().map(|&n| values[n].clone()).collect()
    }

    /// The network's input channels from RGB images `[batch, 3, H, W]`.
    fn colour_channels(&self, rgb: Tensor<4>) -> Tensor<4> {
        match self.colour {
            Colour::Rgb => rgb,
            Colour::Bgr => rgb.flip([1]),
            Colour::Luminance => {
                let weights = Tensor::<1>::from_floats([0.299, 0.587, 0.114], &rgb.device()).reshape([1, 3, 1, 1]);
                (rgb * weights).sum_dim(1)
            }
        }
    }

    /// The output of layer `layer` (below [`Model::depth`]) for images `[batch, 3, H, W]` in [0, 1], read after or
    /// before its activation function.
    pub fn forward(&self, image: Tensor<4>, layer: usize, activation: Activation) -> Tensor<4> {
        let [features] = self.pre_activations(image, &[layer], None).try_into().expect("one layer asked for");
        match activation {
            Activation::Before => features,
            Activation::After => self.network.layers()[layer].activate(features),
        }
    }
}

/// A convolution's or a classifier's output for `channels` alone, from its own weights' rows for them (the next of
/// `weights`); none for a node of another kind, or a grouped convolution, whose output the caller narrows instead.
fn narrowed_node<'a>(
    op: &Op,
    weights: &mut impl Iterator<Item = &'a Weights>,
    x: Tensor<4>,
    channels: &Tensor<1, Int>,
) -> Option<Tensor<4>> {
    let rows = |bias: &Option<Tensor<1>>| bias.clone().map(|b| b.select(0, channels.clone()));
    match op {
        Op::Conv(conv) => {
            let depthwise = conv.groups == conv.in_channels && conv.groups == conv.channels;
            if conv.groups != 1 && !depthwise {
                return None;
            }
            let Some(Weights::Conv { weight, bias }) = weights.next() else {
                unreachable!("the graph's weights are in its order")
            };
            let weight = weight.clone().select(0, channels.clone());
            if depthwise {
                // Each output channel reads its own input channel alone: those, one group each.
                let conv = Conv { groups: channels.dims()[0], ..conv.clone() };
                Some(convolve(&conv, x.select(1, channels.clone()), weight, rows(bias)))
            } else {
                Some(convolve(conv, x, weight, rows(bias)))
            }
        }
        Op::Linear(_) => {
            let Some(Weights::Linear { weight, bias }) = weights.next() else {
                unreachable!("the graph's weights are in its order")
            };
            Some(linear(x, weight.clone().select(0, channels.clone()), rows(bias)))
        }
        _ => None,
    }
}

/// A classifier's `weight` `[classes, features]` and `bias` on `x` flattened: `[batch, classes, 1, 1]`.
fn linear(x: Tensor<4>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let batch = x.dims()[0];
    let flat: Tensor<2> = x.reshape([batch as i64, -1]);
    let mut out = flat.matmul(weight.transpose());
    if let Some(bias) = bias {
        out = out + bias.unsqueeze_dim(0);
    }
    let [batch, features] = out.dims();
    out.reshape([batch, features, 1, 1])
}

/// `conv` on `x`, padded as the graph says (TensorFlow's "same" is asymmetric for an even side and stride 2).
fn convolve(conv: &Conv, x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [top, left, bottom, right] = conv.padding.sides(x.dims()[2], conv.kernel, conv.stride, conv.dilation);
    let padding = [(top, bottom), (left, right)];
    conv2d(x, weight, bias, ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups))
}
