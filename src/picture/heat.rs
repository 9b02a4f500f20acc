//! Activation maps drawn over pictures: a heat colour per cell (a ramp after matplotlib's `inferno`, from
//! transparent black to opaque pale yellow), so where a filter fires glows and the rest of the picture shows
//! through. The page draws the cells' colours scaled over its thumbnails; the CLI's sheets blend them here.

use super::image::Rgba;

/// The ramp's stops, evenly spaced from 0 to 1.
const RAMP: [[f32; 3]; 5] =
    [[0.0, 0.0, 4.0], [87.0, 16.0, 110.0], [188.0, 55.0, 84.0], [249.0, 142.0, 9.0], [252.0, 255.0, 164.0]];
/// The opacity of the hottest cell: the picture stays visible under it.
const MAX_ALPHA: f32 = 0.7;

/// The colour (0–255) and opacity (0–1) of a cell with value `v` in [0, 1].
fn heat(v: f32) -> [f32; 4] {
    let v = v.clamp(0.0, 1.0);
    let at = v * (RAMP.len() - 1) as f32;
    let i = (at as usize).min(RAMP.len() - 2);
    let f = at - i as f32;
    let mix = |c: usize| RAMP[i][c] + (RAMP[i + 1][c] - RAMP[i][c]) * f;
    [mix(0), mix(1), mix(2), v * MAX_ALPHA]
}

/// A map's cells (values in [0, 1]) as RGBA8: the heat colour, the opacity in alpha.
pub fn colours(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| {
            let [r, g, b, a] = heat(v);
            [r.round() as u8, g.round() as u8, b.round() as u8, (a * 255.0).round() as u8]
        })
        .collect()
}

/// Blends the map `values` (`side`×`side`, in [0, 1]) over `picture`, stretched to cover it (bilinear between the
/// cells' centres).
pub fn overlay(picture: &mut Rgba, values: &[f32], side: usize) {
    assert_eq!(values.len(), side * side, "a square map");
    let (w, h) = (picture.width, picture.height);
    let at = |x: usize, y: usize| values[y.min(side - 1) * side + x.min(side - 1)];
    for py in 0..h {
        let ys = ((py as f32 + 0.5) * side as f32 / h as f32 - 0.5).max(0.0);
        let (y0, fy) = (ys.floor() as usize, ys - ys.floor());
        for px in 0..w {
            let xs = ((px as f32 + 0.5) * side as f32 / w as f32 - 0.5).max(0.0);
            let (x0, fx) = (xs.floor() as usize, xs - xs.floor());
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            let [r, g, b, a] = heat(top * (1.0 - fy) + bottom * fy);
            let pixel = &mut picture.pixels[4 * (py * w + px)..4 * (py * w + px) + 3];
            for (channel, colour) in pixel.iter_mut().zip([r, g, b]) {
                *channel = (f32::from(*channel) * (1.0 - a) + colour * a).round() as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cold cells leave the picture as it is; the hottest is the ramp's last colour at its opacity.
    #[test]
    fn a_map_glows_where_it_is_hot() {
        assert_eq!(colours(&[0.0, 1.0]), [0, 0, 4, 0, 252, 255, 164, 179]);
        let mut picture = Rgba { width: 2, height: 2, pixels: [100, 100, 100, 255].repeat(4) };
        overlay(&mut picture, &[0.0, 0.0, 0.0, 1.0], 2);
        assert_eq!(&picture.pixels[..4], [100, 100, 100, 255]);
        // 100 · 0.3 + (252, 255, 164) · 0.7
        assert_eq!(&picture.pixels[12..], [206, 209, 145, 255]);
    }
}
