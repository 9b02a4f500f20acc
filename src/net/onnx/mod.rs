//! Your own model: a network read from an ONNX file (what `torch.onnx.export`, tf2onnx and Keras write) into the
//! core's [`Graph`], with its weights as the safetensors file every network loads from.
//!
//! The file is parsed by rust-protobuf's messages generated from ONNX's own schema (build.rs), then mapped node by
//! node: Conv (groups, dilation, pads, auto_pad), BatchNormalization (folded into the convolution before it, or a
//! depthwise 1×1 convolution of its own), Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, x·sigmoid(x),
//! MaxPool, AveragePool, GlobalAveragePool and ReduceMean over the map, Add, Mul, Concat, Pad (into the convolution
//! after it), Identity and Dropout, Flatten, Reshape and Squeeze/Unsqueeze at the head, Gemm and MatMul, Softmax,
//! and the constant arithmetic exporters write for shapes (Constant, Shape, Gather, Concat, Cast). Shapes are
//! followed at the input's declared size (224 where it is not fixed).
//!
//! What the mapping cannot run stops it: the layers before the first such node can still be visualized, and the
//! [`Imported`] says where and why it stopped. A file that is not a model of an image is refused with a
//! [`OnnxError`] that says what is wrong; nothing here panics on a file's content.

mod fold;
mod tensor;

#[allow(clippy::all, clippy::pedantic)]
mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx/mod.rs"));
}

use std::collections::HashMap;
use std::path::Path;

use protobuf::Message;
use serde::{Deserialize, Serialize};

use self::proto::onnx::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use self::tensor::{Const, Data};
use super::graph::{
    BatchNorm, Colour, Conv, Function, Graph, GraphError, Linear, Node, Op, Padding, Pool, Preprocessing, TORCHVISION,
};
use super::networks::Opened;

/// The most weight bytes (as f32) a model may hold: a wasm page has at most 4 GiB, and holds the file, the
/// weights and the model's copy on its device at once.
pub const MAX_WEIGHT_BYTES: usize = 1 << 30;

/// The side shapes are followed at where the input's is not fixed: ImageNet's.
const REFERENCE_SIDE: usize = 224;

/// How the model wants its input, as its user states it: the common choices, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preprocess {
    /// torchvision's ImageNet mean and standard deviation, RGB.
    #[default]
    Torchvision,
    /// RGB scaled to [-1, 1] (TensorFlow's "inception" preprocessing, Keras' MobileNets).
    Signed,
    /// RGB in [0, 1], as is.
    Unit,
    /// Caffe's: BGR in [0, 255], ImageNet's channel means subtracted (Keras' VGG and ResNet).
    Caffe,
}

crate::names::from_name!(Preprocess, "preprocessing", Preprocess::ALL);

impl Preprocess {
    pub const ALL: [Preprocess; 4] = [Preprocess::Torchvision, Preprocess::Signed, Preprocess::Unit, Preprocess::Caffe];

    pub fn preprocessing(self) -> Preprocessing {
        let rgb = |mean: [f32; 3], std: [f32; 3]| Preprocessing { mean, std, colour: Colour::Rgb };
        match self {
            Preprocess::Torchvision => TORCHVISION,
            Preprocess::Signed => rgb([0.5; 3], [0.5; 3]),
            Preprocess::Unit => rgb([0.0; 3], [1.0; 3]),
            Preprocess::Caffe => Preprocessing {
                mean: [103.939 / 255.0, 116.779 / 255.0, 123.68 / 255.0],
                std: [1.0 / 255.0; 3],
                colour: Colour::Bgr,
            },
        }
    }
}

/// Why a file cannot be opened as a model at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnnxError {
    #[error("the file is not an ONNX model, or it is truncated or damaged: {0}")]
    NotOnnx(String),
    #[error("the ONNX file holds no graph")]
    NoGraph,
    #[error("the model's input is not an image: {0}")]
    NotAnImage(String),
    #[error("the model has {0} inputs; filterlens shows models of one image")]
    Inputs(usize),
    #[error("tensor '{name}' is malformed: {reason}")]
    Tensor { name: String, reason: String },
    #[error(
        "tensor '{tensor}' is stored in a separate file, '{file}', which was not given (open the model from its folder with the CLI, or save it as one file: onnx.save(model, path, save_as_external_data=False))"
    )]
    ExternalData { tensor: String, file: String },
    #[error("tensor '{tensor}' is stored in '{file}', which cannot be read: {reason}")]
    ExternalRead { tensor: String, file: String, reason: String },
    #[error("the model's weights are {mib} MiB as 32-bit floats; filterlens holds at most {limit} MiB")]
    TooLarge { mib: usize, limit: usize },
    #[error("nothing to show: the first node, '{node}' ({op}), cannot be run: {reason}")]
    NothingToShow { node: String, op: String, reason: String },
    #[error("the model's graph is inconsistent: {0}")]
    Graph(#[from] GraphError),
}

/// Where the mapping stopped: the first node it cannot run, and why. The layers before it are usable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// A model read from an ONNX file: the network to register ([`crate::net::Network::open`]), its weights as a
/// safetensors file, the input side the file fixes (if it does), and where the mapping stopped (if it did).
#[derive(Debug)]
pub struct Imported {
    pub opened: Opened,
    pub weights: Vec<u8>,
    pub input_side: Option<usize>,
    pub stop: Option<Stop>,
    /// Every node of the file whose operator filterlens does not run (name, operator), in the file's order.
    pub unsupported: Vec<(String, String)>,
}

/// A weight tensor for the safetensors file: its name, dimensions and values.
type Weight = (String, Vec<usize>, Vec<f32>);
/// A layer as [`Graph::new`] takes it: its name, node and activation function.
type LayerSpec = (String, usize, Option<Function>);

/// What an ONNX value is while the graph is mapped.
#[derive(Debug, Clone)]
enum Value {
    /// A node's output: `[batch, channels, side, side]` (rank 4) or `[batch, channels · side²]` (rank 2, a
    /// flattened map); `pad` zeros a `Pad` adds before the convolution that reads it.
    Map {
        node: usize,
        channels: usize,
        side: usize,
        rank: usize,
        pad: [usize; 4],
    },
    /// The input as NHWC (Keras'), before the transpose that makes it the network's NCHW.
    Nhwc,
    Const(Const),
}

