//! Natural examples (Microscope's "dataset examples"): what in a set of pictures makes a filter fire, shown beside
//! its visualization. A synthetic picture alone can mislead (Borowski et al. 2021: people predicted a unit's
//! responses better from natural top-activating pictures than from its visualization; Geirhos et al. 2023: a
//! network can be changed so that its visualizations lie). The [`index`] of a set: one forward pass per picture,
//! each channel's ranking and the maps of where it fired; the [`check`] of a visualization against the set; the
//! CLI's [`sheet`]. The pictures themselves stay with the front end (the page's files, the CLI's folder): the
//! index holds numbers only.

pub mod check;
pub mod index;
pub mod sheet;

pub use check::{Check, check};
pub use index::{ActivationMap, Example, ExampleIndex, Examples};
