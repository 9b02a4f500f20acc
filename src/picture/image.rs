//! From tensors to pictures: RGBA8 (classic min-max normalisation, or as-is for images already in [0, 1]),
//! captioned grids of tiles, PNG encoding.

use crate::optvis::param::Levels;

/// One image, planar `[3][height][width]`, to RGBA8 rows.
pub fn rgba(planar: &[f32], width: usize, height: usize, levels: Levels) -> Vec<u8> {
    match levels {
        Levels::MinMax => min_max_rgba(planar, width, height),
        Levels::Clamp => interleave(planar, width * height, |v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
    }
}

/// One image, planar `[3][height][width]` floats of any range, to RGBA8 rows, stretched so its smallest value is
/// black and its largest white (the classic display). A constant image is mid grey.
pub fn min_max_rgba(planar: &[f32], width: usize, height: usize) -> Vec<u8> {
    let plane = width * height;
    assert_eq!(planar.len(), 3 * plane, "expected 3 planes of {width}x{height}");
    let (lo, hi) = planar.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    interleave(planar, plane, |v| if scale > 0.0 { ((v - lo) * scale).round() as u8 } else { 128 })
}

fn interleave(planar: &[f32], plane: usize, level: impl Fn(f32) -> u8) -> Vec<u8> {
    let mut rgba = Vec::with_capacity(4 * plane);
    for p in 0..plane {
        rgba.extend_from_slice(&[level(planar[p]), level(planar[plane + p]), level(planar[2 * plane + p]), 255]);
    }
    rgba
}

/// Each image of a batch, planar `[batch][3][size][size]`, each on its own (min-max normalised one by one).
pub fn batch_rgba(planar: &[f32], size: usize, levels: Levels) -> Vec<Vec<u8>> {
    planar.chunks_exact(3 * size * size).map(|one| rgba(one, size, size, levels)).collect()
}

/// A picture: RGBA8 rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Where the tiles of a run's picture go: one image on its own (no caption), or a grid of `columns` to a row, each
/// tile with a caption strip below it and [`GridLayout::GAP`] pixels of white between neighbours. The one owner of
/// this geometry: the picture, the canvas size, the tile rectangles and hit-testing all come from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GridLayout {
    pub count: usize,
    /// Side of a tile's image, pixels.
    pub tile: usize,
    pub columns: usize,
}

/// A tile's image and caption, in picture pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TileRect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl GridLayout {
    pub const GAP: usize = 4;

    /// A near-square grid at least 3 wide: 6 tiles as 3×2, 16 as 4×4, 64 as 8×8.
    pub fn new(count: usize, tile: usize) -> Self {
        Self::with_columns(count, tile, (count as f64).sqrt().ceil().max(3.0) as usize)
    }

    pub fn with_columns(count: usize, tile: usize, columns: usize) -> Self {
        Self { count, tile, columns: columns.clamp(1, count.max(1)) }
    }

    /// One image shows on its own, without a caption.
    pub fn is_single(&self) -> bool {
        self.count == 1
    }

    pub fn rows(&self) -> usize {
        self.count.div_ceil(self.columns)
    }

    /// Glyphs are drawn at this integer scale, so captions grow with the tiles (64 px: 1, 128 px: 2, 224 px: 3).
    fn text_scale(&self) -> usize {
        (self.tile / 64).max(1)
    }

    pub fn caption_height(&self) -> usize {
        if self.is_single() { 0 } else { (GLYPH_HEIGHT + 4) * self.text_scale() }
    }

    pub fn width(&self) -> usize {
        self.columns * self.tile + (self.columns - 1) * Self::GAP
    }

    pub fn height(&self) -> usize {
        let rows = self.rows();
        rows * (self.tile + self.caption_height()) + rows.saturating_sub(1) * Self::GAP
    }

    /// Top-left corner of tile `index`'s image.
    pub fn origin(&self, index: usize) -> (usize, usize) {
        let pitch_y = self.tile + self.caption_height() + Self::GAP;
        ((index % self.columns) * (self.tile + Self::GAP), (index / self.columns) * pitch_y)
    }

    /// Each tile's image and caption.
    pub fn tiles(&self) -> Vec<TileRect> {
        (0..self.count)
            .map(|index| {
                let (x, y) = self.origin(index);
                TileRect { x, y, width: self.tile, height: self.tile + self.caption_height() }
            })
            .collect()
    }

    /// The tile whose image or caption covers picture pixel (`x`, `y`); none for gaps and empty cells.
    pub fn tile_at(&self, x: usize, y: usize) -> Option<usize> {
        let (pitch_x, pitch_y) = (self.tile + Self::GAP, self.tile + self.caption_height() + Self::GAP);
        let (column, row) = (x / pitch_x, y / pitch_y);
        let inside = x % pitch_x < self.tile && y % pitch_y < pitch_y - Self::GAP;
        let index = row * self.columns + column;
        (inside && column < self.columns && index < self.count).then_some(index)
    }
}