/// The operators the mapping knows (others stop it).
const SUPPORTED: [&str; 37] = [
    "Conv",
    "BatchNormalization",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Add",
    "Mul",
    "Concat",
    "Pad",
    "Identity",
    "Dropout",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Gemm",
    "MatMul",
    "Softmax",
    "Constant",
    "Shape",
    "Gather",
    "Cast",
    "Transpose",
    "ConstantOfShape",
    "Slice",
    "Sub",
    "Div",
    "Neg",
    "Floor",
    "Ceil",
];

/// Reads `bytes` as an ONNX model named `file_name`, its RGB input normalised by `preprocessing` (a grey model's
/// takes the picture's luma, normalised by the channels' average statistics). `folder`: the model file's folder,
/// for tensors stored beside it (none in the page).
pub fn import(
    bytes: &[u8],
    file_name: &str,
    preprocessing: Preprocessing,
    folder: Option<&Path>,
) -> Result<Imported, OnnxError> {
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| OnnxError::NotOnnx(e.to_string()))?;
    let graph = model.graph.as_ref().ok_or(OnnxError::NoGraph)?;
    if graph.node.is_empty() {
        return Err(OnnxError::NoGraph);
    }
    let opset =
        model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map_or(1, |o| o.version);
    check_initializers(graph, folder)?;
    let mut importer = Importer::new(graph, opset, folder)?;
    let grey = importer.grey;
    let mut stop = None;
    for node in &graph.node {
        if importer.fused.iter().any(|&f| std::ptr::eq(f, node)) {
            continue;
        }
        if let Err(reason) = importer.map(node) {
            stop = Some(Stop { node: node_name(node), op: node.op_type.clone(), reason });
            break;
        }
    }
    if importer.layers.is_empty() {
        let first = stop.unwrap_or_else(|| Stop {
            node: node_name(&graph.node[0]),
            op: graph.node[0].op_type.clone(),
            reason: "it computes no feature map".into(),
        });
        return Err(OnnxError::NothingToShow { node: first.node, op: first.op, reason: first.reason });
    }
    let unsupported = graph
        .node
        .iter()
        .filter(|n| !SUPPORTED.contains(&n.op_type.as_str()) || !standard_domain(n))
        .map(|n| (node_name(n), n.op_type.clone()))
        .collect();
    let input_side = importer.input_side;
    let (nodes, layers, mut weights) = importer.finish();
    let preprocessing = if grey {
        let average = |v: [f32; 3]| [(v[0] + v[1] + v[2]) / 3.0; 3];
        Preprocessing { mean: average(preprocessing.mean), std: average(preprocessing.std), colour: Colour::Luminance }
    } else {
        preprocessing
    };
    let graph = Graph::new(nodes, layers, preprocessing)?;
    // Only what the graph's nodes read: a node that stopped the mapping may have kept a tensor before it stopped.
    let used: Vec<&str> = graph.params().iter().flat_map(|p| p.tensors.iter().map(|(n, _)| n.as_str())).collect();
    weights.retain(|(name, _, _)| used.contains(&name.as_str()));
    let convs: Vec<&str> = graph
        .layers()
        .iter()
        .filter(|l| matches!(graph.nodes()[l.node].op, Op::Conv(_)))
        .map(|l| l.name.as_str())
        .collect();
    // Two fifths of the way through the convolutions: textures, neither edges nor object parts.
    let default_layer = convs.get(convs.len() * 2 / 5).copied().unwrap_or(&graph.layers()[0].name).to_string();
    let classifier = graph
        .layers()
        .iter()
        .rev()
        .find(|l| matches!(graph.nodes()[l.node].op, Op::Linear(_)))
        .filter(|l| l.channels == crate::net::classes::imagenet().len())
        .map(|l| l.name.clone());
    let stem = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = stem.strip_suffix(".onnx").unwrap_or(stem);
    let id: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let opened = Opened {
        name: format!("onnx:{id}"),
        title: file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).to_string(),
        graph,
        default_layer,
        classifier,
    };
    Ok(Imported { opened, weights: tensor::to_safetensors(&weights), input_side, stop, unsupported })
}

/// Refuses, before reading a value, weights that would not fit (from their declared dimensions) and weights stored
/// in files beside the model where there is no folder to read them from.
fn check_initializers(graph: &GraphProto, folder: Option<&Path>) -> Result<(), OnnxError> {
    let mut total: usize = 0;
    for t in &graph.initializer {
        if folder.is_none() && t.data_location.value() == proto::onnx::tensor_proto::DataLocation::EXTERNAL as i32 {
            let file = t.external_data.iter().find(|e| e.key == "location").map(|e| e.value.clone());
            return Err(OnnxError::ExternalData { tensor: t.name.clone(), file: file.unwrap_or_default() });
        }
        let n = tensor::count(&t.dims)
            .ok_or_else(|| OnnxError::Tensor { name: t.name.clone(), reason: format!("dimensions {:?}", t.dims) })?;
        total = total.saturating_add(n.saturating_mul(4));
    }
    if total > MAX_WEIGHT_BYTES {
        return Err(OnnxError::TooLarge { mib: total >> 20, limit: MAX_WEIGHT_BYTES >> 20 });
    }
    Ok(())
}

fn standard_domain(node: &NodeProto) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

/// A node's name, or its first output's where it has none.
fn node_name(node: &NodeProto) -> String {
    if node.name.is_empty() { node.output.first().cloned().unwrap_or_default() } else { node.name.clone() }
}

/// A node's attributes, by name.
struct Attrs<'a>(&'a [AttributeProto]);

impl<'a> Attrs<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.get(name).map(|a| a.ints.as_slice())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }
}

/// A pair of non-negative sizes from an attribute (`[h, w]`), or `default`.
fn pair(values: Option<&[i64]>, default: usize, what: &str) -> Result<[usize; 2], String> {
    match values {
        None => Ok([default; 2]),
        Some([h, w]) if *h >= 0 && *w >= 0 => Ok([*h as usize, *w as usize]),
        Some(v) => Err(format!("{what} {v:?} (filterlens runs 2-D convolutions and pools of images)")),
    }
}

/// A layer's name as the expressions' grammar takes it (letters, digits, `_`), from an exporter's node name:
/// `/features/features.0/Conv` → `features_0`, `/layer1/layer1.0/conv1/Conv` → `layer1_0_conv1`.
fn layer_name(node: &NodeProto) -> String {
    let parts: Vec<&str> = node.name.split('/').filter(|p| !p.is_empty()).collect();
    let mut kept: Vec<&str> = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        // The operator's own name ends torch's paths; a module's path repeats its parent's (`layer1/layer1.0`).
        let is_op = last && parts.len() > 1 && part.split('_').next() == Some(node.op_type.as_str());
        let repeated = parts.get(k + 1).is_some_and(|next| next.starts_with(&format!("{part}.")));
        if !is_op && !repeated {
            kept.push(part);
        }
    }
    let raw = if kept.is_empty() {
        format!("{}_{}", node.op_type, node.output.first().map_or("", String::as_str))
    } else {
        kept.join("_")
    };
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if !(c == '_' && (name.is_empty() || name.ends_with('_'))) {
            name.push(c);
        }
    }
    let name = name.trim_end_matches('_').to_string();
    if name.is_empty() { node.op_type.to_lowercase() } else { name }
}

