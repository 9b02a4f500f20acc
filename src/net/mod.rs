//! The networks, at the bottom of the house: each one a graph of nodes and the layers a visualization can read
//! (`graph`), built from its architecture's description (`networks`) or read from an ONNX file (`onnx`), a model (a network with its weights on a
//! device, evaluated up to the layers asked for), the safetensors weights that make one, and ImageNet's class names
//! for networks with a classifier. Nothing here knows of objectives, pictures or requests.

pub mod classes;
mod convolution;
pub mod graph;
pub mod model;
pub mod networks;
pub mod onnx;
pub mod weights;

pub use graph::{Colour, Function, Graph, Layer, Preprocessing};
pub use model::{Activation, Model};
pub use networks::Network;
pub use weights::WeightsError;
