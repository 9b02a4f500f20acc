//! The merge: every filter's picture present (or the missing ones named), packed per layer into one file the page
//! reads a picture of by byte range, a contact sheet per layer, and `manifest.json` with each file's and each
//! picture's SHA-256 and the request that made them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::parts::Parts;
use super::{AtlasError, Plan, Source, sha256_hex};
use crate::optvis::param::Levels;
use crate::picture::image::{GridLayout, Rgba, TileRect, grid, rgba};

/// A contact sheet's tiles are at most this side (pixels): a layer of 512 at a glance, not 512 full pictures.
pub const SHEET_TILE: usize = 64;

/// Names of the missing pictures a refusal lists before it says "and N more".
const NAMED: usize = 12;

/// `manifest.json`: what the page needs to find, check and label any picture of the atlas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub network: String,
    pub title: String,
    pub source: Source,
    pub settings: serde_json::Value,
    pub size: usize,
    pub batch: usize,
    pub layers: Vec<PackedLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedLayer {
    pub name: String,
    pub channels: usize,
    /// The layer's pictures, one PNG after another, in filter order.
    pub file: String,
    pub bytes: usize,
    pub sha256: String,
    /// Filter i's picture: `pictures[i]`.
    pub pictures: Vec<Picture>,
    pub sheet: Sheet,
}

/// One picture's byte range in its layer's file, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    pub offset: usize,
    pub length: usize,
    pub sha256: String,
}

/// A layer's contact sheet: every filter's picture as a captioned tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    pub file: String,
    pub sha256: String,
    pub width: usize,
    pub height: usize,
    /// Filter i's tile (its picture and caption), in sheet pixels: where a click on the sheet opens filter i.
    pub tiles: Vec<TileRect>,
}

/// What the merge wrote.
pub struct Packed {
    pub manifest: Manifest,
    /// Bytes written, all files together.
    pub bytes: usize,
}

/// Packs the atlas in `folder` (its plan and parts) into `out`: refused, with the missing pictures named, unless
/// every filter's picture is there and readable.
pub fn merge(folder: &Path, out: &Path) -> Result<Packed, AtlasError> {
    let (plan, parts) = Parts::open(folder)?;
    // Every picture's name first, and the missing named before anything is read or written; then a layer at a
    // time, so the merge holds one layer's pictures, not the atlas's.
    let mut keys: Vec<Vec<String>> = plan.layers.iter().map(|l| vec![String::new(); l.channels]).collect();
    let mut missing = Vec::new();
    for batch in plan.batches() {
        let layer = plan.layers.iter().position(|l| l.name == batch.layer).expect("a batch is of a planned layer");
        for &filter in &batch.filters {
            let key = plan.key(&batch, filter);
            if !parts.has(&key) {
                missing.push(format!("{}:{filter}", batch.layer));
            }
            keys[layer][filter] = key;
        }
    }
    if !missing.is_empty() {
        let more = missing.len().saturating_sub(NAMED);
        let mut named = missing.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
        if more > 0 {
            named += &format!(" and {more} more");
        }
        return Err(AtlasError::Missing { missing: missing.len(), total: plan.filters(), named });
    }
    std::fs::create_dir_all(out)
        .map_err(|e| AtlasError::File { path: out.display().to_string(), reason: e.to_string() })?;
    let mut written = 0;
    let mut layers = Vec::new();
    for (index, (layer, keys)) in plan.layers.iter().zip(keys).enumerate() {
        let pngs = keys
            .iter()
            .enumerate()
            .map(|(filter, key)| {
                parts.read(key)?.ok_or_else(|| AtlasError::File {
                    path: folder.join("parts").display().to_string(),
                    reason: format!("{}:{filter}'s picture went while the merge ran", layer.name),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let file = format!("layer-{index:03}.bin");
        let mut packed = Vec::with_capacity(pngs.iter().map(Vec::len).sum());
        let mut entries = Vec::new();
        for png in &pngs {
            entries.push(Picture { offset: packed.len(), length: png.len(), sha256: sha256_hex(png) });
            packed.extend_from_slice(png);
        }
        write(out, &file, &packed)?;
        let sheet = contact_sheet(&plan, index, &pngs, folder)?;
        let sheet_file = format!("layer-{index:03}.png");
        let sheet_png = sheet.0.to_png();
        write(out, &sheet_file, &sheet_png)?;
        written += packed.len() + sheet_png.len();
        layers.push(PackedLayer {
            name: layer.name.clone(),
            channels: layer.channels,
            file,
            bytes: packed.len(),
            sha256: sha256_hex(&packed),
            pictures: entries,
            sheet: Sheet {
                file: sheet_file,
                sha256: sha256_hex(&sheet_png),
                width: sheet.1.width(),
                height: sheet.1.height(),
                tiles: sheet.1.tiles(),
            },
        });
    }
    let manifest = Manifest {
        format: plan.format.clone(),
        network: plan.network.clone(),
        title: plan.title.clone(),
        source: plan.source.clone(),
        settings: plan.settings.clone(),
        size: plan.size,
        batch: plan.batch,
        layers,
    };
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises") + "\n";
    write(out, "manifest.json", text.as_bytes())?;
    Ok(Packed { manifest, bytes: written + text.len() })
}

/// Layer `index`'s pictures as a grid of tiles of at most [`SHEET_TILE`] px, each captioned with its filter.
fn contact_sheet(plan: &Plan, index: usize, pngs: &[Vec<u8>], folder: &Path) -> Result<(Rgba, GridLayout), AtlasError> {
    let tile = plan.size.min(SHEET_TILE);
    let tiles = pngs
        .iter()
        .enumerate()
        .map(|(filter, png)| {
            let picture = Rgba::from_png(png).map_err(|e| AtlasError::File {
                path: format!("{} ({}:{filter})", folder.join("parts").display(), plan.layers[index].name),
                reason: e,
            })?;
            Ok(if picture.width == tile {
                picture.pixels
            } else {
                rgba(&picture.to_planar_square(tile), tile, tile, Levels::Clamp)
            })
        })
        .collect::<Result<Vec<_>, AtlasError>>()?;
    let captions: Vec<String> = (0..pngs.len()).map(|f| f.to_string()).collect();
    let layout = GridLayout::new(pngs.len(), tile);
    Ok((grid(&tiles, &captions, &layout), layout))
}

fn write(out: &Path, name: &str, bytes: &[u8]) -> Result<(), AtlasError> {
    let path = out.join(name);
    std::fs::write(&path, bytes)
        .map_err(|e| AtlasError::File { path: path.display().to_string(), reason: e.to_string() })
}