/// The graph as it is mapped: nodes, layers and weights so far, and what each ONNX value is.
struct Importer<'a> {
    folder: Option<&'a Path>,
    opset: i64,
    initializers: HashMap<&'a str, &'a TensorProto>,
    values: HashMap<String, Value>,
    /// How many nodes read each value (a fused pair counting once).
    readers: HashMap<&'a str, usize>,
    /// `Sigmoid` and `HardSigmoid` nodes folded into the `Mul` after them (swish, hard swish).
    fused: Vec<&'a NodeProto>,
    nodes: Vec<Node>,
    /// `(name, node, activation)`, and each node's layer.
    layers: Vec<LayerSpec>,
    layer_of: HashMap<usize, usize>,
    weights: Vec<Weight>,
    input_side: Option<usize>,
    grey: bool,
}

impl<'a> Importer<'a> {
    fn new(graph: &'a GraphProto, opset: i64, folder: Option<&'a Path>) -> Result<Self, OnnxError> {
        let initializers: HashMap<&str, &TensorProto> =
            graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let inputs: Vec<_> = graph.input.iter().filter(|i| !initializers.contains_key(i.name.as_str())).collect();
        let [input] = inputs.as_slice() else { return Err(OnnxError::Inputs(inputs.len())) };
        let not_image = |reason: String| OnnxError::NotAnImage(reason);
        let Some(ty) = input.type_.as_ref().filter(|t| t.has_tensor_type()) else {
            return Err(not_image(format!("'{}' is not a tensor", input.name)));
        };
        let dims: Vec<Option<usize>> = ty
            .tensor_type()
            .shape
            .dim
            .iter()
            .map(|d| (d.has_dim_value() && d.dim_value() > 0).then(|| d.dim_value() as usize))
            .collect();
        if dims.len() != 4 {
            return Err(not_image(format!("'{}' has {} dimensions, an image batch has 4", input.name, dims.len())));
        }
        let colour = |c: Option<usize>| matches!(c, Some(1 | 3));
        // NCHW, or NHWC where every reader transposes it to NCHW (tf2onnx's Keras models).
        let nhwc = !colour(dims[1])
            && colour(dims[3])
            && graph
                .node
                .iter()
                .filter(|n| n.input.contains(&input.name))
                .all(|n| n.op_type == "Transpose" && Attrs(&n.attribute).ints("perm") == Some(&[0, 3, 1, 2][..]));
        let (channels, h, w) = if nhwc { (dims[3], dims[1], dims[2]) } else { (dims[1], dims[2], dims[3]) };
        let Some(channels) = channels.filter(|&c| c == 1 || c == 3) else {
            return Err(not_image(format!(
                "'{}' has {} channels; filterlens shows models of RGB or grey pictures (1 or 3 channels, NCHW or NHWC)",
                input.name,
                channels.map_or("a varying number of".to_string(), |c| c.to_string())
            )));
        };
        let input_side = match (h, w) {
            (Some(h), Some(w)) if h != w => {
                return Err(not_image(format!("'{}' is {h}×{w}; filterlens shows square pictures", input.name)));
            }
            (Some(h), _) | (_, Some(h)) => Some(h),
            (None, None) => None,
        };
        let mut readers: HashMap<&str, usize> = HashMap::new();
        let mut fused = Vec::new();
        let producer: HashMap<&str, &NodeProto> =
            graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
        for node in &graph.node {
            for name in &node.input {
                *readers.entry(name.as_str()).or_default() += 1;
            }
        }
        // x · sigmoid(x) (swish) and x · hardsigmoid(x) (hard swish): one activation, the sigmoid folded in.
        for node in &graph.node {
            if let Some(gate) = swish_gate(node, &producer, &readers) {
                fused.push(gate);
                *readers.get_mut(gate.input[0].as_str()).expect("read by the gate") -= 1;
            }
        }
        let side = input_side.unwrap_or(REFERENCE_SIDE);
        let mut values = HashMap::new();
        let input_value = if nhwc { Value::Nhwc } else { Value::Map { node: 0, channels, side, rank: 4, pad: [0; 4] } };
        values.insert(input.name.clone(), input_value);
        Ok(Self {
            folder,
            opset,
            initializers,
            values,
            readers,
            fused,
            nodes: vec![Node { name: "input".into(), op: Op::Input, inputs: Vec::new() }],
            layers: Vec::new(),
            layer_of: HashMap::new(),
            weights: Vec::new(),
            input_side,
            grey: channels == 1,
        })
    }

    fn finish(self) -> (Vec<Node>, Vec<LayerSpec>, Vec<Weight>) {
        (self.nodes, self.layers, self.weights)
    }

    /// Input `k` of `node` as mapped so far (a constant from the initializers).
    fn value(&self, node: &NodeProto, k: usize) -> Result<Value, String> {
        let name = node.input.get(k).filter(|n| !n.is_empty()).ok_or_else(|| format!("it lacks input {k}"))?;
        if let Some(v) = self.values.get(name) {
            return Ok(v.clone());
        }
        let tensor = self.initializers.get(name.as_str()).ok_or_else(|| format!("input '{name}' is never computed"))?;
        tensor::decode(tensor, self.folder).map(Value::Const).map_err(|e| e.to_string())
    }

    /// Input `k`, which must be a feature map: `(node, channels, side, rank, pad)`.
    fn map_input(&self, node: &NodeProto, k: usize) -> Result<(usize, usize, usize, usize, [usize; 4]), String> {
        match self.value(node, k)? {
            Value::Map { node, channels, side, rank, pad } => Ok((node, channels, side, rank, pad)),
            Value::Nhwc => Err("it reads the NHWC input before its transpose".into()),
            Value::Const(_) => Err(format!("input {k} is a constant where a feature map was expected")),
        }
    }

