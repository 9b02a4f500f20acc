//! filterlens: what does a filter of VGG16 (or AlexNet) respond to?
//!
//! Feature visualization by gradient ascent on the input image. The core here is backend-independent: the same
//! code runs on WebGPU or Flex in the browser (through the wasm surface), and on wgpu, Flex or ndarray natively
//! (the CLI and the tests).
//!
//! The pieces, in the vocabulary of Lucid's `optvis`:
//! - [`model`]: the networks as tables of conv layers (VGG16's 13, AlexNet's 5), and a model: one network with its
//!   weights, forward up to a named layer;
//! - [`weights`]: safetensors bytes to a model, with validation;
//! - [`objective`]: what to maximise (a channel's mean, a neuron, a whole layer), per image of a batch;
//! - [`expression`]: objectives as weighted sums across layers, `conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7`;
//! - [`param`]: how the image is parameterised (pixels, Lucid's FFT spectrum with decorrelated colour, or MACO's
//!   phase under a fixed magnitude);
//! - [`spectrum`]: ImageNet's average Fourier magnitude, which MACO's phase parameterisation holds fixed;
//! - [`transform`]: random pad, jitter, scale and rotation before each forward pass, or MACO's crops and noise;
//! - [`ascent`]: the optimisation loop (classic's max-normalised step, Adam or NAdam), per-step metrics, the
//!   transparency map, checkpoints;
//! - [`image`]: tensor to RGBA8, PNG, captioned grids;
//! - [`animation`]: the ascent as an animated PNG, a captioned frame every k steps;
//!
//! and around them, what a front end (the CLI, the page) talks to:
//! - [`request`]: one run request, with the modes' presets and validation;
//! - [`catalog`]: what can be asked for (layers, modes, fields, backends), in one table;
//! - [`device`]: the backends, their initialisation and the fallback to Flex.

pub mod animation;
pub mod ascent;
pub mod catalog;
pub mod device;
pub mod expression;
pub mod image;
pub mod model;
pub mod objective;
pub mod param;
pub mod request;
pub mod spectrum;
#[cfg(test)]
mod testing;
pub mod transform;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;

pub use ascent::{Ascent, AscentConfig, Checkpoint, Optimiser, StepReport};
pub use device::{Backend, BackendChoice, BackendInfo, Backends, Fallback};
pub use model::{Activation, LayerSpec, Model, Network};
pub use objective::{Objective, Target};
pub use param::Param;
pub use request::{Mode, RunRequest};
pub use spectrum::Spectrum;
pub use transform::Transforms;
pub use weights::WeightsError;

/// Everything that can go wrong when asking for a visualization, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown layer '{layer}' ({} has {})", network.title(), layer_names(*network))]
    UnknownLayer { network: Network, layer: String },
    #[error("filter {filter} is out of range: {layer} has filters 0..={max}", max = channels - 1)]
    FilterOutOfRange { layer: &'static str, filter: usize, channels: usize },
    #[error("{field} {value} is out of range ({min} to {max})")]
    OutOfRange { field: &'static str, value: String, min: String, max: String },
    #[error(
        "the random transforms shrink a {size} px image to {smallest} px, below the {min} px the model needs: choose a larger size or less jitter"
    )]
    TransformedTooSmall { size: usize, smallest: usize, min: usize },
    #[error(
        "{field} does not apply to {mode} mode (classic takes stepSize, lucid takes lr and jitter, maco takes lr and crops)"
    )]
    FieldForOtherMode { field: &'static str, mode: Mode },
    #[error(
        "maco mode starts from noise (its phase cannot hold a picture with another spectrum): choose classic or lucid to start from a picture"
    )]
    MacoFromPicture,
    #[error(
        "maco mode needs ImageNet's magnitude spectrum (weights/imagenet-spectrum.npy, which `make weights` prepares)"
    )]
    NoSpectrum,
    #[error("the ImageNet spectrum file is unusable: {0}")]
    Spectrum(String),
    #[error("accentuate pulls toward a starting picture: choose one, or set accentuate to 0")]
    AccentuateWithoutPicture,
    #[error("the starting image has {values} values, expected 3 × {size} × {size}")]
    InitSize { values: usize, size: usize },
    #[error("the weights of {layer} have not arrived yet (those of the first {loaded} layers have)")]
    LayerNotLoaded { layer: &'static str, loaded: usize },
    #[error("the objective is for {objective}, but the model is {model}")]
    OtherNetwork { objective: &'static str, model: &'static str },
    #[error("objective '{text}' at character {at}: {reason}")]
    Expression { text: String, at: usize, reason: String },
    #[error("no weights for {network} have been given")]
    NoWeights { network: &'static str },
    #[error("no filters were asked for")]
    NoFilters,
    #[error("a request gives either a layer and filters (with an objective kind) or objective expressions, not both")]
    TwoObjectives,
    #[error("the {backend} backend is unavailable: {reason}")]
    BackendUnavailable { backend: Backend, reason: String },
    #[error("reading a result from the device failed: {0}")]
    ReadBack(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// A network's layers as an error lists them: `conv1_1 … conv5_3`, or all of them when there are few.
fn layer_names(network: Network) -> String {
    let names: Vec<_> = network.layers().iter().map(|l| l.name).collect();
    match names.as_slice() {
        [first, .., last] if names.len() > 5 => format!("{first} … {last}"),
        _ => names.join(", "),
    }
}
