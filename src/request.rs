//! One request for a visualization, whoever asks: the page (its link, through the worker) and the CLI (its
//! arguments) are two front ends for [`RunRequest`]. This is the one place where each mode's preset, the
//! request's overrides and their validation live; [`RunRequest::plan`] turns a request into what the loop runs,
//! `(Objective, AscentConfig)`, or a typed error that names the field.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ascent::{AscentConfig, Optimiser};
use crate::model::{Activation, Network};
use crate::objective::{Objective, Target};
use crate::param::Param;
use crate::transform::{Crops, Transforms};

/// The three presets: the original plain ascent on pixels, Lucid's recipe, and MACO's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Classic,
    Lucid,
    Maco,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Classic, Mode::Lucid, Mode::Maco];

    /// The mode's settings before a request's overrides.
    pub fn preset(self) -> Preset {
        match self {
            // The original demo: 150 max-normalised steps of 2/255 on a 224 px image of pixels, untransformed.
            Mode::Classic => {
                Preset { steps: 150, size: 224, jitter: 0, crops: None, crop_side: None, rate: Rate::StepSize(2.0) }
            }
            // Lucid's defaults: 512 Adam steps at 0.05 on a 128 px FFT image under the standard transforms.
            Mode::Lucid => Preset {
                steps: 512,
                size: 128,
                jitter: 8,
                crops: None,
                crop_side: None,
                rate: Rate::LearningRate(0.05),
            },
            // xplique's MACO: 256 NAdam steps at 1.0 on the phase; a 256 px picture seen through 8 crops a step
            // (xplique takes 32 of a 512 px one: a fourth of the work per step, for a CPU in a browser).
            Mode::Maco => Preset {
                steps: 256,
                size: 256,
                jitter: 0,
                crops: Some(8),
                crop_side: Some(128),
                rate: Rate::LearningRate(1.0),
            },
        }
    }

    /// The optimiser this mode moves its parameters with, at `rate`.
    pub fn optimiser(self, rate: Rate) -> Optimiser {
        match (self, rate) {
            (_, Rate::StepSize(levels)) => Optimiser::MaxNormalised { step_size: levels / 255.0 },
            (Mode::Maco, Rate::LearningRate(learning_rate)) => Optimiser::Nadam { learning_rate },
            (_, Rate::LearningRate(learning_rate)) => Optimiser::Adam { learning_rate },
        }
    }

    /// The loop's configuration for this mode's preset, seed 0, starting from noise.
    pub fn config(self) -> AscentConfig {
        let preset = self.preset();
        let (param, transforms) = match (self, preset.crops, preset.crop_side) {
            (Mode::Maco, Some(count), Some(side)) => (Param::Phase, Transforms::maco(Crops { count, side })),
            (Mode::Lucid, ..) => (Param::Fft, Transforms::standard()),
            _ => (Param::Pixels, Transforms::none()),
        };
        let transforms = Transforms { jitter: preset.jitter, ..transforms };
        AscentConfig {
            steps: preset.steps,
            size: preset.size,
            seed: 0,
            param,
            transforms,
            optimiser: self.optimiser(preset.rate),
            init: None,
            accentuate: 0.0,
            spectrum: None,
        }
    }
}

/// A mode's defaults for the request's optional fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preset {
    pub steps: usize,
    pub size: usize,
    /// The random shift before the transforms' scaling and rotation, pixels (Lucid's `jitter(8)`).
    pub jitter: usize,
    /// MACO's crops per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crops: Option<usize>,
    /// The side MACO's crops are resized to, pixels: the network's input, `crops` times a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop_side: Option<usize>,
    #[serde(flatten)]
    pub rate: Rate,
}

/// How far a step goes, in the unit of the mode's optimiser: classic's step size in grey levels (1/255 of the
/// [0, 1] range), or Adam's (NAdam's) learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rate {
    StepSize(f32),
    #[serde(rename = "lr")]
    LearningRate(f32),
}

