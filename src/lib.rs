//! filterlens: what does a VGG16 filter respond to?
//!
//! Feature visualization by gradient ascent on the input image. The core here is backend-independent: the same
//! code runs on WebGPU or Flex in the browser (through the wasm surface), and on wgpu, Flex or ndarray natively
//! (the CLI and the tests).
//!
//! The pieces, in the vocabulary of Lucid's `optvis`:
//! - [`vgg`]: the model, VGG16's 13 conv layers, forward up to a named layer;
//! - [`weights`]: safetensors bytes to a model, with validation;
//! - [`objective`]: what to maximise (a channel's mean, a neuron, a whole layer);
//! - [`param`]: how the image is parameterised (pixels, or Lucid's FFT spectrum with decorrelated colour);
//! - [`transform`]: random pad, jitter, scale and rotation before each forward pass;
//! - [`ascent`]: the optimisation loop (classic's max-normalised step, or Adam), per-step metrics, checkpoints;
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
pub mod image;
pub mod objective;
pub mod param;
pub mod request;
pub mod transform;
pub mod vgg;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;

pub use ascent::{Ascent, AscentConfig, Checkpoint, Optimiser, StepReport};
pub use device::{Backend, BackendChoice, BackendInfo, Backends, Fallback};
pub use objective::{Objective, Target};
pub use param::Param;
pub use request::{Mode, RunRequest};
pub use transform::Transforms;
pub use vgg::{Activation, LAYERS, LayerSpec, Vgg16};
pub use weights::WeightsError;

/// Everything that can go wrong when asking for a visualization, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown layer '{0}' (expected one of conv1_1 … conv5_3)")]
    UnknownLayer(String),
    #[error("filter {filter} is out of range: {layer} has filters 0..={max}", max = channels - 1)]
    FilterOutOfRange { layer: &'static str, filter: usize, channels: usize },
    #[error("{field} {value} is out of range ({min} to {max})")]
    OutOfRange { field: &'static str, value: String, min: String, max: String },
    #[error(
        "the random transforms shrink a {size} px image to {smallest} px, below the {min} px the model needs: choose a larger size or less jitter"
    )]
    TransformedTooSmall { size: usize, smallest: usize, min: usize },
    #[error("{field} does not apply to {mode} mode (classic takes stepSize, lucid takes lr)")]
    RateForOtherMode { field: &'static str, mode: Mode },
    #[error("the starting image has {values} values, expected 3 × {size} × {size}")]
    InitSize { values: usize, size: usize },
    #[error("the weights of {layer} have not arrived yet (those of the first {loaded} layers have)")]
    LayerNotLoaded { layer: &'static str, loaded: usize },
    #[error("no filters were asked for")]
    NoFilters,
    #[error("the {backend} backend is unavailable: {reason}")]
    BackendUnavailable { backend: Backend, reason: String },
    #[error("reading a result from the device failed: {0}")]
    ReadBack(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}
