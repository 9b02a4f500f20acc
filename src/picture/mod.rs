//! Pictures from the ascent's images: RGBA8, captioned grids and PNG files ([`image`]), activation maps as heat over
//! pictures ([`heat`]), and the ascent as an
//! animated PNG ([`animation`]). Beside the visualization core, above it: they show what it made.

pub mod animation;
pub mod heat;
pub mod image;
