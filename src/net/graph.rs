//! A network as a small graph: nodes in topological order, each reading earlier nodes' outputs, and the named layers
//! a visualization can read. Convolutions (strided, padded as given or as TensorFlow's "same", dilated, grouped and
//! depthwise, with a batch normalisation folded in at load), activation functions, pools, residual additions,
//! concatenations and a classifier: enough for the ImageNet CNNs of 2012–2020 (VGG, AlexNet, MobileNet/EfficientNet
//! style inverted residuals, ResNet's additions, Inception's concatenations).
//!
//! A graph is data: its nodes say what to compute, the [`crate::net::Model`] computes it with the weights, and a
//! forward pass stops at the deepest node a request reads.

use burn::tensor::Tensor;
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use serde::Serialize;

/// An elementwise activation function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Function {
    Relu,
    /// min(max(x, 0), 6): MobileNet's, kept for 8-bit inference.
    Relu6,
    Sigmoid,
    /// x · sigmoid(x) (also called SiLU).
    Swish,
    /// x, or `alpha` · x below zero.
    LeakyRelu {
        alpha: f32,
    },
    /// min(max(`alpha` · x + `beta`, 0), 1): a piecewise linear sigmoid.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// x · min(max(x / 6 + 1/2, 0), 1): MobileNetV3's swish.
    HardSwish,
    /// x held within [`min`, `max`] (either may be infinite): ONNX's `Clip` other than ReLU and ReLU6.
    Clip {
        min: f32,
        max: f32,
    },
}

impl Function {
    pub fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Function::Relu => relu(x),
            Function::Relu6 => x.clamp(0.0, 6.0),
            Function::Sigmoid => sigmoid(x),
            Function::Swish => x.clone() * sigmoid(x),
            Function::LeakyRelu { alpha } => leaky_relu(x, alpha as f64),
            Function::HardSigmoid { alpha, beta } => (x * alpha + beta).clamp(0.0, 1.0),
            Function::HardSwish => x.clone() * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Function::Clip { min, max } => {
                let x = if min.is_finite() { x.clamp_min(min) } else { x };
                if max.is_finite() { x.clamp_max(max) } else { x }
            }
        }
    }
}

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Zeros added before and after each axis: `[top, left, bottom, right]`.
    Explicit([usize; 4]),
    /// TensorFlow's "SAME": an output of ⌈side / stride⌉, the padding that takes split with the extra zero after
    /// (asymmetric for an even side and stride 2). Depends on the input's side, so computed per forward pass.
    Same,
}

impl Padding {
    pub const fn symmetric(padding: usize) -> Self {
        Padding::Explicit([padding; 4])
    }

    /// `[top, left, bottom, right]` for an input `side` × `side`.
    pub fn sides(self, side: usize, kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2]) -> [usize; 4] {
        match self {
            Padding::Explicit(sides) => sides,
            Padding::Same => {
                let total = |axis: usize| {
                    let out = side.div_ceil(stride[axis]);
                    ((out - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1).saturating_sub(side)
                };
                let (h, w) = (total(0), total(1));
                [h / 2, w / 2, h - h / 2, w - w / 2]
            }
        }
    }
}

/// A batch normalisation's tensors (by name in the weights file) and epsilon. Folded into its convolution when the
/// weights load: `scale = weight / √(variance + ε)`, the kernel times `scale`, the bias `(bias − mean)·scale + shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    pub weight: String,
    pub bias: String,
    pub mean: String,
    pub variance: String,
    pub epsilon: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub in_channels: usize,
    pub channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: Padding,
    pub dilation: [usize; 2],
    /// Input and output channels split into this many groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
    /// The kernel's tensor, `[channels, in_channels / groups, kh, kw]`.
    pub weight: String,
    /// The bias's tensor, `[channels]`, if it has one.
    pub bias: Option<String>,
    pub batch_norm: Option<BatchNorm>,
}

impl Conv {
    /// The output's height and width for an input `side` × `side`, if the kernel fits.
    pub(crate) fn output_dims(&self, side: usize) -> Option<[usize; 2]> {
        let [top, left, bottom, right] = self.padding.sides(side, self.kernel, self.stride, self.dilation);
        let axis = |a: usize, padded: usize| {
            let reach = (self.kernel[a] - 1) * self.dilation[a] + 1;
            Some(padded.checked_sub(reach)? / self.stride[a] + 1)
        };
        Some([axis(0, side + top + bottom)?, axis(1, side + left + right)?])
    }

