//! From tensors to pictures: RGBA8 (the seed's min-max normalisation, or as-is for images already in [0, 1]),
//! grids of tiles, PNG encoding.

/// How an image's values become grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Stretched so the smallest value is black and the largest white (the seed's display of unbounded pixels).
    MinMax,
    /// Taken as they are, [0, 1] to 0..=255 (Lucid's sigmoid images).
    Clamp,
}

/// One image, planar `[3][height][width]`, to RGBA8 rows.
pub fn rgba(planar: &[f32], width: usize, height: usize, display: Display) -> Vec<u8> {
    match display {
        Display::MinMax => min_max_rgba(planar, width, height),
        Display::Clamp => interleave(planar, width * height, |v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
    }
}

/// One image, planar `[3][height][width]` floats of any range, to RGBA8 rows, stretched so its smallest value is
/// black and its largest white (the seed's display). A constant image is mid grey.
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
pub fn batch_rgba(planar: &[f32], size: usize, display: Display) -> Vec<Vec<u8>> {
    planar.chunks_exact(3 * size * size).map(|one| rgba(one, size, size, display)).collect()
}

/// A picture: RGBA8 rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Square tiles side by side, `columns` to a row, separated by `gap` pixels of white.
pub fn grid(tiles: &[Vec<u8>], size: usize, columns: usize, gap: usize) -> Rgba {
    let columns = columns.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns);
    let width = columns * size + (columns - 1) * gap;
    let height = rows * size + rows.saturating_sub(1) * gap;
    let mut pixels = vec![255u8; 4 * width * height];
    for (t, tile) in tiles.iter().enumerate() {
        let (x0, y0) = ((t % columns) * (size + gap), (t / columns) * (size + gap));
        for y in 0..size {
            let dst = 4 * ((y0 + y) * width + x0);
            pixels[dst..dst + 4 * size].copy_from_slice(&tile[4 * y * size..4 * (y + 1) * size]);
        }
    }
    Rgba { width, height, pixels }
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
    fn min_max_spans_black_to_white_across_channels() {
        // 2×1 image: R = [1, 3], G = [2, 2], B = [5, 1]; min 1 -> 0, max 5 -> 255.
        let rgba = min_max_rgba(&[1.0, 3.0, 2.0, 2.0, 5.0, 1.0], 2, 1);
        assert_eq!(rgba, vec![0, 64, 255, 255, 128, 64, 0, 255]);
    }

    #[test]
    fn constant_image_is_mid_grey() {
        assert_eq!(min_max_rgba(&[0.7; 3], 1, 1), vec![128, 128, 128, 255]);
    }

    #[test]
    fn grid_places_tiles_row_by_row_with_white_gaps() {
        let tiles: Vec<Vec<u8>> = (0..3u8).map(|t| vec![t; 4 * 2 * 2]).collect();
        let picture = grid(&tiles, 2, 2, 1);
        assert_eq!((picture.width, picture.height), (5, 5));
        let at = |x: usize, y: usize| picture.pixels[4 * (y * picture.width + x)];
        assert_eq!((at(0, 0), at(2, 0), at(3, 1), at(0, 3), at(4, 4)), (0, 255, 1, 2, 255));
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