/// A visualization, as the link and the CLI say it. Optional fields take the mode's preset; a field that does
/// not belong to the mode (`lr` in classic mode, `stepSize` in lucid mode, `jitter` in maco mode, `crops` outside
/// it) is refused, never silently mapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRequest {
    pub mode: Mode,
    /// The network whose filter is shown (VGG16 when absent).
    #[serde(default)]
    pub model: Network,
    /// One of the network's layers: `conv1_1` … `conv5_3` for VGG16, `conv1` … `conv5` for AlexNet. With
    /// `filters`; absent with `expressions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// One filter of `layer`, or several optimised together as one batch (a grid). Empty with `expressions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<usize>,
    /// What `objective` reads of each filter.
    #[serde(default)]
    pub objective: Target,
    /// Instead of `layer` and `filters`: one objective expression per image (a weighted sum across layers,
    /// `conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7`; the grammar is [`crate::expression`]'s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expressions: Vec<String>,
    /// Maximise the activation before the layer's ReLU.
    #[serde(default)]
    pub pre_relu: bool,
    /// Minimise instead: what the filter responds to least (negative visualization). Reads the activation before
    /// the ReLU, whose floor of 0 any silencing picture would reach.
    #[serde(default)]
    pub minimise: bool,
    /// Weight of Lucid's diversity term (0: none), which pushes the batch's images apart: with a filter repeated in
    /// `filters`, several different pictures of one filter. Nothing to push apart in a batch of one.
    #[serde(default)]
    pub diversity: usize,
    /// Feature accentuation: the weight of a pull toward the starting picture's own features (0: none). Needs a
    /// starting picture (which is not part of the request).
    #[serde(default)]
    pub accentuate: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Side of the square image, pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Classic mode's step size in grey levels (2 means 2/255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f32>,
    /// Lucid mode's Adam learning rate, maco mode's NAdam one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// Random shift of the image before each step, pixels (0 in classic mode, 8 in lucid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<usize>,
    /// Maco mode's random crops per step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crops: Option<usize>,
    /// Seeds the starting noise and the random transforms.
    #[serde(default)]
    pub seed: u64,
}

impl RunRequest {
    /// The mode's preset for `filters` of VGG16's `layer`, seed 0.
    pub fn new(mode: Mode, layer: &str, filters: &[usize]) -> Self {
        Self { layer: Some(layer.to_string()), filters: filters.to_vec(), ..Self::blank(mode, Network::Vgg16) }
    }

    /// The mode's preset for one picture per expression of `model`, seed 0.
    pub fn with_expressions(mode: Mode, model: Network, expressions: &[String]) -> Self {
        Self { expressions: expressions.to_vec(), ..Self::blank(mode, model) }
    }

    /// The mode's preset, with nothing to show yet.
    fn blank(mode: Mode, model: Network) -> Self {
        Self {
            mode,
            model,
            layer: None,
            filters: Vec::new(),
            objective: Target::Channel,
            expressions: Vec::new(),
            pre_relu: false,
            minimise: false,
            diversity: 0,
            accentuate: 0,
            steps: None,
            size: None,
            step_size: None,
            lr: None,
            jitter: None,
            crops: None,
            seed: 0,
        }
    }

    pub fn objective(&self) -> Result<Objective, Error> {
        let activation = if self.pre_relu || self.minimise { Activation::PreRelu } else { Activation::PostRelu };
        let objective = match (&self.layer, self.expressions.is_empty()) {
            (Some(layer), true) => Objective::new(self.model, layer, &self.filters, self.objective, activation)?,
            (None, false) if self.filters.is_empty() && self.objective == Target::Channel => {
                Objective::expressions(self.model, &self.expressions, activation)?
            }
            (None, true) => return Err(Error::NoFilters),
            _ => return Err(Error::TwoObjectives),
        };
        let objective = objective.with_diversity(limits::DIVERSITY.check(self.diversity)? as f32);
        Ok(if self.minimise { objective.minimised() } else { objective })
    }

