//! filterlens: what does a filter of a convolutional network (VGG16, AlexNet, EfficientNet-Lite0) respond to?
//!
//! Feature visualization by gradient ascent on the input image. The core here is backend-independent: the same
//! code runs on WebGPU or Flex in the browser (through the wasm surface), and on wgpu, Flex or ndarray natively
//! (the CLI and the tests).
//!
//! The house in layers, each folder using only those below it:
//! - [`net`]: the networks as graphs (VGG16, AlexNet, EfficientNet-Lite0) with the layers that can be read, a model
//!   (one network with its weights, forward up to the layers asked for), and the safetensors weights that make one;
//! - [`optvis`]: the visualization core, in the vocabulary of Lucid's `optvis`: objectives and their expressions,
//!   parameterisations (pixels, Lucid's FFT spectrum, MACO's phase under ImageNet's spectrum), transforms, and the
//!   ascent (classic's max-normalised step, Adam or NAdam; per-step reports, the transparency map, checkpoints);
//! - [`picture`]: RGBA8, captioned grids, PNG, activation maps as heat, and the ascent as an animated PNG;
//! - [`examples`]: natural examples: a picture set's index (each filter's most and least activating pictures and
//!   where they fire), the check of a visualization against it, the CLI's sheet;
//! - [`backends`]: wgpu, Flex and ndarray, WebGPU's one initialisation and the fallback to Flex;
//! - [`api`]: what a front end talks to: one run request (presets, overrides, validation, the plan) and the
//!   catalog of what can be asked for;
//! - [`atlas`] (native): every filter of chosen layers by a sharded batch job, and the merge that packs it;
//! - the front ends: `web` (the wasm-bindgen surface the page's worker drives) and the CLI (`src/bin`).
//!
//! [`names`] (how the link and the command line spell an enum's values) and [`Error`] serve every layer.

pub mod api;
#[cfg(not(target_arch = "wasm32"))]
pub mod atlas;
pub mod backends;
pub mod examples;
mod names;
pub mod net;
pub mod optvis;
pub mod picture;
#[cfg(test)]
mod testing;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use api::request::{Mode, RunRequest, Start};
pub use backends::{Backend, BackendChoice, BackendInfo, Backends, Fallback};
pub use net::{Activation, Layer, Model, Network, WeightsError};
pub use optvis::ascent::{Ascent, AscentConfig, Checkpoint, Optimiser, StepReport};
pub use optvis::expression::Target;
pub use optvis::objective::Objective;
pub use optvis::param::{Levels, Param};
pub use optvis::spectrum::Spectrum;
pub use optvis::transform::Transforms;

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
    /// `takes`: which mode takes which of the fields that belong to some modes only.
    #[error("{field} does not apply to {mode} mode ({takes})")]
    FieldForOtherMode { field: &'static str, mode: String, takes: String },
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
    #[error("no layers were asked for")]
    NoLayers,
    #[error("the pictures have not been run through {layer}: run them through it first")]
    NotIndexed { layer: &'static str },
    #[error("no pictures have been run through the network yet")]
    NoPictures,
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
    let names: Vec<_> = network.layers().iter().map(|l| l.name.as_str()).collect();
    match names.as_slice() {
        [first, .., last] if names.len() > 5 => format!("{first} … {last}"),
        _ => names.join(", "),
    }
}
