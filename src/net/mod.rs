//! The networks, at the bottom of the house: each one's table of layers, a model (a network with its weights on a
//! device, evaluated up to a chosen layer), and the safetensors weights that make one. Nothing here knows of
//! objectives, pictures or requests.

pub mod model;
pub mod weights;

pub use model::{ALEXNET, Activation, LayerSpec, MEAN, Model, Network, Pool, STD, VGG16};
pub use weights::WeightsError;