    /// The loop's configuration: the mode's preset with this request's overrides, validated. Starts from noise;
    /// set [`AscentConfig::init`] to start from a picture.
    pub fn config(&self) -> Result<AscentConfig, Error> {
        let mut config = self.mode.config();
        let preset = self.mode.preset();
        config.steps = self.steps.unwrap_or(preset.steps);
        config.size = self.size.unwrap_or(preset.size);
        config.seed = limits::SEED.check(self.seed)?;
        config.accentuate = limits::ACCENTUATE.check(self.accentuate)? as f32;
        let foreign = match self.mode {
            Mode::Classic => [self.lr.map(|_| "lr"), self.crops.map(|_| "crops")],
            Mode::Lucid => [self.step_size.map(|_| "stepSize"), self.crops.map(|_| "crops")],
            Mode::Maco => [self.step_size.map(|_| "stepSize"), self.jitter.map(|_| "jitter")],
        };
        if let Some(field) = foreign.into_iter().flatten().next() {
            return Err(Error::FieldForOtherMode { field, mode: self.mode });
        }
        config.transforms.jitter = limits::JITTER.check(self.jitter.unwrap_or(preset.jitter))?;
        if let Some(crops) = &mut config.transforms.crops {
            crops.count = limits::CROPS.check(self.crops.unwrap_or(crops.count))?;
        }
        let rate = match preset.rate {
            Rate::StepSize(levels) => Rate::StepSize(limits::STEP_SIZE.check(self.step_size.unwrap_or(levels))?),
            Rate::LearningRate(lr) => Rate::LearningRate(limits::LEARNING_RATE.check(self.lr.unwrap_or(lr))?),
        };
        config.optimiser = self.mode.optimiser(rate);
        config.validate(self.model)?;
        Ok(config)
    }

    /// What the loop runs for this request, or why it cannot.
    pub fn plan(&self) -> Result<(Objective, AscentConfig), Error> {
        Ok((self.objective()?, self.config()?))
    }
}

/// The allowed values of the request's numeric fields, named as the request names them.
pub mod limits {
    use std::fmt::Display;

    use serde::Serialize;

    use crate::Error;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
    pub struct Limit<T> {
        #[serde(skip)]
        pub field: &'static str,
        pub min: T,
        pub max: T,
    }

    impl<T: PartialOrd + Copy + Display> Limit<T> {
        /// `value` if it lies within the limit (NaN does not), else an error naming the field.
        pub fn check(&self, value: T) -> Result<T, Error> {
            if value >= self.min && value <= self.max {
                Ok(value)
            } else {
                Err(Error::OutOfRange {
                    field: self.field,
                    value: value.to_string(),
                    min: self.min.to_string(),
                    max: self.max.to_string(),
                })
            }
        }
    }

    pub const STEPS: Limit<usize> = Limit { field: "steps", min: 1, max: 10_000 };
    pub const SIZE: Limit<usize> = Limit { field: "size", min: 16, max: 1024 };
    /// Grey levels (1/255 of the [0, 1] range).
    pub const STEP_SIZE: Limit<f32> = Limit { field: "stepSize", min: 0.01, max: 64.0 };
    pub const LEARNING_RATE: Limit<f32> = Limit { field: "lr", min: 1e-4, max: 1.0 };
    pub const DIVERSITY: Limit<usize> = Limit { field: "diversity", min: 0, max: 10_000 };
    pub const ACCENTUATE: Limit<usize> = Limit { field: "accentuate", min: 0, max: 100 };
    /// Pixels (and the transformed image must still reach the network's deepest layer: see
    /// `AscentConfig::validate`).
    pub const JITTER: Limit<usize> = Limit { field: "jitter", min: 0, max: 32 };
    /// Maco mode's crops per step: each is a forward and backward pass of the network.
    pub const CROPS: Limit<usize> = Limit { field: "crops", min: 1, max: 64 };
    /// Seeds are 32-bit, so that every one is exact in a link (JavaScript numbers) and on the command line.
    pub const SEED: Limit<u64> = Limit { field: "seed", min: 0, max: u32::MAX as u64 };
}

/// Names as the request spells them (`classic`, `neuron`, …), for command-line parsing.
macro_rules! from_name {
    ($type:ty, $what:literal, $all:expr) => {
        impl std::str::FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
                    let names: Vec<String> = $all.iter().map(|v| v.to_string()).collect();
                    format!("unknown {} '{s}' (expected {})", $what, names.join(", "))
                })
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let name = serde_json::to_value(self).expect("a unit variant serialises to its name");
                f.write_str(name.as_str().expect("a unit variant serialises to a string"))
            }
        }
    };
}

pub(crate) use from_name;

from_name!(Mode, "mode", Mode::ALL);
from_name!(Target, "objective", Target::ALL);