    /// Input `k`, which must be a constant (absent: `None`).
    fn const_input(&self, node: &NodeProto, k: usize) -> Result<Option<Const>, String> {
        if node.input.get(k).is_none_or(|n| n.is_empty()) {
            return Ok(None);
        }
        match self.value(node, k)? {
            Value::Const(c) => Ok(Some(c)),
            _ => Err(format!("input {k} must be a constant (weights, a shape), it is computed")),
        }
    }

    fn output(&mut self, node: &NodeProto, value: Value) {
        if let Some(name) = node.output.first() {
            self.values.insert(name.clone(), value);
        }
    }

    /// Adds a graph node reading `inputs` and makes it the ONNX node's output; a layer, unless `layer` is false.
    fn emit(&mut self, node: &NodeProto, op: Op, inputs: Vec<usize>, out: (usize, usize, usize), layer: bool) {
        let (channels, side, rank) = out;
        self.nodes.push(Node { name: node_name(node), op, inputs });
        let index = self.nodes.len() - 1;
        if layer {
            let mut name = layer_name(node);
            if self.layers.iter().any(|(n, _, _)| *n == name) {
                let base = name.clone();
                name = (2..).map(|k| format!("{base}_{k}")).find(|n| !self.layers.iter().any(|l| l.0 == *n)).unwrap();
            }
            self.layer_of.insert(index, self.layers.len());
            self.layers.push((name, index, None));
        }
        self.output(node, Value::Map { node: index, channels, side, rank, pad: [0; 4] });
    }