    /// The output side for an input `side`, if the kernel fits and the output is square.
    fn output_side(&self, side: usize) -> Option<usize> {
        let [h, w] = self.output_dims(side)?;
        (h == w).then_some(h)
    }
}

/// A max or average pool's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pool {
    pub kernel: usize,
    pub stride: usize,
    /// Added on every side (−∞ for a max pool; an average pool counts it as zeros).
    pub padding: usize,
}

impl Pool {
    pub(crate) fn output_side(&self, side: usize) -> Option<usize> {
        Some((side + 2 * self.padding).checked_sub(self.kernel)? / self.stride + 1)
    }
}

/// A fully connected layer on the flattened input (a classifier after a global pool).
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    /// `[out_features, in_features]`.
    pub weight: String,
    pub bias: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The network's input: the image, normalised by the network's preprocessing.
    Input,
    Conv(Conv),
    Activation(Function),
    MaxPool(Pool),
    AvgPool(Pool),
    /// The mean of each channel: `[batch, channels, 1, 1]`.
    GlobalAvgPool,
    /// Averages over windows that split the map into `side` × `side` (PyTorch's adaptive pool): the size a
    /// flattening classifier was trained on, from any input size.
    AdaptiveAvgPool(usize),
    /// The sum of its inputs (a residual connection).
    Add,
    /// The product of its two inputs, the second of the first's size or one pixel per channel (a squeeze-and-
    /// excitation block's gate).
    Mul,
    /// Its inputs' channels, one after the other.
    Concat,
    Linear(Linear),
    /// Softmax across channels (a classifier's probabilities).
    Softmax,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    /// The nodes it reads, all earlier in the graph.
    pub inputs: Vec<usize>,
}

/// A named place in the graph a visualization can read: a node's output (before the layer's activation function),
/// and that function, which objectives apply unless asked to read before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    pub name: String,
    /// The node whose output the layer is.
    #[serde(skip)]
    pub node: usize,
    pub channels: usize,
    /// Applied after the node's output for a read "after the activation" (none: both reads are the same).
    pub activation: Option<Function>,
    /// How many of the graph's weighted nodes ([`Graph::params`]), from the first, the layer needs: its weights are
    /// that prefix of the weights file.
    pub params: usize,
}

impl Layer {
    /// The layer's output, after its activation function, from its node's output.
    pub fn activate(&self, pre: Tensor<4>) -> Tensor<4> {
        match self.activation {
            Some(function) => function.apply(pre),
            None => pre,
        }
    }
}

/// What a weighted node needs from the weights file: its tensors' names and shapes, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// The node's index in the graph.
    pub node: usize,
    pub name: String,
    pub tensors: Vec<(String, Vec<usize>)>,
}

/// What the network's input channels are, made from the RGB picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Rgb,
    /// Caffe's order: blue, green, red.
    Bgr,
    /// One channel: the picture's luma (ITU-R BT.601 weights, as PIL's and OpenCV's grey).
    Luminance,
}

impl Colour {
    pub fn channels(self) -> usize {
        match self {
            Colour::Rgb | Colour::Bgr => 3,
            Colour::Luminance => 1,
        }
    }
}

/// The network's inputs are RGB in [0, 1], made into its `colour` channels then normalised as `(x − mean) / std`
/// per channel (in the network's channel order; a single channel uses the first of each) before the first node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preprocessing {
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub colour: Colour,
}

/// ImageNet statistics torchvision's networks were trained with.
pub const TORCHVISION: Preprocessing =
    Preprocessing { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], colour: Colour::Rgb };

/// Why a graph cannot be built: each case names the node.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("node '{node}' reads node {input}, which is not before it")]
    NotBefore { node: String, input: usize },
    #[error("node '{node}' takes {expected} input(s), it has {found}")]
    Inputs { node: String, expected: String, found: usize },
    #[error("node '{node}' expects {expected} channels, its input has {found}")]
    Channels { node: String, expected: usize, found: usize },
    #[error("node '{node}': {reason}")]
    Invalid { node: String, reason: String },
    #[error("the graph's first node must be its input, and only the first")]
    Input,
    #[error("layer '{layer}' names node {node}, which the graph does not have")]
    NoNode { layer: String, node: usize },
    #[error("two layers are named '{0}'")]
    DuplicateLayer(String),
    #[error("the graph has no layer to read")]
    NoLayers,
}

