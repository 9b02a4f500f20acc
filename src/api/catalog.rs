//! What can be asked for, in one table for every front end: the networks with their layers and channel counts, the
//! modes with their presets, the request's fields with their kinds and limits, the objectives and the backends.
//!
//! `filterlens catalog` prints it; `www/catalog.json` is that output, committed so the page can build its
//! controls and read a link before the WebAssembly arrives, and read by `weights/prepare.py` and the benches. A
//! test keeps the file equal to [`catalog`].

use serde::Serialize;

use super::request::{Mode, Preset};
use crate::backends::Backend;
use crate::net::{Layer, Network, Preprocessing};
use crate::optvis::expression::{self, Target};
use crate::optvis::limits;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    pub models: Vec<ModelEntry>,
    pub modes: Vec<ModeEntry>,
    /// The fields of [`crate::RunRequest`] a front end sets, beside `filters`.
    pub fields: Vec<Field>,
    pub backends: Vec<Backend>,
}

/// A network: what the request's `model` names, and the `layer`s it takes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelEntry {
    pub name: Network,
    pub title: &'static str,
    /// The layer a front end shows first, and a request's `layer` default.
    pub default_layer: &'static str,
    /// The smallest image side that reaches the deepest layer (after the random transforms' shrinking).
    pub smallest_size: usize,
    /// RGB in [0, 1] is normalised inside the model with these.
    pub preprocessing: Preprocessing,
    pub layers: Vec<LayerEntry>,
    /// The weighted nodes, in the order the weights file holds them: the file's parts after its header, each
    /// named after its node. A layer needs the first `params` of them.
    pub weights: Vec<WeightsEntry>,
    /// The classifier, where the network has one: `class(…)` objectives read its layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierEntry>,
}

/// A layer as the front ends see it: its name, channels, activation function and the weighted nodes it needs, and
/// its multiply-adds per input pixel ([`Network::macs_per_pixel`]), for their time estimates.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerEntry {
    #[serde(flatten)]
    pub layer: &'static Layer,
    pub macs_per_pixel: f64,
}

/// A weighted node: its name, and its tensors' names and shapes as the weights file holds them.
#[derive(Debug, Clone, Serialize)]
pub struct WeightsEntry {
    pub name: &'static str,
    pub tensors: Vec<(&'static str, &'static [usize])>,
}

impl ModelEntry {
    /// What a front end shows of `network` (a built-in one, or one opened from a file).
    pub fn of(network: Network) -> Self {
        ModelEntry {
            name: network,
            title: network.title(),
            default_layer: network.default_layer(),
            smallest_size: network.smallest_input(),
            preprocessing: network.preprocessing(),
            layers: network
                .layers()
                .iter()
                .zip(network.macs_per_pixel())
                .map(|(layer, macs_per_pixel)| LayerEntry { layer, macs_per_pixel })
                .collect(),
            weights: network
                .graph()
                .params()
                .iter()
                .map(|p| WeightsEntry {
                    name: &p.name,
                    tensors: p.tensors.iter().map(|(name, shape)| (name.as_str(), shape.as_slice())).collect(),
                })
                .collect(),
            classifier: network.classifier().map(|(layer, classes)| ClassifierEntry { layer, classes }),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassifierEntry {
    /// The layer of the class logits.
    pub layer: &'static str,
    /// The classes' names, by index.
    pub classes: &'static [String],
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeEntry {
    pub name: Mode,
    pub preset: Preset,
    /// Whether a run can start from a picture of one's own (maco's phase cannot hold one).
    pub starts_from_picture: bool,
    /// How much larger than the image a view of it is, unscaled, before the request's `jitter`
    /// (`Transforms::view_margin`); maco's views are the preset's `cropSide`.
    pub view_margin: usize,
}

/// One field of the request: its name (as in the request and the page's link) and what it takes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: FieldKind,
    /// The modes the field applies to (all when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modes: Option<Vec<Mode>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FieldKind {
    /// One of `choices`; `default` when the mode's preset says nothing.
    Choice {
        choices: Vec<String>,
        default: String,
    },
    Integer {
        min: u64,
        max: u64,
        default: Option<u64>,
    },
    Number {
        min: f32,
        max: f32,
    },
    Boolean {
        default: bool,
    },
    /// One of the `model`'s layers (`models[].layers`); the model's `defaultLayer` by default.
    Layer,
    /// Objective expressions (one per image; crate::optvis::expression's grammar), each at most `maxChars` characters;
    /// none by default.
    #[serde(rename_all = "camelCase")]
    Expressions {
        max_chars: usize,
    },
}

fn names<T: std::fmt::Display>(values: impl IntoIterator<Item = T>) -> Vec<String> {
    values.into_iter().map(|v| v.to_string()).collect()
}

pub fn catalog() -> Catalog {
    let within = |limit: limits::Limit<usize>, default| FieldKind::Integer {
        min: limit.min as u64,
        max: limit.max as u64,
        default,
    };
    let integer = |limit| within(limit, None);
    // A term's weight: 0 (none) by default.
    let weight = |limit| within(limit, Some(0));
    let field = |name, kind| Field { name, kind, modes: Mode::taking(name).map(<[Mode]>::to_vec) };
    Catalog {
        models: Network::ALL.into_iter().map(ModelEntry::of).collect(),
        modes: Mode::ALL
            .into_iter()
            .map(|name| ModeEntry {
                name,
                preset: name.preset(),
                starts_from_picture: name.preset_config().param.holds_pictures(),
                view_margin: name.preset_config().transforms.view_margin(),
            })
            .collect(),
        fields: vec![
            field("mode", FieldKind::Choice { choices: names(Mode::ALL), default: Mode::Classic.to_string() }),
            field("model", FieldKind::Choice { choices: names(Network::ALL), default: Network::default().to_string() }),
            field("layer", FieldKind::Layer),
            field("objective", FieldKind::Choice { choices: names(Target::ALL), default: Target::Channel.to_string() }),
            field("expressions", FieldKind::Expressions { max_chars: expression::MAX_CHARS }),
            field("preRelu", FieldKind::Boolean { default: false }),
            field("minimise", FieldKind::Boolean { default: false }),
            field("diversity", weight(limits::DIVERSITY)),
            field("accentuate", weight(limits::ACCENTUATE)),
            field("steps", integer(limits::STEPS)),
            field("size", integer(limits::SIZE)),
            field("stepSize", FieldKind::Number { min: limits::STEP_SIZE.min, max: limits::STEP_SIZE.max }),
            field("lr", FieldKind::Number { min: limits::LEARNING_RATE.min, max: limits::LEARNING_RATE.max }),
            field("jitter", integer(limits::JITTER)),
            field("crops", integer(limits::CROPS)),
            field("seed", FieldKind::Integer { min: limits::SEED.min, max: limits::SEED.max, default: Some(0) }),
        ],
        backends: Backend::ALL.to_vec(),
    }
}

impl Catalog {
    /// Pretty JSON with a final newline, as `www/catalog.json` holds it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the catalog serialises") + "\n"
    }
}
