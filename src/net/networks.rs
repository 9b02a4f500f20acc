//! The networks filterlens shows, each built as a [`Graph`] from its architecture's own description: torchvision's
//! VGG16 and AlexNet `features`, and EfficientNet-Lite0 as the TensorFlow reference (and its PyTorch port,
//! `efficientnet-lite-pytorch`) defines it; and the networks opened from ONNX files ([`crate::net::onnx`]).

use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::classes;
use super::graph::{
    BatchNorm, Colour, Conv, Function, Graph, Layer, Linear, Node, Op, Padding, Pool, Preprocessing, TORCHVISION,
};
use crate::Error;

/// The networks filterlens shows, by the name the request, the link and the CLI use. The built-in ones: `make
/// weights` names their files after it: `weights/{name}.safetensors` (f32, the CLI's) and
/// `weights/{name}-f16.safetensors` (the page's). An opened one: [`Network::open`].
#[derive(Debug, Clone, Copy, Default)]
pub enum Network {
    #[default]
    Vgg16,
    Alexnet,
    EfficientnetLite0,
    /// A network read from an ONNX file.
    Opened(&'static Opened),
}

/// A network read from an ONNX file: its graph and what a front end shows of it.
#[derive(Debug)]
pub struct Opened {
    /// `onnx:` and the file's name: the request's `model`.
    pub name: String,
    /// The file's name, as people know the model.
    pub title: String,
    pub graph: Graph,
    pub default_layer: String,
    /// Its logits' layer, where its last layer is a linear one onto ImageNet's 1000 classes.
    pub classifier: Option<String>,
}

/// The networks opened so far, by name (one per name: the last opened).
static OPENED: Mutex<Vec<&'static Opened>> = Mutex::new(Vec::new());

crate::names::from_name!(Network, "model", Network::ALL);

/// By name: a network opened again under its name (the same file, another preprocessing) replaces the one before.
impl PartialEq for Network {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Network {}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        let builtin = Network::ALL.into_iter().find(|n| n.name() == name);
        let opened = || OPENED.lock().expect("no panic holds the lock").iter().find(|o| o.name == name).copied();
        builtin.or_else(|| opened().map(Network::Opened)).ok_or_else(|| {
            let names: Vec<&str> = Network::ALL.iter().map(|n| n.name()).collect();
            serde::de::Error::custom(format!(
                "unknown model '{name}' (expected {}, or a model opened from an ONNX file)",
                names.join(", ")
            ))
        })
    }
}

impl Network {
    /// The built-in networks.
    pub const ALL: [Network; 3] = [Network::Vgg16, Network::Alexnet, Network::EfficientnetLite0];

    /// Makes `opened` a network requests can name, in place of one opened before under its name. Its graph stays
    /// for the process's life (a few kilobytes: its weights live with the backends), which keeps a `Network` a
    /// plain copyable handle.
    pub fn open(opened: Opened) -> Network {
        let opened: &'static Opened = Box::leak(Box::new(opened));
        let mut all = OPENED.lock().expect("no panic holds the lock");
        all.retain(|o| o.name != opened.name);
        all.push(opened);
        Network::Opened(opened)
    }

    /// The name requests, links and the CLI use.
    pub fn name(self) -> &'static str {
        match self {
            Network::Vgg16 => "vgg16",
            Network::Alexnet => "alexnet",
            Network::EfficientnetLite0 => "efficientnet-lite0",
            Network::Opened(opened) => &opened.name,
        }
    }

    pub fn graph(self) -> &'static Graph {
        // In `ALL`'s order.
        static BUILT_IN: LazyLock<[Graph; 3]> = LazyLock::new(|| [vgg16(), alexnet(), efficientnet_lite0()]);
        match self {
            Network::Opened(opened) => &opened.graph,
            builtin => &BUILT_IN[Network::ALL.iter().position(|&n| n == builtin).expect("every built-in is in ALL")],
        }
    }

    /// The layers a visualization can read, in depth order.
    pub fn layers(self) -> &'static [Layer] {
        self.graph().layers()
    }

    /// How people write the network's name.
    pub fn title(self) -> &'static str {
        match self {
            Network::Vgg16 => "VGG16",
            Network::Alexnet => "AlexNet",
            Network::EfficientnetLite0 => "EfficientNet-Lite0",
            Network::Opened(opened) => &opened.title,
        }
    }

    /// The layer a front end shows first: one whose filters show textures, neither edges nor object parts.
    pub fn default_layer(self) -> &'static str {
        match self {
            Network::Vgg16 => "conv3_2",
            Network::Alexnet => "conv3",
            Network::EfficientnetLite0 => "block6",
            Network::Opened(opened) => &opened.default_layer,
        }
    }

    /// The network's classifier: the layer of its class logits, and the classes' names. VGG16's and AlexNet's
    /// weights here are their conv layers only (LPIPS's), without the classifier.
    pub fn classifier(self) -> Option<(&'static str, &'static [String])> {
        match self {
            Network::Vgg16 | Network::Alexnet => None,
            Network::EfficientnetLite0 => Some(("logits", classes::imagenet())),
            Network::Opened(opened) => opened.classifier.as_deref().map(|layer| (layer, classes::imagenet())),
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
        self.graph().smallest_input()
    }

    /// See [`Graph::macs_per_pixel`].
    pub fn macs_per_pixel(self) -> Vec<f64> {
        self.graph().macs_per_pixel()
    }

    pub fn preprocessing(self) -> Preprocessing {
        self.graph().preprocessing()
    }
}

