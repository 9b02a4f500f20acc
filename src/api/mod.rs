//! What a front end (the page, the CLI) talks to: one run [`request`] (the modes' presets, overrides, validation,
//! and the plan the loop runs) and the [`catalog`] of what can be asked for. Above the core, the pictures and the
//! backends; below the front ends.

pub mod catalog;
pub mod request;