/// A network's graph: its nodes, the layers a visualization can read (in depth order), and its preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    nodes: Vec<Node>,
    /// Each node's output channels.
    channels: Vec<usize>,
    layers: Vec<Layer>,
    params: Vec<Params>,
    preprocessing: Preprocessing,
}

impl Graph {
    /// Checks the nodes (inputs before them, channels that chain) and derives each layer's channels and weights.
    /// `layers` are `(name, node, activation)`, in the order a front end lists them.
    pub fn new(
        nodes: Vec<Node>,
        layers: Vec<(String, usize, Option<Function>)>,
        preprocessing: Preprocessing,
    ) -> Result<Self, GraphError> {
        let channels = infer_channels(&nodes, preprocessing.colour.channels())?;
        let params: Vec<Params> = nodes
            .iter()
            .enumerate()
            .filter_map(|(node, n)| {
                let tensors = node_tensors(&n.op);
                (!tensors.is_empty()).then(|| Params { node, name: n.name.clone(), tensors })
            })
            .collect();
        if layers.is_empty() {
            return Err(GraphError::NoLayers);
        }
        let mut seen = std::collections::HashSet::new();
        let layers = layers
            .into_iter()
            .map(|(name, node, activation)| {
                if node >= nodes.len() {
                    return Err(GraphError::NoNode { layer: name, node });
                }
                if !seen.insert(name.clone()) {
                    return Err(GraphError::DuplicateLayer(name));
                }
                let needed = params.iter().filter(|p| p.node <= node).count();
                Ok(Layer { name, node, channels: channels[node], activation, params: needed })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nodes, channels, layers, params, preprocessing })
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The weighted nodes, in the order the weights file holds their tensors.
    pub fn params(&self) -> &[Params] {
        &self.params
    }

    pub fn preprocessing(&self) -> Preprocessing {
        self.preprocessing
    }

    /// Each node's output side for an input `side`, up to and including node `last`; `None` where some node's
    /// window does not fit or its inputs' sides differ.
    pub fn sides(&self, side: usize, last: usize) -> Option<Vec<usize>> {
        let mut sides: Vec<usize> = Vec::with_capacity(last + 1);
        for node in &self.nodes[..=last] {
            let input = |k: usize| sides[node.inputs[k]];
            let out = match &node.op {
                Op::Input => side,
                Op::Conv(conv) => conv.output_side(input(0))?,
                Op::MaxPool(pool) | Op::AvgPool(pool) => pool.output_side(input(0))?,
                Op::GlobalAvgPool => 1,
                Op::AdaptiveAvgPool(out) => *out,
                Op::Linear(linear) => {
                    let input_node = node.inputs[0];
                    (self.channels[input_node] * input(0) * input(0) == linear.in_features).then_some(1)?
                }
                Op::Activation(_) | Op::Softmax => input(0),
                Op::Add | Op::Concat => {
                    let first = input(0);
                    (0..node.inputs.len()).all(|k| input(k) == first).then_some(first)?
                }
                Op::Mul => (input(1) == input(0) || input(1) == 1).then_some(input(0))?,
            };
            if out == 0 {
                return None;
            }
            sides.push(out);
        }
        Some(sides)
    }

    /// The smallest image side whose every layer's map has at least one pixel.
    pub fn smallest_input(&self) -> usize {
        let deepest = self.layers.iter().map(|l| l.node).max().expect("a graph has layers");
        (1..4096).find(|&side| self.sides(side, deepest).is_some()).expect("some side up to 4096 reaches every layer")
    }

    /// Each layer's multiply-adds per pixel of a 224-pixel input, for the nodes it adds to the layer before it (a
    /// forward pass of an `s`-pixel image up to a layer costs about s² times the sum up to it): what a front end
    /// scales its time estimates by.
    pub fn macs_per_pixel(&self) -> Vec<f64> {
        const SIDE: usize = 224;
        let last = self.nodes.len() - 1;
        let sides = self.sides(SIDE, last).unwrap_or_else(|| vec![1; self.nodes.len()]);
        let macs = |node: &Node, out: usize| -> f64 {
            match &node.op {
                Op::Conv(c) => {
                    let per_output = c.in_channels / c.groups * c.channels * c.kernel[0] * c.kernel[1];
                    (per_output * out * out) as f64
                }
                Op::Linear(l) => (l.in_features * l.out_features) as f64,
                _ => 0.0,
            }
        };
        let mut done = 0;
        self.layers
            .iter()
            .map(|layer| {
                let upto = layer.node + 1;
                let sum: f64 = (done.min(upto)..upto).map(|n| macs(&self.nodes[n], sides[n])).sum();
                done = done.max(upto);
                sum / (SIDE * SIDE) as f64
            })
            .collect()
    }
}

/// The tensors a node's weights are: names and shapes.
fn node_tensors(op: &Op) -> Vec<(String, Vec<usize>)> {
    match op {
        Op::Conv(c) => {
            let mut tensors =
                vec![(c.weight.clone(), vec![c.channels, c.in_channels / c.groups, c.kernel[0], c.kernel[1]])];
            tensors.extend(c.bias.iter().map(|b| (b.clone(), vec![c.channels])));
            if let Some(bn) = &c.batch_norm {
                for name in [&bn.weight, &bn.bias, &bn.mean, &bn.variance] {
                    tensors.push((name.clone(), vec![c.channels]));
                }
            }
            tensors
        }
        Op::Linear(l) => {
            let mut tensors = vec![(l.weight.clone(), vec![l.out_features, l.in_features])];
            tensors.extend(l.bias.iter().map(|b| (b.clone(), vec![l.out_features])));
            tensors
        }
        _ => Vec::new(),
    }
}

/// Each node's output channels (the input's: `input_channels`), checking that inputs come before and channels chain.
fn infer_channels(nodes: &[Node], input_channels: usize) -> Result<Vec<usize>, GraphError> {
    let mut channels: Vec<usize> = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        let name = || node.name.clone();
        if let Some(&input) = node.inputs.iter().find(|&&i| i >= index) {
            return Err(GraphError::NotBefore { node: name(), input });
        }
        if (index == 0) != matches!(node.op, Op::Input) {
            return Err(GraphError::Input);
        }
        let count = |expected: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(GraphError::Inputs { node: name(), expected: expected.into(), found: node.inputs.len() })
            }
        };
        let inputs: Vec<usize> = node.inputs.iter().map(|&i| channels[i]).collect();
        let expect = |expected: usize, found: usize| {
            if expected == found { Ok(()) } else { Err(GraphError::Channels { node: name(), expected, found }) }
        };
        let invalid = |reason: String| Err(GraphError::Invalid { node: name(), reason });
        let out = match &node.op {
            Op::Input => {
                count("no", inputs.is_empty())?;
                input_channels
            }
            Op::Conv(c) => {
                count("1", inputs.len() == 1)?;
                expect(c.in_channels, inputs[0])?;
                if c.groups == 0 || c.in_channels % c.groups != 0 || c.channels % c.groups != 0 {
                    return invalid(format!(
                        "{} groups do not divide {} → {} channels",
                        c.groups, c.in_channels, c.channels
                    ));
                }
                if c.kernel.contains(&0) || c.stride.contains(&0) || c.dilation.contains(&0) {
                    return invalid("a zero kernel side, stride or dilation".into());
                }
                c.channels
            }
            Op::MaxPool(p) | Op::AvgPool(p) => {
                count("1", inputs.len() == 1)?;
                if p.kernel == 0 || p.stride == 0 || p.padding > p.kernel / 2 {
                    return invalid(format!(
                        "pool {}×{} stride {} padding {}",
                        p.kernel, p.kernel, p.stride, p.padding
                    ));
                }
                inputs[0]
            }
            Op::Activation(_) | Op::GlobalAvgPool | Op::AdaptiveAvgPool(_) | Op::Softmax => {
                count("1", inputs.len() == 1)?;
                inputs[0]
            }
            Op::Add => {
                count("2 or more", inputs.len() >= 2)?;
                inputs.iter().try_for_each(|&c| expect(inputs[0], c))?;
                inputs[0]
            }
            Op::Concat => {
                count("2 or more", inputs.len() >= 2)?;
                inputs.iter().sum()
            }
            Op::Mul => {
                count("2", inputs.len() == 2)?;
                expect(inputs[0], inputs[1])?;
                inputs[0]
            }
            Op::Linear(l) => {
                count("1", inputs.len() == 1)?;
                if l.in_features % inputs[0] != 0 {
                    return invalid(format!("{} input features from {} channels", l.in_features, inputs[0]));
                }
                l.out_features
            }
        };
        channels.push(out);
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(in_channels: usize, channels: usize, groups: usize) -> Op {
        Op::Conv(Conv {
            in_channels,
            channels,
            kernel: [3, 3],
            stride: [1, 1],
            padding: Padding::symmetric(1),
            dilation: [1, 1],
            groups,
            weight: "w".into(),
            bias: None,
            batch_norm: None,
        })
    }

    fn node(name: &str, op: Op, inputs: &[usize]) -> Node {
        Node { name: name.into(), op, inputs: inputs.to_vec() }
    }

    fn input() -> Node {
        node("input", Op::Input, &[])
    }

    fn graph(nodes: Vec<Node>) -> Result<Graph, GraphError> {
        Graph::new(nodes, vec![("x".into(), 1, None)], TORCHVISION)
    }

    /// TensorFlow's "same": ⌈side / stride⌉ outputs, the padding split with the extra zero after (TensorFlow's
    /// `get_pad` in conv_utils): a 3×3 stride 2 on 224 pads (0, 1), on 7 (1, 1); a 5×5 stride 2 on 28 (1, 2).
    #[test]
    fn same_padding_is_tensorflows() {
        let same = |side, kernel| Padding::Same.sides(side, [kernel; 2], [2, 2], [1, 1]);
        assert_eq!(same(224, 3), [0, 0, 1, 1]);
        assert_eq!(same(7, 3), [1, 1, 1, 1]);
        assert_eq!(same(28, 5), [1, 1, 2, 2]);
        assert_eq!(Padding::Same.sides(10, [3, 3], [1, 1], [2, 2]), [2, 2, 2, 2], "dilation 2 reaches 5 pixels");
    }

    /// A graph that cannot be evaluated is refused with the node that is wrong.
    #[test]
    fn bad_graphs_name_the_node() {
        let refused = |nodes| graph(nodes).unwrap_err().to_string();
        assert_eq!(
            refused(vec![input(), node("a", conv(3, 8, 1), &[2]), node("b", Op::Activation(Function::Relu), &[1])]),
            "node 'a' reads node 2, which is not before it"
        );
        assert_eq!(
            refused(vec![input(), node("a", conv(4, 8, 1), &[0])]),
            "node 'a' expects 4 channels, its input has 3"
        );
        assert_eq!(
            refused(vec![input(), node("a", conv(3, 8, 2), &[0])]),
            "node 'a': 2 groups do not divide 3 → 8 channels"
        );
        let add = vec![input(), node("a", conv(3, 8, 1), &[0]), node("sum", Op::Add, &[1, 0])];
        assert_eq!(refused(add), "node 'sum' expects 8 channels, its input has 3");
        assert_eq!(refused(vec![input(), node("a", Op::Add, &[0])]), "node 'a' takes 2 or more input(s), it has 1");
        assert_eq!(
            refused(vec![node("a", conv(3, 8, 1), &[])]),
            "the graph's first node must be its input, and only the first"
        );
        let twice = Graph::new(
            vec![input(), node("a", conv(3, 8, 1), &[0])],
            vec![("x".into(), 1, None), ("x".into(), 1, None)],
            TORCHVISION,
        );
        assert_eq!(twice.unwrap_err(), GraphError::DuplicateLayer("x".into()));
    }

    /// Channels and sides through a concatenation, a depthwise convolution and pools; a residual of two sides
    /// that differ has no output.
    #[test]
    fn channels_and_sides_follow_the_nodes() {
        let pool = Pool { kernel: 2, stride: 2, padding: 0 };
        let g = Graph::new(
            vec![
                input(),
                node("a", conv(3, 8, 1), &[0]),
                node("b", conv(3, 4, 1), &[0]),
                node("cat", Op::Concat, &[1, 2]),
                node("dw", conv(12, 12, 12), &[3]),
                node("max", Op::MaxPool(pool), &[4]),
                node("avg", Op::AvgPool(pool), &[4]),
                node("sum", Op::Add, &[5, 6]),
                node("mixed", Op::Add, &[4, 5]),
            ],
            vec![("cat".into(), 3, None), ("sum".into(), 7, Some(Function::Swish))],
            TORCHVISION,
        )
        .unwrap();
        assert_eq!(g.layers().iter().map(|l| l.channels).collect::<Vec<_>>(), [12, 12]);
        assert_eq!(g.sides(16, 7).unwrap(), [16, 16, 16, 16, 16, 8, 8, 8]);
        assert_eq!(g.sides(16, 8), None, "16 + 8 pixels do not add");
        // Weighted nodes: a, b and the depthwise one (its kernel [12, 1, 3, 3]).
        assert_eq!(g.params().iter().map(|p| p.node).collect::<Vec<_>>(), [1, 2, 4]);
        assert_eq!(g.params()[2].tensors, [("w".to_string(), vec![12, 1, 3, 3])]);
    }
}