/// What a run shows: one image on its own (no caption), or several as a captioned grid. `planar` is
/// `[batch][3][size][size]`; each image is normalised on its own, as classic mode normalises its one image.
pub fn picture(planar: &[f32], levels: Levels, captions: &[String], layout: &GridLayout) -> Rgba {
    grid(&batch_rgba(planar, layout.tile, levels), captions, layout)
}

/// Tiles already in RGBA8 (each `layout.tile` square) laid out as [`picture`] lays a run's images out.
pub fn grid(tiles: &[Vec<u8>], captions: &[String], layout: &GridLayout) -> Rgba {
    let size = layout.tile;
    if let [one] = tiles
        && layout.is_single()
    {
        return Rgba { width: size, height: size, pixels: one.clone() };
    }
    let mut picture = Rgba {
        width: layout.width(),
        height: layout.height(),
        pixels: vec![255; 4 * layout.width() * layout.height()],
    };
    let scale = layout.text_scale();
    assert_eq!(captions.len(), tiles.len(), "one caption per tile");
    for (index, (tile, caption)) in tiles.iter().zip(captions).enumerate() {
        let (x0, y0) = layout.origin(index);
        for y in 0..size {
            let dst = 4 * ((y0 + y) * picture.width + x0);
            picture.pixels[dst..dst + 4 * size].copy_from_slice(&tile[4 * y * size..4 * (y + 1) * size]);
        }
        // The whole caption if it fits, else only what follows the layer's ':' (the filter numbers).
        let fitting = [caption.as_str(), caption.split_once(':').map_or("", |(_, filters)| filters)]
            .into_iter()
            .find_map(|t| text_width(t).map(|w| (t, w * scale)).filter(|(_, w)| w + 2 <= size));
        if let Some((text, width)) = fitting {
            let x = x0 + (size - width) / 2;
            picture.draw_text(text, x, y0 + size + 2 * scale, scale);
        }
    }
    picture
}

/// MACO's transparency view (xplique's `plot_maco`): each tile's image gets an alpha channel from its transparency
/// map `[batch][3][size][size]` (Σ |∂objective/∂image|): the mean over colours, capped at its 80th percentile (at its
/// largest value where most of the map is 0, early in a run), over the cap. What the filter does not look at fades
/// out; captions and gaps stay opaque, and so does a map of zeros.
pub fn transparent(picture: &mut Rgba, transparency: &[f32], layout: &GridLayout) {
    let size = layout.tile;
    let plane = size * size;
    for (index, map) in transparency.chunks_exact(3 * plane).enumerate() {
        let mean: Vec<f32> = (0..plane).map(|p| (map[p] + map[plane + p] + map[2 * plane + p]) / 3.0).collect();
        let mut sorted = mean.clone();
        sorted.sort_by(f32::total_cmp);
        let p80 = sorted[((plane - 1) as f64 * 0.8).round() as usize];
        let cap = if p80 > 0.0 { p80 } else { sorted[plane - 1] };
        let (x0, y0) = layout.origin(index);
        for (p, value) in mean.iter().enumerate() {
            let alpha = if cap > 0.0 { value.min(cap) / cap } else { 1.0 };
            picture.pixels[4 * ((y0 + p / size) * picture.width + x0 + p % size) + 3] = (alpha * 255.0).round() as u8;
        }
    }
}

