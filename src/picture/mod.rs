//! Pictures from the ascent's images: RGBA8, captioned grids and PNG files ([`image`]), and the ascent as an
//! animated PNG ([`animation`]). Beside the visualization core, above it: they show what it made.

pub mod animation;
pub mod image;