    /// Keeps a weight tensor for the safetensors file (once per name), each value checked finite.
    fn keep(&mut self, name: String, dims: Vec<usize>, values: Vec<f32>) -> Result<String, String> {
        if let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(format!("tensor '{name}' holds a non-finite value ({value}) at element {index}"));
        }
        if !self.weights.iter().any(|(n, _, _)| *n == name) {
            self.weights.push((name.clone(), dims, values));
        }
        Ok(name)
    }

    fn readers(&self, node: &NodeProto, k: usize) -> usize {
        node.input.get(k).and_then(|n| self.readers.get(n.as_str())).copied().unwrap_or(0)
    }

    /// Maps one node, or says why it cannot.
    fn map(&mut self, node: &'a NodeProto) -> Result<(), String> {
        if !standard_domain(node) {
            return Err(format!("operator {}::{} is not one filterlens runs", node.domain, node.op_type));
        }
        let attrs = Attrs(&node.attribute);
        if let Some(folded) = self.fold_constants(node, &attrs) {
            let (dims, data) = folded?;
            self.fold(node, dims, data);
            return Ok(());
        }
        match node.op_type.as_str() {
            "Conv" => self.conv(node, &attrs),
            "BatchNormalization" => self.batch_norm(node, &attrs),
            "Relu" => self.activation(node, Function::Relu),
            "Sigmoid" => self.activation(node, Function::Sigmoid),
            "HardSwish" => self.activation(node, Function::HardSwish),
            "LeakyRelu" => self.activation(node, Function::LeakyRelu { alpha: attrs.float("alpha", 0.01) }),
            "HardSigmoid" => self.activation(
                node,
                Function::HardSigmoid { alpha: attrs.float("alpha", 0.2), beta: attrs.float("beta", 0.5) },
            ),
            "Clip" => {
                let bound = |k: usize, attr: &str, default: f32| -> Result<f32, String> {
                    if self.opset < 11 {
                        return Ok(attrs.float(attr, default));
                    }
                    match self.const_input(node, k)? {
                        None => Ok(default),
                        Some(c) => c.scalar().ok_or_else(|| format!("a {attr} of {} values", c.len())),
                    }
                };
                let (min, max) = (bound(1, "min", f32::NEG_INFINITY)?, bound(2, "max", f32::INFINITY)?);
                let function = match (min, max) {
                    (0.0, f32::INFINITY) => Function::Relu,
                    (0.0, 6.0) => Function::Relu6,
                    _ => Function::Clip { min, max },
                };
                self.activation(node, function)
            }
            "Mul" => self.mul(node),
            "MaxPool" | "AveragePool" => self.pool(node, &attrs),
            "GlobalAveragePool" => {
                let (input, channels, _, rank, pad) = self.map_input(node, 0)?;
                unpadded(pad)?;
                if rank != 4 {
                    return Err("it pools a flattened input".into());
                }
                self.emit(node, Op::GlobalAvgPool, vec![input], (channels, 1, 4), true);
                Ok(())
            }
            "ReduceMean" => {
                let (input, channels, _, rank, pad) = self.map_input(node, 0)?;
                unpadded(pad)?;
                let axes = match attrs.ints("axes") {
                    Some(axes) => axes.to_vec(),
                    None => self.const_input(node, 1)?.and_then(|c| c.ints()).unwrap_or_default(),
                };
                let mut axes: Vec<i64> = axes.iter().map(|&a| if a < 0 { a + rank as i64 } else { a }).collect();
                axes.sort_unstable();
                if rank != 4 || axes != [2, 3] {
                    return Err(format!("a mean over axes {axes:?} (filterlens averages a map's pixels: 2, 3)"));
                }
                let rank = if attrs.int("keepdims", 1) == 1 { 4 } else { 2 };
                self.emit(node, Op::GlobalAvgPool, vec![input], (channels, 1, rank), true);
                Ok(())
            }
            "Add" => self.add(node),
            "Concat" => self.concat(node, &attrs),
            "Pad" => self.pad(node, &attrs),
            "Identity" | "Dropout" => {
                let value = self.value(node, 0)?;
                self.output(node, value);
                Ok(())
            }
            "Flatten" => {
                if attrs.int("axis", 1) != 1 {
                    return Err(format!("a flatten from axis {}", attrs.int("axis", 1)));
                }
                self.flatten(node)
            }
            "Reshape" => self.reshape(node),
            "Squeeze" | "Unsqueeze" => self.squeeze(node, &attrs),
            "Gemm" => self.gemm(node, &attrs),
            "MatMul" => {
                let (input, channels, side, _, pad) = self.map_input(node, 0)?;
                unpadded(pad)?;
                let b = self.const_input(node, 1)?.ok_or("it lacks its weights")?;
                self.linear(node, (input, channels * side * side), &b, false, 1.0, None)
            }
            "Softmax" => {
                let (input, channels, side, rank, pad) = self.map_input(node, 0)?;
                unpadded(pad)?;
                let default = if self.opset < 13 { 1 } else { -1 };
                let axis = attrs.int("axis", default);
                let axis = if axis < 0 { axis + rank as i64 } else { axis };
                if side != 1 || !(axis == 1 || (rank == 4 && axis >= 1)) {
                    return Err(format!("a softmax over axis {axis} of a {rank}-D map (filterlens: over classes)"));
                }
                self.emit(node, Op::Softmax, vec![input], (channels, 1, rank), true);
                Ok(())
            }
            "Constant" => {
                let c = if let Some(t) = attrs.tensor("value") {
                    tensor::decode(t, self.folder).map_err(|e| e.to_string())?
                } else if let Some(a) = attrs.get("value_float") {
                    Const { name: String::new(), dims: vec![], data: Data::Float(vec![a.f]) }
                } else if let Some(a) = attrs.get("value_floats") {
                    Const { name: String::new(), dims: vec![a.floats.len()], data: Data::Float(a.floats.clone()) }
                } else if let Some(a) = attrs.get("value_int") {
                    Const { name: String::new(), dims: vec![], data: Data::Int(vec![a.i]) }
                } else if let Some(a) = attrs.get("value_ints") {
                    Const { name: String::new(), dims: vec![a.ints.len()], data: Data::Int(a.ints.clone()) }
                } else {
                    return Err("a constant of a kind filterlens does not read".into());
                };
                let name = node.output.first().cloned().unwrap_or_default();
                self.output(node, Value::Const(Const { name, ..c }));
                Ok(())
            }
            "Shape" => {
                let dims = match self.value(node, 0)? {
                    Value::Map { channels, side, rank: 4, .. } => vec![1, channels as i64, side as i64, side as i64],
                    Value::Map { channels, side, .. } => vec![1, (channels * side * side) as i64],
                    Value::Const(c) => c.dims.iter().map(|&d| d as i64).collect(),
                    Value::Nhwc => return Err("the shape of the NHWC input".into()),
                };
                let rank = dims.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let (start, end) = (clamp(attrs.int("start", 0)), clamp(attrs.int("end", rank)));
                let dims = dims.get(start..end.max(start)).unwrap_or_default().to_vec();
                self.fold(node, vec![dims.len()], Data::Int(dims));
                Ok(())
            }
            "Gather" => {
                let data = self.const_input(node, 0)?.ok_or("it gathers from nothing")?;
                let indices = self.const_input(node, 1)?.and_then(|c| c.ints().map(|i| (c.dims, i)));
                let Some((dims, indices)) = indices.filter(|_| data.dims.len() <= 1 && attrs.int("axis", 0) == 0)
                else {
                    return Err("a gather other than from a 1-D constant".into());
                };
                let len = data.len() as i64;
                let picked: Option<Vec<usize>> = indices
                    .iter()
                    .map(|&i| {
                        let i = if i < 0 { i + len } else { i };
                        (0..len).contains(&i).then_some(i as usize)
                    })
                    .collect();
                let picked = picked.ok_or("an index out of range")?;
                let values = match &data.data {
                    Data::Int(v) => Data::Int(picked.iter().map(|&i| v[i]).collect()),
                    Data::Float(v) => Data::Float(picked.iter().map(|&i| v[i]).collect()),
                };
                self.fold(node, dims, values);
                Ok(())
            }
            "Cast" => match self.value(node, 0)? {
                Value::Const(c) => {
                    let float = [1, 10, 11, 16].contains(&attrs.int("to", 1));
                    let data = if float { Data::Float(c.floats()) } else { Data::Int(c.ints().ok_or("a cast")?) };
                    self.fold(node, c.dims, data);
                    Ok(())
                }
                map if [1, 10, 11, 16].contains(&attrs.int("to", 0)) => {
                    self.output(node, map);
                    Ok(())
                }
                _ => Err("a cast of a feature map to integers".into()),
            },
            "Transpose" => match self.value(node, 0)? {
                Value::Nhwc => {
                    let channels = if self.grey { 1 } else { 3 };
                    let side = self.input_side.unwrap_or(REFERENCE_SIDE);
                    self.output(node, Value::Map { node: 0, channels, side, rank: 4, pad: [0; 4] });
                    Ok(())
                }
                _ => Err("a transpose other than the NHWC input's".into()),
            },
            _ => Err(format!("operator {} is not one filterlens runs", node.op_type)),
        }
    }

    /// The node's value where every input is a constant and it is an operator folding knows (`fold`).
    fn fold_constants(&self, node: &NodeProto, attrs: &Attrs) -> Option<Result<(Vec<usize>, Data), String>> {
        let count = node.input.iter().rposition(|n| !n.is_empty())? + 1;
        let constants: Vec<Const> = (0..count)
            .map(|k| match self.value(node, k) {
                Ok(Value::Const(c)) => Some(c),
                _ => None,
            })
            .collect::<Option<_>>()?;
        fold::fold(&node.op_type, attrs, &constants, self.opset)
    }

    /// A constant computed at import (a shape's arithmetic).
    fn fold(&mut self, node: &NodeProto, dims: Vec<usize>, data: Data) {
        let name = node.output.first().cloned().unwrap_or_default();
        self.output(node, Value::Const(Const { name, dims, data }));
    }

    fn conv(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let (input, in_channels, side, rank, pad) = self.map_input(node, 0)?;
        if rank != 4 {
            return Err("it convolves a flattened input".into());
        }
        let w = self.const_input(node, 1)?.ok_or("it lacks its kernel")?;
        let [channels, per_group, kh, kw] = w.dims[..] else {
            return Err(format!("a kernel of dimensions {:?} (filterlens runs 2-D convolutions)", w.dims));
        };
        let groups = usize::try_from(attrs.int("group", 1)).map_err(|_| "a negative group count")?;
        if groups == 0 || per_group * groups != in_channels || channels % groups != 0 {
            return Err(format!(
                "a kernel {:?} in {groups} groups does not fit its {in_channels}-channel input",
                w.dims
            ));
        }
        if let Some(shape) = attrs.ints("kernel_shape")
            && shape != [kh as i64, kw as i64]
        {
            return Err(format!("kernel_shape {shape:?} differs from its kernel's {kh}×{kw}"));
        }
        let stride = pair(attrs.ints("strides"), 1, "strides")?;
        let dilation = pair(attrs.ints("dilations"), 1, "dilations")?;
        if stride.contains(&0) || dilation.contains(&0) || kh == 0 || kw == 0 {
            return Err("a zero kernel side, stride or dilation".into());
        }
        let padding = match attrs.string("auto_pad").as_deref().unwrap_or("NOTSET") {
            "NOTSET" => {
                let pads = match attrs.ints("pads") {
                    None => [0; 4],
                    Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&p| (0..1 << 16).contains(&p)) => {
                        [t as usize, l as usize, b as usize, r as usize]
                    }
                    Some(p) => return Err(format!("pads {p:?}")),
                };
                Padding::Explicit([pads[0] + pad[0], pads[1] + pad[1], pads[2] + pad[2], pads[3] + pad[3]])
            }
            "VALID" => Padding::Explicit(pad),
            // SAME_LOWER puts the odd zero first: the same as SAME_UPPER where the padding is even (stride 1, an
            // odd reach), which is all filterlens runs of it.
            mode @ ("SAME_UPPER" | "SAME_LOWER") => {
                let even = stride == [1, 1] && ((kh - 1) * dilation[0]) % 2 == 0 && ((kw - 1) * dilation[1]) % 2 == 0;
                if pad != [0; 4] || (mode == "SAME_LOWER" && !even) {
                    return Err(format!("auto_pad {mode} with a stride or a Pad before it"));
                }
                Padding::Same
            }
            other => return Err(format!("auto_pad {other}")),
        };
        let weight = self.keep(w.name.clone(), w.dims.clone(), w.floats())?;
        let bias = self.const_input(node, 2)?;
        if let Some(b) = &bias
            && b.len() != channels
        {
            return Err(format!("a bias of {} values for {channels} channels", b.len()));
        }
        let bias = bias.map(|b| self.keep(b.name.clone(), vec![channels], b.floats())).transpose()?;
        let conv = Conv {
            in_channels,
            channels,
            kernel: [kh, kw],
            stride,
            padding,
            dilation,
            groups,
            weight,
            bias,
            batch_norm: None,
        };
        let out = match conv.output_dims(side) {
            Some([h, w]) if h == w => h,
            Some([h, w]) => {
                return Err(format!("it makes a {h}×{w} map of a square one (filterlens' maps are square)"));
            }
            None => return Err(format!("its kernel does not fit a {side}-pixel input")),
        };
        self.emit(node, Op::Conv(conv), vec![input], (channels, out, 4), true);
        Ok(())
    }

    fn batch_norm(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        if attrs.int("training_mode", 0) != 0 {
            return Err("a batch normalisation in training mode".into());
        }
        let (input, channels, side, rank, pad) = self.map_input(node, 0)?;
        unpadded(pad)?;
        let mut names = Vec::new();
        for k in 1..5 {
            let c = self.const_input(node, k)?.ok_or("it lacks its statistics")?;
            if c.len() != channels {
                return Err(format!("statistics of {} values for {channels} channels", c.len()));
            }
            names.push(self.keep(c.name.clone(), vec![channels], c.floats())?);
        }
        let [weight, bias, mean, variance] = names.try_into().expect("four");
        let batch_norm = BatchNorm { weight, bias, mean, variance, epsilon: attrs.float("epsilon", 1e-5) };
        // Into the convolution before it, where that convolution's output goes nowhere else.
        let alone = self.readers(node, 0) == 1;
        if let Op::Conv(conv) = &mut self.nodes[input].op
            && conv.batch_norm.is_none()
            && alone
        {
            conv.batch_norm = Some(batch_norm);
            self.output(node, Value::Map { node: input, channels, side, rank, pad: [0; 4] });
            return Ok(());
        }
        // Else a depthwise 1×1 convolution by ones, the normalisation folded into it.
        if rank != 4 {
            return Err("a batch normalisation of a flattened input".into());
        }
        let ones = self.keep(format!("{}:identity", node_name(node)), vec![channels, 1, 1, 1], vec![1.0; channels])?;
        let conv = Conv {
            in_channels: channels,
            channels,
            kernel: [1, 1],
            stride: [1, 1],
            padding: Padding::Explicit([0; 4]),
            dilation: [1, 1],
            groups: channels,
            weight: ones,
            bias: None,
            batch_norm: Some(batch_norm),
        };
        self.emit(node, Op::Conv(conv), vec![input], (channels, side, 4), true);
        Ok(())
    }

    /// An activation function: the layer before it reads through it where this node is its only reader; else a
    /// layer of its own.
    fn activation(&mut self, node: &NodeProto, function: Function) -> Result<(), String> {
        let (input, channels, side, rank, pad) = self.map_input(node, 0)?;
        unpadded(pad)?;
        let attach = self.readers(node, 0) == 1
            && self.layer_of.get(&input).is_some_and(|&l| self.layers[l].2.is_none())
            && !matches!(self.nodes[input].op, Op::Activation(_));
        self.emit(node, Op::Activation(function), vec![input], (channels, side, rank), !attach);
        if attach {
            let layer = self.layer_of[&input];
            self.layers[layer].2 = Some(function);
        }
        Ok(())
    }

    fn mul(&mut self, node: &NodeProto) -> Result<(), String> {
        // The gate of a swish was folded: this node is the activation.
        let gate = node.input.iter().find_map(|name| self.fused_gate(name));
        if let Some(function) = gate {
            let x = node.input.iter().position(|name| self.fused_gate(name).is_none()).ok_or("a gate of a gate")?;
            let mut one = node.clone();
            one.input = vec![node.input[x].clone()];
            return self.activation(&one, function);
        }
        let (a, ca, sa, ra, pa) = self.map_input(node, 0)?;
        let (b, cb, sb, rb, pb) = self.map_input(node, 1)?;
        unpadded(pa)?;
        unpadded(pb)?;
        // The full-size map first, the per-channel gate second.
        let ((a, sa), (b, sb)) = if sa == 1 && sb > 1 { ((b, sb), (a, sa)) } else { ((a, sa), (b, sb)) };
        if ca != cb || ra != 4 || rb != 4 || !(sb == sa || sb == 1) {
            return Err("a product other than of two maps of one size, or a map and a per-channel gate".into());
        }
        self.emit(node, Op::Mul, vec![a, b], (ca, sa, 4), true);
        Ok(())
    }

    /// The activation a fused gate's output stands for.
    fn fused_gate(&self, value: &str) -> Option<Function> {
        let producer = self.fused.iter().find(|n| n.output.first().is_some_and(|o| o == value))?;
        Some(if producer.op_type == "Sigmoid" { Function::Swish } else { Function::HardSwish })
    }

    fn pool(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let (input, channels, side, rank, pad) = self.map_input(node, 0)?;
        unpadded(pad)?;
        if rank != 4 {
            return Err("it pools a flattened input".into());
        }
        let kernel = pair(attrs.ints("kernel_shape"), 0, "kernel_shape")?;
        let stride = pair(attrs.ints("strides"), 1, "strides")?;
        let pads = attrs.ints("pads").unwrap_or(&[0, 0, 0, 0]);
        let auto_pad = attrs.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
        let square = kernel[0] == kernel[1] && stride[0] == stride[1];
        let symmetric = pads.len() == 4 && pads.iter().all(|&p| p == pads[0] && p >= 0);
        if !square || !symmetric || !matches!(auto_pad.as_str(), "NOTSET" | "VALID") {
            return Err(format!(
                "a {}×{} window, stride {stride:?}, pads {pads:?}, auto_pad {auto_pad} (filterlens pools square \
                 windows, padded alike on every side)",
                kernel[0], kernel[1]
            ));
        }
        if attrs.int("ceil_mode", 0) != 0 {
            return Err("ceil_mode (filterlens rounds a pool's output down)".into());
        }
        if attrs.ints("dilations").is_some_and(|d| d.iter().any(|&d| d != 1)) {
            return Err("a dilated pool".into());
        }
        let padding = if auto_pad == "VALID" { 0 } else { pads[0] as usize };
        if node.op_type == "AveragePool" && padding > 0 && attrs.int("count_include_pad", 0) == 0 {
            return Err("an average pool that leaves its padding out of the count".into());
        }
        let pool = Pool { kernel: kernel[0], stride: stride[0], padding };
        if pool.kernel == 0 || padding > pool.kernel / 2 {
            return Err(format!("a {}-pixel window padded by {padding}", pool.kernel));
        }
        let out = pool.output_side(side).ok_or_else(|| format!("its window does not fit a {side}-pixel input"))?;
        let op = if node.op_type == "MaxPool" { Op::MaxPool(pool) } else { Op::AvgPool(pool) };
        self.emit(node, op, vec![input], (channels, out, 4), true);
        Ok(())
    }

    fn add(&mut self, node: &NodeProto) -> Result<(), String> {
        let (a, b) = (self.value(node, 0)?, self.value(node, 1)?);
        match (a, b) {
            (
                Value::Map { node: x, channels: cx, side: sx, rank: rx, pad: px },
                Value::Map { node: y, channels: cy, side: sy, rank: ry, pad: py },
            ) => {
                unpadded(px)?;
                unpadded(py)?;
                if (cx, sx, rx) != (cy, sy, ry) {
                    return Err(format!("a sum of a {cx}×{sx}×{sx} and a {cy}×{sy}×{sy} map"));
                }
                self.emit(node, Op::Add, vec![x, y], (cx, sx, rx), true);
                Ok(())
            }
            // A bias after a MatMul: the linear layer's own, where the MatMul's output goes nowhere else.
            (Value::Map { node: x, channels, side: 1, rank: 2, .. }, Value::Const(c))
            | (Value::Const(c), Value::Map { node: x, channels, side: 1, rank: 2, .. }) => {
                let lone = self.readers(node, 0).max(self.readers(node, 1)) == 1;
                let Op::Linear(linear) = &self.nodes[x].op else { return Err("a constant added to a map".into()) };
                if linear.bias.is_some() || c.len() != channels || !lone {
                    return Err("a constant added to a map".into());
                }
                let bias = self.keep(c.name.clone(), vec![channels], c.floats())?;
                if let Op::Linear(linear) = &mut self.nodes[x].op {
                    linear.bias = Some(bias);
                }
                self.output(node, Value::Map { node: x, channels, side: 1, rank: 2, pad: [0; 4] });
                Ok(())
            }
            _ => Err("a constant added to a map".into()),
        }
    }

    fn concat(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let values: Vec<Value> = (0..node.input.len()).map(|k| self.value(node, k)).collect::<Result<_, _>>()?;
        let axis = attrs.int("axis", 1);
        if axis != 1 && axis != -3 {
            return Err(format!("a concatenation along axis {axis} (filterlens: channels, axis 1)"));
        }
        let mut inputs = Vec::new();
        let (mut channels, mut first_side) = (0, None);
        for v in values {
            let Value::Map { node: n, channels: c, side, rank: 4, pad: [0, 0, 0, 0] } = v else {
                return Err("a concatenation of other than feature maps".into());
            };
            if *first_side.get_or_insert(side) != side {
                return Err("a concatenation of maps of different sizes".into());
            }
            inputs.push(n);
            channels += c;
        }
        let side = first_side.ok_or("a concatenation of nothing")?;
        if inputs.len() == 1 {
            self.output(node, Value::Map { node: inputs[0], channels, side, rank: 4, pad: [0; 4] });
            return Ok(());
        }
        self.emit(node, Op::Concat, inputs, (channels, side, 4), true);
        Ok(())
    }

    fn pad(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let (input, channels, side, rank, pad) = self.map_input(node, 0)?;
        if attrs.string("mode").is_some_and(|m| m != "constant") {
            return Err(format!("{} padding (filterlens: zeros)", attrs.string("mode").unwrap_or_default()));
        }
        let (pads, value) = if self.opset < 11 {
            (attrs.ints("pads").map(<[i64]>::to_vec), attrs.float("value", 0.0))
        } else {
            let value = self.const_input(node, 2)?.and_then(|c| c.scalar()).unwrap_or(0.0);
            if self.const_input(node, 3)?.is_some() {
                return Err("a Pad with axes".into());
            }
            (self.const_input(node, 1)?.and_then(|c| c.ints()), value)
        };
        let Some(&[0, 0, t, l, 0, 0, b, r]) = pads.as_deref() else {
            return Err(format!("pads {pads:?} (filterlens pads a map's sides)"));
        };
        if value != 0.0 || rank != 4 || [t, l, b, r].iter().any(|&p| !(0..1 << 16).contains(&p)) {
            return Err("a padding other than of zeros around a map".into());
        }
        let add = [t as usize, l as usize, b as usize, r as usize];
        let pad = [pad[0] + add[0], pad[1] + add[1], pad[2] + add[2], pad[3] + add[3]];
        self.output(node, Value::Map { node: input, channels, side, rank, pad });
        Ok(())
    }

    /// `[batch, channels · side²]`: as is for a map of one pixel; else after an adaptive pool to the map's side
    /// here, so the classifier after it takes pictures of any size as torchvision's VGG and AlexNet do (the same
    /// values at this size).
    fn flatten(&mut self, node: &NodeProto) -> Result<(), String> {
        let (input, channels, side, _, pad) = self.map_input(node, 0)?;
        unpadded(pad)?;
        let mut source = input;
        if side > 1 {
            self.nodes.push(Node {
                name: format!("{}:pool", node_name(node)),
                op: Op::AdaptiveAvgPool(side),
                inputs: vec![input],
            });
            source = self.nodes.len() - 1;
        }
        self.output(node, Value::Map { node: source, channels, side, rank: 2, pad: [0; 4] });
        Ok(())
    }

    fn reshape(&mut self, node: &NodeProto) -> Result<(), String> {
        let (_, channels, side, rank, _) = self.map_input(node, 0)?;
        let shape = self.const_input(node, 1)?.and_then(|c| c.ints()).ok_or("a shape that is not a constant")?;
        let from: Vec<i64> = if rank == 4 {
            vec![1, channels as i64, side as i64, side as i64]
        } else {
            vec![1, (channels * side * side) as i64]
        };
        let total: i64 = from.iter().product();
        match fold::reshaped(&from, &shape).as_slice() {
            [1, f] if *f == total => self.flatten(node),
            [1, c, 1, 1] if *c == total && side == 1 => {
                let value = self.value(node, 0)?;
                let Value::Map { node: n, .. } = value else { unreachable!("a map") };
                self.output(node, Value::Map { node: n, channels, side: 1, rank: 4, pad: [0; 4] });
                Ok(())
            }
            _ => Err(format!("a reshape of {from:?} to {shape:?} (filterlens flattens a map for its classifier)")),
        }
    }

    fn squeeze(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let axes = match attrs.ints("axes") {
            Some(a) => Some(a.to_vec()),
            None => self.const_input(node, 1)?.and_then(|c| c.ints()),
        };
        match self.value(node, 0)? {
            Value::Const(c) => {
                let mut dims = c.dims.clone();
                let axes = axes.unwrap_or_default();
                if node.op_type == "Unsqueeze" {
                    for &a in &axes {
                        let at = if a < 0 { a + dims.len() as i64 + 1 } else { a };
                        dims.insert(usize::try_from(at).ok().filter(|&k| k <= dims.len()).ok_or("an axis")?, 1);
                    }
                } else {
                    dims.retain(|&d| d != 1);
                }
                self.fold(node, dims, c.data);
                Ok(())
            }
            // [N, C, 1, 1] ⇄ [N, C]: the same values (whichever unit axes are named).
            Value::Map { node: n, channels, side: 1, pad: [0, 0, 0, 0], .. } => {
                let rank = if node.op_type == "Squeeze" { 2 } else { 4 };
                self.output(node, Value::Map { node: n, channels, side: 1, rank, pad: [0; 4] });
                Ok(())
            }
            _ => Err(format!("a {} of a map of more than one pixel", node.op_type)),
        }
    }

    fn gemm(&mut self, node: &NodeProto, attrs: &Attrs) -> Result<(), String> {
        let (input, channels, side, _, pad) = self.map_input(node, 0)?;
        unpadded(pad)?;
        if attrs.int("transA", 0) != 0 {
            return Err("a Gemm with transA".into());
        }
        let b = self.const_input(node, 1)?.ok_or("it lacks its weights")?;
        let c = self.const_input(node, 2)?;
        let alpha = attrs.float("alpha", 1.0);
        let beta = attrs.float("beta", 1.0);
        self.linear(node, (input, channels * side * side), &b, attrs.int("transB", 0) != 0, alpha, c.map(|c| (c, beta)))
    }

    /// A linear layer on `(node, features)` with weights `b` (`[in, out]`, or `[out, in]` if `transposed`) times
    /// `alpha`, and bias `c` times its factor.
    fn linear(
        &mut self,
        node: &NodeProto,
        (input, features): (usize, usize),
        b: &Const,
        transposed: bool,
        alpha: f32,
        c: Option<(Const, f32)>,
    ) -> Result<(), String> {
        let [rows, cols] = b.dims[..] else { return Err(format!("weights of dimensions {:?}", b.dims)) };
        let (in_features, out_features) = if transposed { (cols, rows) } else { (rows, cols) };
        if in_features != features {
            return Err(format!("weights for {in_features} features, its input has {features}"));
        }
        let mut values = b.floats();
        if !transposed {
            values = (0..out_features)
                .flat_map(|o| (0..in_features).map(move |i| (i, o)))
                .map(|(i, o)| values[i * out_features + o])
                .collect();
        }
        let plain = transposed && alpha == 1.0;
        if alpha != 1.0 {
            values.iter_mut().for_each(|v| *v *= alpha);
        }
        let weight_name = if plain { b.name.clone() } else { format!("{}:weight", node_name(node)) };
        let weight = self.keep(weight_name, vec![out_features, in_features], values)?;
        let bias = match c {
            None => None,
            Some((c, beta)) => {
                if c.len() != out_features {
                    return Err(format!("a bias of {} values for {out_features} outputs", c.len()));
                }
                let name = if beta == 1.0 { c.name.clone() } else { format!("{}:bias", node_name(node)) };
                Some(self.keep(name, vec![out_features], c.floats().iter().map(|v| v * beta).collect())?)
            }
        };
        let linear = Linear { in_features, out_features, weight, bias };
        self.emit(node, Op::Linear(linear), vec![input], (out_features, 1, 2), true);
        Ok(())
    }
}