pub const GLYPH_WIDTH: usize = 4;
pub const GLYPH_HEIGHT: usize = 7;
/// Every character the font has.
pub const GLYPHS: &str = "0123456789conv_:step +-.*";

/// A 4×7 pixel font with what captions need (`conv3_2:17`, an expression's `conv4_3:20+.5*33`, an animation's
/// `step 40`), so the CLI and the page draw the same labels; each row `#` for ink. Glyphs sit one blank column
/// apart.
pub fn glyph(c: char) -> Option<[&'static str; GLYPH_HEIGHT]> {
    Some(match c {
        '0' => [".##.", "#..#", "#..#", "#..#", "#..#", "#..#", ".##."],
        '1' => ["..#.", ".##.", "..#.", "..#.", "..#.", "..#.", ".###"],
        '2' => [".##.", "#..#", "...#", "..#.", ".#..", "#...", "####"],
        '3' => [".##.", "#..#", "...#", ".##.", "...#", "#..#", ".##."],
        '4' => ["..#.", ".##.", "#.#.", "#.#.", "####", "..#.", "..#."],
        '5' => ["####", "#...", "###.", "...#", "...#", "#..#", ".##."],
        '6' => [".##.", "#...", "#...", "###.", "#..#", "#..#", ".##."],
        '7' => ["####", "...#", "..#.", "..#.", ".#..", ".#..", ".#.."],
        '8' => [".##.", "#..#", "#..#", ".##.", "#..#", "#..#", ".##."],
        '9' => [".##.", "#..#", "#..#", ".###", "...#", "...#", ".##."],
        'c' => ["....", "....", ".###", "#...", "#...", "#...", ".###"],
        'o' => ["....", "....", ".##.", "#..#", "#..#", "#..#", ".##."],
        'n' => ["....", "....", "###.", "#..#", "#..#", "#..#", "#..#"],
        'v' => ["....", "....", "#..#", "#..#", "#..#", ".##.", ".##."],
        '_' => ["....", "....", "....", "....", "....", "....", "####"],
        ':' => ["....", ".##.", ".##.", "....", ".##.", ".##.", "...."],
        's' => ["....", "....", ".###", "#...", ".##.", "...#", "###."],
        't' => [".#..", ".#..", "####", ".#..", ".#..", ".#..", "..##"],
        'e' => ["....", "....", ".##.", "#..#", "####", "#...", ".###"],
        'p' => ["....", "....", "###.", "#..#", "###.", "#...", "#..."],
        ' ' => ["....", "....", "....", "....", "....", "....", "...."],
        '+' => ["....", ".#..", ".#..", "###.", ".#..", ".#..", "...."],
        '-' => ["....", "....", "....", "###.", "....", "....", "...."],
        '.' => ["....", "....", "....", "....", "....", ".##.", ".##."],
        '*' => ["....", "....", "#.#.", ".#..", "#.#.", "....", "...."],
        _ => return None,
    })
}

/// Width of `text` in pixels at scale 1 (one blank column between glyphs); none if the font lacks a glyph.
pub(crate) fn text_width(text: &str) -> Option<usize> {
    let drawable = !text.is_empty() && text.chars().all(|c| glyph(c).is_some());
    drawable.then(|| text.chars().count() * (GLYPH_WIDTH + 1) - 1)
}

