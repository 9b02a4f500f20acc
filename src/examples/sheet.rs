//! The CLI's sheet of examples: a row per filter, its most activating pictures (most first) and then its least
//! activating ones (least first), each with its activation map glowing over it, captioned `layer:filter value` as
//! a grid's tiles are.

use super::index::{BOTTOM, ExampleIndex, TOP};
use crate::Error;
use crate::picture::heat;
use crate::picture::image::{GridLayout, Rgba, grid};

/// Tiles a row of the sheet has: the top pictures, then the least activating.
pub const COLUMNS: usize = TOP + BOTTOM;

/// The sheet of `filters` of `layer`; `picture(i)` is the set's picture `i` as a `tile`×`tile` square. Without
/// `maps` (and on a layer without a spatial map), the pictures alone. A filter with fewer examples than the row has (a small set) leaves its row's end
/// blank.
pub fn sheet(
    index: &ExampleIndex,
    layer: usize,
    filters: &[usize],
    tile: usize,
    maps: bool,
    mut picture: impl FnMut(usize) -> Rgba,
) -> Result<(Rgba, GridLayout), Error> {
    let name = index.network().layers()[layer].name.as_str();
    let mut tiles = Vec::with_capacity(filters.len() * COLUMNS);
    let mut captions = Vec::with_capacity(filters.len() * COLUMNS);
    for &filter in filters {
        let examples = index.examples(layer, filter).ok_or(Error::NotIndexed { layer: name })?;
        let scale = examples.scale();
        let top = (0..TOP).map(|k| examples.top.get(k));
        for example in top.chain((0..BOTTOM).map(|k| examples.bottom.get(k))) {
            let Some(example) = example else {
                tiles.push(vec![255; 4 * tile * tile]);
                captions.push(String::new());
                continue;
            };
            let mut shown = picture(example.picture);
            // A map of one cell (a classifier's logits) says nothing of where: the picture alone.
            if maps && example.map.side > 1 {
                heat::overlay(&mut shown, &example.map.relative(scale), example.map.side);
            }
            tiles.push(shown.pixels);
            captions.push(format!("{name}:{filter} {}", value(example.value)));
        }
    }
    let layout = GridLayout::with_columns(tiles.len(), tile, COLUMNS);
    Ok((grid(&tiles, &captions, &layout), layout))
}

/// An activation as a caption writes it: two decimals, none from 100 on.
pub fn value(v: f32) -> String {
    if v.abs() < 100.0 { format!("{v:.2}") } else { format!("{v:.0}") }
}