/// The gate of `mul` where it is x · sigmoid(x) or x · hardsigmoid(x) (MobileNetV3's hard swish: α = 1/6,
/// β = 1/2), and the gate's output goes nowhere else.
fn swish_gate<'a>(
    mul: &NodeProto,
    producer: &HashMap<&str, &'a NodeProto>,
    readers: &HashMap<&str, usize>,
) -> Option<&'a NodeProto> {
    let [a, b] = mul.input.as_slice() else { return None };
    if mul.op_type != "Mul" || !standard_domain(mul) {
        return None;
    }
    [(a, b), (b, a)].into_iter().find_map(|(x, gated)| {
        let gate = *producer.get(gated.as_str())?;
        let attrs = Attrs(&gate.attribute);
        let hard = gate.op_type == "HardSigmoid"
            && (attrs.float("alpha", 0.2) - 1.0 / 6.0).abs() < 1e-6
            && attrs.float("beta", 0.5) == 0.5;
        let is_gate = (gate.op_type == "Sigmoid" || hard) && standard_domain(gate);
        (is_gate && gate.input.first() == Some(x) && readers.get(gated.as_str()) == Some(&1)).then_some(gate)
    })
}

fn unpadded(pad: [usize; 4]) -> Result<(), String> {
    if pad == [0; 4] {
        Ok(())
    } else {
        Err("it reads a Pad's output (filterlens pads only before a convolution)".into())
    }
}