impl Rgba {
    /// Decodes a PNG file (any bit depth or colour type; alpha is dropped).
    pub fn from_png(bytes: &[u8]) -> Result<Self, String> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(|e| format!("not a readable PNG: {e}"))?;
        let size = reader.output_buffer_size().ok_or("the PNG is too large")?;
        let mut buffer = vec![0; size];
        let frame = reader.next_frame(&mut buffer).map_err(|e| format!("not a readable PNG: {e}"))?;
        let (width, height) = (frame.width as usize, frame.height as usize);
        let channels = frame.color_type.samples();
        let pixels = buffer[..frame.buffer_size()]
            .chunks_exact(channels)
            .flat_map(|p| match channels {
                1 | 2 => [p[0], p[0], p[0], 255],
                _ => [p[0], p[1], p[2], 255],
            })
            .collect();
        Ok(Rgba { width, height, pixels })
    }

    /// The picture made `factor` times smaller on each side by averaging `factor`×`factor` blocks (the last
    /// partial row and column dropped): a photograph shrunk this way before [`Rgba::to_planar_square`]'s bilinear
    /// resampling does not alias (a 4,000 px photograph seen at 224 px would otherwise keep one pixel in 18).
    pub fn reduced(&self, factor: usize) -> Rgba {
        let factor = factor.max(1);
        let (width, height) = ((self.width / factor).max(1), (self.height / factor).max(1));
        let mut sums = vec![0u32; 4 * width * height];
        for y in 0..(height * factor).min(self.height) {
            for x in 0..(width * factor).min(self.width) {
                let (from, to) = (4 * (y * self.width + x), 4 * ((y / factor) * width + x / factor));
                for c in 0..4 {
                    sums[to + c] += u32::from(self.pixels[from + c]);
                }
            }
        }
        let cells = (factor.min(self.width) * factor.min(self.height)) as u32;
        Rgba { width, height, pixels: sums.iter().map(|&s| ((s + cells / 2) / cells) as u8).collect() }
    }

    /// The largest centred square, resampled (bilinear) to `size`×`size`, planar `[3][size][size]` in [0, 1]:
    /// the form [`crate::AscentConfig::init`] takes.
    pub fn to_planar_square(&self, size: usize) -> Vec<f32> {
        let side = self.width.min(self.height) as f32;
        let (x0, y0) = ((self.width as f32 - side) / 2.0, (self.height as f32 - side) / 2.0);
        let at = |x: usize, y: usize, c: usize| self.pixels[4 * (y * self.width + x) + c] as f32 / 255.0;
        let mut planar = vec![0.0; 3 * size * size];
        for i in 0..size {
            for j in 0..size {
                let ys = (y0 + (i as f32 + 0.5) * side / size as f32 - 0.5).clamp(0.0, self.height as f32 - 1.0);
                let xs = (x0 + (j as f32 + 0.5) * side / size as f32 - 0.5).clamp(0.0, self.width as f32 - 1.0);
                let (ya, xa) = (ys.floor() as usize, xs.floor() as usize);
                let (yb, xb) = ((ya + 1).min(self.height - 1), (xa + 1).min(self.width - 1));
                let (fy, fx) = (ys - ya as f32, xs - xa as f32);
                for c in 0..3 {
                    let top = at(xa, ya, c) * (1.0 - fx) + at(xb, ya, c) * fx;
                    let bottom = at(xa, yb, c) * (1.0 - fx) + at(xb, yb, c) * fx;
                    planar[(c * size + i) * size + j] = top * (1.0 - fy) + bottom * fy;
                }
            }
        }
        planar
    }

    /// Draws `text` in dark grey with its top-left corner at (`x`, `y`), each font pixel `scale`×`scale`.
    pub(crate) fn draw_text(&mut self, text: &str, x: usize, y: usize, scale: usize) {
        for (i, c) in text.chars().enumerate() {
            let Some(rows) = glyph(c) else { continue };
            for (gy, row) in rows.iter().enumerate() {
                for (gx, _) in row.bytes().enumerate().filter(|(_, b)| *b == b'#') {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let (px, py) = (x + (i * (GLYPH_WIDTH + 1) + gx) * scale + dx, y + gy * scale + dy);
                            if px < self.width && py < self.height {
                                let at = 4 * (py * self.width + px);
                                self.pixels[at..at + 3].copy_from_slice(&[34, 34, 34]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// PNG file bytes.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("writing PNG to memory cannot fail");
        writer.write_image_data(&self.pixels).expect("the pixel buffer matches the header");
        writer.finish().expect("writing PNG to memory cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reducing_averages_blocks() {
        let picture = Rgba { width: 2, height: 2, pixels: [[0, 10, 20, 255], [4, 10, 20, 255]].concat().repeat(2) };
        assert_eq!(picture.reduced(2), Rgba { width: 1, height: 1, pixels: vec![2, 10, 20, 255] });
        assert_eq!(picture.reduced(1), picture);
    }

    #[test]
    fn min_max_spans_black_to_white_across_channels() {
        // 2×1 image: R = [1, 3], G = [2, 2], B = [5, 1]; min 1 -> 0, max 5 -> 255.
        let rgba = min_max_rgba(&[1.0, 3.0, 2.0, 2.0, 5.0, 1.0], 2, 1);
        assert_eq!(rgba, vec![0, 64, 255, 255, 128, 64, 0, 255]);
    }

    /// Alpha from the transparency map: the colours' mean over its 80th percentile, capped at 1; the largest
    /// value stands in where most of the map is 0; a map of zeros leaves the picture opaque.
    #[test]
    fn transparency_becomes_alpha() {
        let layout = GridLayout::new(1, 10);
        let alpha = |map: &[f32]| {
            let planar: Vec<f32> = [map, map, map].concat();
            let mut picture = Rgba { width: 10, height: 10, pixels: vec![200; 400] };
            transparent(&mut picture, &planar, &layout);
            picture.pixels.chunks_exact(4).map(|p| p[3]).collect::<Vec<u8>>()
        };
        let ramp: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let ramped = alpha(&ramp);
        assert_eq!((ramped[0], ramped[40], ramped[79], ramped[99]), (0, 129, 255, 255), "80th percentile: 79");
        let mut sparse = vec![0.0f32; 100];
        sparse[3] = 2.0;
        sparse[7] = 1.0;
        assert_eq!((alpha(&sparse)[3], alpha(&sparse)[7], alpha(&sparse)[0]), (255, 128, 0));
        assert!(alpha(&[0.0; 100]).iter().all(|&a| a == 255));
    }

    #[test]
    fn constant_image_is_mid_grey() {
        assert_eq!(min_max_rgba(&[0.7; 3], 1, 1), vec![128, 128, 128, 255]);
    }

    #[test]
    fn grid_places_tiles_row_by_row_with_captions_below() {
        let size = 64;
        let layout = GridLayout::new(4, size);
        assert_eq!((layout.columns, layout.rows(), layout.caption_height()), (3, 2, 11));
        assert_eq!((layout.width(), layout.height()), (3 * 64 + 2 * 4, 2 * (64 + 11) + 4));
        // Tile t is a flat image of value t/4 (min-max of a constant image is mid grey, so use Clamp).
        let planar: Vec<f32> = (0..4).flat_map(|t| vec![t as f32 / 4.0; 3 * size * size]).collect();
        let captions: Vec<String> = (0..4).map(|t| format!("conv5_3:51{t}")).collect();
        let picture = picture(&planar, Levels::Clamp, &captions, &layout);
        let at = |x: usize, y: usize| picture.pixels[4 * (y * picture.width + x)];
        let (x1, y1) = layout.origin(1);
        let (x3, y3) = layout.origin(3);
        assert_eq!((x1, y1, x3, y3), (68, 0, 0, 79));
        assert_eq!((at(0, 0), at(x1 + 10, 10), at(x3 + 63, y3 + 63), at(66, 10)), (0, 64, 191, 255));
        // Each caption strip has dark text pixels, centred; the gap between tiles stays white.
        let dark = |x0: usize, y0: usize| {
            (y0 + size..y0 + size + layout.caption_height())
                .flat_map(|y| (x0..x0 + size).map(move |x| (x, y)))
                .filter(|&(x, y)| at(x, y) == 34)
                .count()
        };
        assert!((0..4).all(|t| dark(layout.origin(t).0, layout.origin(t).1) > 60));
        assert_eq!(layout.tile_at(x1 + 5, y1 + 70), Some(1), "a click on a caption opens its tile");
        assert_eq!(layout.tile_at(x3 + 63, y3), Some(3));
        assert_eq!(layout.tile_at(66, 10), None, "the gap");
        assert_eq!(layout.tile_at(x1 + 70, y3 + 5), None, "an empty cell");
    }

    #[test]
    fn captions_too_wide_for_small_tiles_keep_the_filter_number() {
        assert_eq!(text_width("conv5_3:511"), Some(54));
        assert_eq!(text_width("conv5_3 (x)"), None);
        let layout = GridLayout::new(2, 32);
        let planar = vec![0.5; 2 * 3 * 32 * 32];
        let picture = picture(&planar, Levels::Clamp, &["conv5_3:511".into(), "conv5_3:7".into()], &layout);
        let dark: usize = picture.pixels.chunks_exact(4).filter(|p| p[0] == 34).count();
        // "511" and "7": the pixels of those glyphs only.
        let ink = |t: &str| t.chars().map(|c| glyph(c).unwrap().concat().matches('#').count()).sum::<usize>();
        assert_eq!(dark, ink("511") + ink("7"));
        // An expression's caption keeps all its filter numbers.
        let sums = super::picture(&planar, Levels::Clamp, &["conv4_3:20+33".into(), "conv4_3:2-3".into()], &layout);
        let dark: usize = sums.pixels.chunks_exact(4).filter(|p| p[0] == 34).count();
        assert_eq!(dark, ink("20+33") + ink("2-3"));
    }

    #[test]
    fn one_image_is_its_own_picture() {
        let layout = GridLayout::new(1, 2);
        let one = picture(
            &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
            Levels::Clamp,
            &["conv1_1:0".into()],
            &layout,
        );
        assert_eq!((one.width, one.height), (2, 2));
        assert_eq!((layout.width(), layout.height(), layout.caption_height()), (2, 2, 0));
        assert_eq!(layout.tiles(), vec![TileRect { x: 0, y: 0, width: 2, height: 2 }]);
        assert_eq!((layout.tile_at(1, 1), layout.tile_at(2, 0)), (Some(0), None));
        assert_eq!(&one.pixels[..8], &[0, 0, 255, 255, 255, 0, 0, 255]);
    }

    #[test]
    fn decoded_png_resamples_to_planar() {
        let picture = Rgba { width: 4, height: 2, pixels: [[255, 0, 0, 255], [0, 0, 255, 255]].repeat(4).concat() };
        let decoded = Rgba::from_png(&picture.to_png()).unwrap();
        assert_eq!(decoded, picture);
        // Centre square of a 4×2 picture is columns 1..3, alternating blue, red: at 2×2 each pixel is one of them.
        let planar = decoded.to_planar_square(2);
        assert_eq!(planar, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert!(Rgba::from_png(b"not a png").unwrap_err().starts_with("not a readable PNG"));
    }

    #[test]
    fn png_round_trips() {
        let picture = Rgba { width: 3, height: 2, pixels: (0..24).collect() };
        let png = picture.to_png();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buffer[..24], picture.pixels.as_slice());
    }
}
