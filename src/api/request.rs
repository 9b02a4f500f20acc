//! One request for a visualization, whoever asks: the page (its link, through the worker) and the CLI (its
//! arguments) are two front ends for [`RunRequest`]. This is the one place where each mode's preset, the
//! request's overrides and their validation live; [`RunRequest::plan`] turns a request into what the loop runs,
//! `(Objective, AscentConfig)`, or a typed error that names the field.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::Error;
use crate::names::from_name;
use crate::net::{Activation, Network};
use crate::optvis::ascent::{AscentConfig, Optimiser};
use crate::optvis::expression::Target;
use crate::optvis::limits;
use crate::optvis::objective::Objective;
use crate::optvis::param::Param;
use crate::optvis::spectrum::Spectrum;
use crate::optvis::transform::{Crops, Transforms};
use crate::picture::image::Rgba;

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

    /// The loop's configuration for this mode's preset, seed 0, starting from noise: as it is, unvalidated (a
    /// request's [`RunRequest::config`] is this with its overrides, validated).
    pub fn preset_config(self) -> AscentConfig {
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

/// The request's fields that belong to some modes only, with those modes: the one table the request checks, the
/// catalog shows and a refusal quotes. Every other field applies to every mode.
pub const MODE_FIELDS: [(&str, &[Mode]); 4] = [
    ("stepSize", &[Mode::Classic]),
    ("lr", &[Mode::Lucid, Mode::Maco]),
    ("jitter", &[Mode::Classic, Mode::Lucid]),
    ("crops", &[Mode::Maco]),
];

impl Mode {
    /// The modes `field` applies to, where it belongs to some only ([`MODE_FIELDS`]).
    pub fn taking(field: &str) -> Option<&'static [Mode]> {
        MODE_FIELDS.iter().find(|(name, _)| *name == field).map(|&(_, modes)| modes)
    }

    /// Whether this mode takes `field`.
    pub fn takes(self, field: &str) -> bool {
        Self::taking(field).is_none_or(|modes| modes.contains(&self))
    }

    /// Which mode takes which of [`MODE_FIELDS`], as a refusal says it: "classic takes stepSize and jitter, …".
    fn fields_taken() -> String {
        let taken = |mode: Mode| {
            let names: Vec<&str> =
                MODE_FIELDS.iter().filter(|(_, modes)| modes.contains(&mode)).map(|(n, _)| *n).collect();
            format!("{mode} takes {}", names.join(" and "))
        };
        Mode::ALL.map(taken).join(", ")
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
    /// What the objective reads of each filter (the link's and the CLI's `objective`: channel, neuron or layer).
    #[serde(default, rename = "objective")]
    pub target: Target,
    /// Instead of `layer` and `filters`: one objective expression per image (a weighted sum across layers,
    /// `conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7`; the grammar is [`crate::optvis::expression`]'s).
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
            target: Target::Channel,
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
        let activation = if self.pre_relu || self.minimise { Activation::Before } else { Activation::After };
        let objective = match (&self.layer, self.expressions.is_empty()) {
            (Some(layer), true) => Objective::new(self.model, layer, &self.filters, self.target, activation)?,
            (None, false) if self.filters.is_empty() && self.target == Target::Channel => {
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
        let mut config = self.mode.preset_config();
        let preset = self.mode.preset();
        config.steps = self.steps.unwrap_or(preset.steps);
        config.size = self.size.unwrap_or(preset.size);
        config.seed = limits::SEED.check(self.seed)?;
        config.accentuate = limits::ACCENTUATE.check(self.accentuate)? as f32;
        let given = [
            ("stepSize", self.step_size.is_some()),
            ("lr", self.lr.is_some()),
            ("jitter", self.jitter.is_some()),
            ("crops", self.crops.is_some()),
        ];
        if let Some((field, _)) = given.into_iter().find(|&(field, set)| set && !self.mode.takes(field)) {
            return Err(Error::FieldForOtherMode { field, mode: self.mode.to_string(), takes: Mode::fields_taken() });
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

    /// This request with each optional field its mode takes set to the mode's preset where it was absent: the
    /// same run, said in full (an atlas's settings, which the page compares with its own request field by field).
    pub fn resolved(&self) -> RunRequest {
        let preset = self.mode.preset();
        let (step_size, lr) = match preset.rate {
            Rate::StepSize(levels) => (self.step_size.or(Some(levels)), self.lr),
            Rate::LearningRate(lr) => (self.step_size, self.lr.or(Some(lr))),
        };
        RunRequest {
            steps: self.steps.or(Some(preset.steps)),
            size: self.size.or(Some(preset.size)),
            step_size,
            lr,
            jitter: if self.mode.takes("jitter") { self.jitter.or(Some(preset.jitter)) } else { self.jitter },
            crops: self.crops.or(preset.crops),
            ..self.clone()
        }
    }

    /// What the loop runs for this request from `start`, or why it cannot.
    pub fn plan(&self, start: &Start) -> Result<(Objective, AscentConfig), Error> {
        let mut config = self.config()?;
        config.init = start.picture.as_ref().map(|picture| picture.to_planar_square(config.size));
        config.spectrum = start.spectrum.clone();
        Ok((self.objective()?, config))
    }
}

/// What a run starts from besides its request, which a front end brings: a picture of its own (its centre square,
/// resized to the run's size; none: the seed's noise), and ImageNet's magnitude spectrum, which maco mode needs (the
/// other modes ignore it).
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub picture: Option<Rgba>,
    pub spectrum: Option<Arc<Spectrum>>,
}

from_name!(Mode, "mode", Mode::ALL);

#[cfg(test)]
mod tests {
    use super::*;

    /// Said in full, a request is the same run, and each field its mode takes is given; none it does not take.
    #[test]
    fn a_resolved_request_is_the_same_run_said_in_full() {
        for mode in Mode::ALL {
            let request = RunRequest::new(mode, "conv3_1", &[4]);
            let resolved = request.resolved();
            assert_eq!(resolved.config().unwrap(), request.config().unwrap(), "{mode}");
            let json = serde_json::to_value(&resolved).unwrap();
            for field in ["steps", "size", "stepSize", "lr", "jitter", "crops"] {
                assert_eq!(json.get(field).is_some(), mode.takes(field), "{mode}: {field} in {json}");
            }
            let given = RunRequest { steps: Some(7), size: Some(96), ..request };
            assert_eq!((given.resolved().steps, given.resolved().size), (Some(7), Some(96)), "{mode}: kept");
        }
    }
}