/// Nodes and layers as a network's description adds them.
struct Builder {
    nodes: Vec<Node>,
    layers: Vec<(String, usize, Option<Function>)>,
}

impl Builder {
    fn new() -> Self {
        Self { nodes: vec![Node { name: "input".into(), op: Op::Input, inputs: Vec::new() }], layers: Vec::new() }
    }

    /// Adds a node reading `inputs`; its index.
    fn node(&mut self, name: impl Into<String>, op: Op, inputs: &[usize]) -> usize {
        self.nodes.push(Node { name: name.into(), op, inputs: inputs.to_vec() });
        self.nodes.len() - 1
    }

    /// Adds a layer: node `node`'s output, read after `activation`.
    fn layer(&mut self, name: impl Into<String>, node: usize, activation: Option<Function>) {
        self.layers.push((name.into(), node, activation));
    }

    /// Adds `function` after `node`; its index.
    fn activate(&mut self, node: usize, function: Function) -> usize {
        let name = format!("{}.activation", self.nodes[node].name);
        self.node(name, Op::Activation(function), &[node])
    }

    fn build(self, preprocessing: Preprocessing) -> Graph {
        Graph::new(self.nodes, self.layers, preprocessing).expect("the network's description is a valid graph")
    }
}

/// A convolution with a bias, square kernel, stride and padding, as torchvision's `features.{index}`.
fn torchvision_conv(
    index: usize,
    in_channels: usize,
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Op {
    Op::Conv(Conv {
        in_channels,
        channels,
        kernel: [kernel; 2],
        stride: [stride; 2],
        padding: Padding::symmetric(padding),
        dilation: [1, 1],
        groups: 1,
        weight: format!("features.{index}.weight"),
        bias: Some(format!("features.{index}.bias")),
        batch_norm: None,
    })
}

/// A plain stack as torchvision's `features`: `(name, index, in, out, kernel, stride, padding, pool before)`, each
/// conv followed by a ReLU, a max-pool before some. Each conv is a layer, read after its ReLU.
type PlainLayer = (&'static str, usize, usize, usize, usize, usize, usize, Option<Pool>);

fn plain_stack(table: &[PlainLayer]) -> Graph {
    let mut b = Builder::new();
    let mut x = 0;
    for (i, &(name, index, in_channels, channels, kernel, stride, padding, pool)) in table.iter().enumerate() {
        if let Some(pool) = pool {
            x = b.node(format!("pool{i}"), Op::MaxPool(pool), &[x]);
        }
        let conv = b.node(name, torchvision_conv(index, in_channels, channels, kernel, stride, padding), &[x]);
        b.layer(name, conv, Some(Function::Relu));
        x = b.activate(conv, Function::Relu);
    }
    b.build(TORCHVISION)
}

/// torchvision's `vgg16().features`: 13 3×3 convs, a 2×2 max-pool before the first conv of blocks 2 to 5.
fn vgg16() -> Graph {
    const POOL: Option<Pool> = Some(Pool { kernel: 2, stride: 2, padding: 0 });
    let conv3 = |name, index, in_channels, channels, pool| (name, index, in_channels, channels, 3, 1, 1, pool);
    plain_stack(&[
        conv3("conv1_1", 0, 3, 64, None),
        conv3("conv1_2", 2, 64, 64, None),
        conv3("conv2_1", 5, 64, 128, POOL),
        conv3("conv2_2", 7, 128, 128, None),
        conv3("conv3_1", 10, 128, 256, POOL),
        conv3("conv3_2", 12, 256, 256, None),
        conv3("conv3_3", 14, 256, 256, None),
        conv3("conv4_1", 17, 256, 512, POOL),
        conv3("conv4_2", 19, 512, 512, None),
        conv3("conv4_3", 21, 512, 512, None),
        conv3("conv5_1", 24, 512, 512, POOL),
        conv3("conv5_2", 26, 512, 512, None),
        conv3("conv5_3", 28, 512, 512, None),
    ])
}

/// torchvision's `alexnet().features`: an 11×11 conv with stride 4, a 5×5, three 3×3, with overlapping 3×3 max-pools.
fn alexnet() -> Graph {
    const POOL: Option<Pool> = Some(Pool { kernel: 3, stride: 2, padding: 0 });
    plain_stack(&[
        ("conv1", 0, 3, 64, 11, 4, 2, None),
        ("conv2", 3, 64, 192, 5, 1, 2, POOL),
        ("conv3", 6, 192, 384, 3, 1, 1, POOL),
        ("conv4", 8, 384, 256, 3, 1, 1, None),
        ("conv5", 10, 256, 256, 3, 1, 1, None),
    ])
}

/// TensorFlow's preprocessing for EfficientNet-Lite: `(x − 127) / 128` on 0…255, i.e. mean 127/255 and std 128/255
/// on [0, 1] (chosen by evidence over torchvision's statistics: docs/QUALITY.md).
const TENSORFLOW_LITE: Preprocessing =
    Preprocessing { mean: [127.0 / 255.0; 3], std: [128.0 / 255.0; 3], colour: Colour::Rgb };

/// EfficientNet-Lite0 (Tan & Le 2019; the Lite variants: ReLU6, no squeeze-excitation, stem and head not scaled):
/// a 3×3 stem with stride 2, 16 inverted-residual blocks (a 1×1 expansion, a depthwise k×k, a 1×1 projection; a
/// skip where stride 1 and channels match), a 1×1 head to 1280 channels, a global average pool and the classifier.
/// Convolutions pad as TensorFlow's "same"; every one has a batch normalisation (ε 1e-3) and no bias. Tensor names
/// as in `efficientnet-lite-pytorch`'s state dict.
fn efficientnet_lite0() -> Graph {
    // (repeats, kernel, stride, expansion, input channels, output channels) per stage.
    const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
        (1, 3, 1, 1, 32, 16),
        (2, 3, 2, 6, 16, 24),
        (2, 5, 2, 6, 24, 40),
        (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112),
        (4, 5, 2, 6, 112, 192),
        (1, 3, 1, 6, 192, 320),
    ];
    let conv = |prefix: &str, bn: &str, in_channels, channels, kernel, stride, groups| {
        Op::Conv(Conv {
            in_channels,
            channels,
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: Padding::Same,
            dilation: [1, 1],
            groups,
            weight: format!("{prefix}.weight"),
            bias: None,
            batch_norm: Some(BatchNorm {
                weight: format!("{bn}.weight"),
                bias: format!("{bn}.bias"),
                mean: format!("{bn}.running_mean"),
                variance: format!("{bn}.running_var"),
                epsilon: 1e-3,
            }),
        })
    };
    let mut b = Builder::new();
    let stem = b.node("stem", conv("_conv_stem", "_bn0", 3, 32, 3, 2, 1), &[0]);
    b.layer("stem", stem, Some(Function::Relu6));
    let mut x = b.activate(stem, Function::Relu6);
    let mut n = 0;
    for (repeats, kernel, stride, expansion, input, output) in STAGES {
        for repeat in 0..repeats {
            let (in_channels, stride) = if repeat == 0 { (input, stride) } else { (output, 1) };
            let (block, p) = (format!("block{n}"), format!("_blocks.{n}"));
            let mid = in_channels * expansion;
            let mut y = x;
            if expansion != 1 {
                let expand = b.node(
                    format!("{block}_expand"),
                    conv(&format!("{p}._expand_conv"), &format!("{p}._bn0"), in_channels, mid, 1, 1, 1),
                    &[y],
                );
                b.layer(format!("{block}_expand"), expand, Some(Function::Relu6));
                y = b.activate(expand, Function::Relu6);
            }
            let depthwise = b.node(
                format!("{block}_depthwise"),
                conv(&format!("{p}._depthwise_conv"), &format!("{p}._bn1"), mid, mid, kernel, stride, mid),
                &[y],
            );
            b.layer(format!("{block}_depthwise"), depthwise, Some(Function::Relu6));
            y = b.activate(depthwise, Function::Relu6);
            let project = b.node(
                format!("{block}_project"),
                conv(&format!("{p}._project_conv"), &format!("{p}._bn2"), mid, output, 1, 1, 1),
                &[y],
            );
            x = if stride == 1 && in_channels == output {
                b.layer(format!("{block}_project"), project, None);
                b.node(block.clone(), Op::Add, &[project, x])
            } else {
                project
            };
            b.layer(block, x, None);
            n += 1;
        }
    }
    let head = b.node("head", conv("_conv_head", "_bn1", 320, 1280, 1, 1, 1), &[x]);
    b.layer("head", head, Some(Function::Relu6));
    let head = b.activate(head, Function::Relu6);
    let pool = b.node("pool", Op::GlobalAvgPool, &[head]);
    let linear =
        Linear { in_features: 1280, out_features: 1000, weight: "_fc.weight".into(), bias: Some("_fc.bias".into()) };
    let logits = b.node("logits", Op::Linear(linear), &[pool]);
    b.layer("logits", logits, None);
    let probabilities = b.node("probabilities", Op::Softmax, &[logits]);
    b.layer("probabilities", probabilities, None);
    b.build(TENSORFLOW_LITE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiply-adds per input pixel, written out by hand: VGG16's conv1_2 (64 → 64, 3×3, full size), conv2_1
    /// after the first pool (64 → 128 on a quarter of the pixels), conv5_3 after four (512 → 512, 1/256); AlexNet's
    /// conv1 (3 → 64, 11×11, 55×55 outputs of a 224 image) and conv2 after its pool (64 → 192, 5×5, 27×27).
    #[test]
    fn macs_per_pixel_follow_strides_and_pools() {
        let vgg = Network::Vgg16.macs_per_pixel();
        assert_eq!(
            [vgg[1], vgg[2], vgg[12]],
            [64.0 * 64.0 * 9.0, 64.0 * 128.0 * 9.0 / 4.0, 512.0 * 512.0 * 9.0 / 256.0]
        );
        let alexnet = Network::Alexnet.macs_per_pixel();
        let per_pixel = |macs: f64| macs / (224.0 * 224.0);
        assert_eq!(
            [alexnet[0], alexnet[1]],
            [per_pixel(3.0 * 64.0 * 121.0 * 55.0 * 55.0), per_pixel(64.0 * 192.0 * 25.0 * 27.0 * 27.0)]
        );
        // EfficientNet-Lite0's stem (3 → 32, 3×3, 112×112), and block0's depthwise 3×3 on 32 channels (9 per output).
        let efficientnet = Network::EfficientnetLite0.macs_per_pixel();
        assert_eq!([efficientnet[0], efficientnet[1]], [3.0 * 32.0 * 9.0 / 4.0, 32.0 * 9.0 / 4.0]);
    }

    #[test]
    fn smallest_inputs_follow_the_graphs() {
        assert_eq!(Network::Vgg16.smallest_input(), 16);
        // conv1: (31 + 4 − 11) / 4 + 1 = 7; pool: (7 − 3) / 2 + 1 = 3; conv2: 3; pool: 1. At 30 conv1 gives 6, the
        // first pool 2, and the second pool has no 3×3 window.
        assert_eq!(Network::Alexnet.smallest_input(), 31);
        // "same" padding never runs out of pixels: every side reaches the classifier.
        assert_eq!(Network::EfficientnetLite0.smallest_input(), 1);
        let deepest = |network: Network| network.layers().last().unwrap().node;
        assert_eq!(Network::Alexnet.graph().sides(224, deepest(Network::Alexnet)).unwrap().last(), Some(&13));
        assert_eq!(Network::Vgg16.graph().sides(224, deepest(Network::Vgg16)).unwrap().last(), Some(&14));
    }

    /// EfficientNet-Lite0 as its paper's table 1 (the Lite variant of B0) has it: 16 blocks, 9 with a skip; as many
    /// values as its PyTorch port's state dict holds (4,694,024, batch-norm statistics included).
    #[test]
    fn efficientnet_lite0_is_the_papers() {
        let network = Network::EfficientnetLite0;
        let layers = network.layers();
        let blocks = layers.iter().filter(|l| l.name.starts_with("block") && !l.name.contains('_')).count();
        let skips = network.graph().nodes().iter().filter(|n| matches!(n.op, Op::Add)).count();
        assert_eq!((blocks, skips), (16, 9));
        let parameters: usize = network
            .graph()
            .params()
            .iter()
            .flat_map(|p| &p.tensors)
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum();
        assert_eq!(parameters, 4_694_024);
        let by_name = |name: &str| &layers[network.layer_index(name).unwrap()];
        assert_eq!(by_name("block15").channels, 320);
        assert_eq!(by_name("head").channels, 1280);
        assert_eq!(by_name("logits").channels, 1000);
        let side = |name: &str| network.graph().sides(224, by_name(name).node).unwrap().last().copied();
        assert_eq!(
            [side("stem"), side("block1"), side("block3"), side("block15")],
            [Some(112), Some(56), Some(28), Some(7)]
        );
    }

    #[test]
    fn layers_need_the_weights_before_them() {
        for network in Network::ALL {
            let layers = network.layers();
            assert!(layers.windows(2).all(|w| w[0].params <= w[1].params && w[0].node < w[1].node), "{network}");
            assert_eq!(layers.last().unwrap().params, network.graph().params().len(), "{network}");
        }
        let vgg: Vec<usize> = Network::Vgg16.layers().iter().map(|l| l.params).collect();
        assert_eq!(vgg, (1..=13).collect::<Vec<_>>());
    }
}
