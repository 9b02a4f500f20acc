//! Transformation robustness: small random pads, shifts, scales and rotations applied to the image before each
//! forward pass, so the optimiser cannot win with pixel-exact high-frequency patterns (Lucid's
//! `standard_transforms`). Random choices come from the run's seeded RNG, so a seed still reproduces a picture.

use burn::tensor::ops::PadMode;
use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt;
use rand_pcg::Pcg64;

#[derive(Debug, Clone, PartialEq)]
pub struct Transforms {
    /// Constant (0.5 grey) padding on every side, pixels.
    pub pad: usize,
    /// Random crop removing up to this many pixels, before scaling and rotating.
    pub jitter: usize,
    /// Scale factors to choose from (empty: no scaling).
    pub scales: Vec<f32>,
    /// Rotation angles in degrees to choose from (empty: no rotation).
    pub angles: Vec<f32>,
    /// Random crop after scaling and rotating.
    pub jitter_after: usize,
}

impl Transforms {
    /// No transforms: the classic plain ascent.
    pub fn none() -> Self {
        Self { pad: 0, jitter: 0, scales: Vec::new(), angles: Vec::new(), jitter_after: 0 }
    }

    /// Lucid's standard transforms: pad 12, jitter 8, scale 0.9–1.1, rotate −10°…10° (0° six times as likely),
    /// jitter 4.
    pub fn standard() -> Self {
        let mut angles: Vec<f32> = (-10..=10).map(|a| a as f32).collect();
        angles.extend([0.0; 5]);
        Self {
            pad: 12,
            jitter: 8,
            scales: (0..11).map(|i| 1.0 + (i as f32 - 5.0) / 50.0).collect(),
            angles,
            jitter_after: 4,
        }
    }

    /// The smallest side the transformed image of a `size`-pixel image can have.
    pub fn smallest_output(&self, size: usize) -> usize {
        let scale = self.scales.iter().copied().fold(1.0f32, f32::min);
        let scaled = ((size + 2 * self.pad).saturating_sub(self.jitter) as f32 * scale).floor() as usize;
        scaled.saturating_sub(self.jitter_after)
    }

    /// The transformed images; their size may differ from the input's.
    pub(crate) fn apply(&self, image: Tensor<4>, rng: &mut Pcg64) -> Tensor<4> {
        let mut x = image;
        if self.pad > 0 {
            let p = self.pad;
            x = x.pad((p, p, p, p), PadMode::Constant(0.5));
        }
        x = jitter(x, self.jitter, rng);
        let scale = pick(&self.scales, rng).unwrap_or(1.0);
        let angle = pick(&self.angles, rng).unwrap_or(0.0);
        if scale != 1.0 || angle != 0.0 {
            x = scale_rotate(x, scale, angle);
        }
        jitter(x, self.jitter_after, rng)
    }
}

fn pick(choices: &[f32], rng: &mut Pcg64) -> Option<f32> {
    (!choices.is_empty()).then(|| choices[rng.random_range(0..choices.len())])
}

/// A random crop of `amount` pixels in each direction (Lucid's `jitter`).
fn jitter(x: Tensor<4>, amount: usize, rng: &mut Pcg64) -> Tensor<4> {
    if amount == 0 {
        return x;
    }
    let [_, _, h, w] = x.dims();
    let (dy, dx) = (rng.random_range(0..amount), rng.random_range(0..amount));
    x.narrow(2, dy, h - amount).narrow(3, dx, w - amount)
}

/// Bilinear resampling about the centre: the output is `floor(size × scale)` pixels and shows the input rotated
/// by `degrees`. Written as one gather of the four neighbours (differentiable on every backend), with edge pixels
/// repeated outside the input.
fn scale_rotate(x: Tensor<4>, scale: f32, degrees: f32) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let (ho, wo) = ((h as f32 * scale).floor() as usize, (w as f32 * scale).floor() as usize);
    let n = ho * wo;
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cy_in, cx_in) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let (cy_out, cx_out) = ((ho as f32 - 1.0) / 2.0, (wo as f32 - 1.0) / 2.0);
    let mut indices = vec![0i64; 4 * n];
    let mut weights = vec![0f32; 4 * n];
    for i in 0..ho {
        for j in 0..wo {
            let (u, v) = ((j as f32 - cx_out) / scale, (i as f32 - cy_out) / scale);
            // Inverse rotation: where in the input this output pixel comes from.
            let (xs, ys) = (cos * u + sin * v + cx_in, -sin * u + cos * v + cy_in);
            let (x0, y0) = (xs.floor(), ys.floor());
            let (fx, fy) = (xs - x0, ys - y0);
            let at =
                |y: f32, x: f32| (y.clamp(0.0, h as f32 - 1.0) as i64) * w as i64 + x.clamp(0.0, w as f32 - 1.0) as i64;
            let corners = [
                (at(y0, x0), (1.0 - fx) * (1.0 - fy)),
                (at(y0, x0 + 1.0), fx * (1.0 - fy)),
                (at(y0 + 1.0, x0), (1.0 - fx) * fy),
                (at(y0 + 1.0, x0 + 1.0), fx * fy),
            ];
            let p = i * wo + j;
            for (k, (index, weight)) in corners.into_iter().enumerate() {
                indices[k * n + p] = index;
                weights[k * n + p] = weight;
            }
        }
    }
    let device = x.device();
    let indices =
        Tensor::<2, Int>::from_data(TensorData::new(indices, [1, 4 * n]), &device).expand([batch * channels, 4 * n]);
    let weights = Tensor::<3>::from_data(TensorData::new(weights, [1, 4, n]), &device);
    let flat = x.reshape([batch * channels, h * w]);
    let neighbours = flat.gather(1, indices).reshape([batch * channels, 4, n]);
    (neighbours * weights).sum_dim(1).reshape([batch, channels, ho, wo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use rand::SeedableRng;

    fn image(size: usize) -> Tensor<4> {
        let values: Vec<f32> = (0..2 * 3 * size * size).map(|i| (i as f32 * 0.37).sin()).collect();
        Tensor::from_data(TensorData::new(values, [2, 3, size, size]), &Device::flex())
    }

    fn transformed(seed: u64) -> Vec<f32> {
        let mut rng = Pcg64::seed_from_u64(seed);
        let t = Transforms::standard();
        (0..3).flat_map(|_| t.apply(image(40), &mut rng).into_data().try_into_vec::<f32>().unwrap()).collect()
    }

    #[test]
    fn transforms_are_deterministic_for_a_seed() {
        assert_eq!(transformed(3), transformed(3));
        assert_ne!(transformed(3), transformed(4));
    }

    #[test]
    fn shapes_follow_pad_jitter_and_scale() {
        let mut rng = Pcg64::seed_from_u64(0);
        for _ in 0..20 {
            let [b, c, h, w] = Transforms::standard().apply(image(40), &mut rng).dims();
            assert_eq!((b, c), (2, 3));
            assert_eq!(h, w);
            // 40 + 2·12 − 8 = 56 px, scaled by 0.9…1.1 (floored), then 4 px of jitter.
            assert!((46..=57).contains(&h), "height {h}");
        }
        assert_eq!(Transforms::none().apply(image(40), &mut rng).dims(), [2, 3, 40, 40]);
    }

    #[test]
    fn identity_resample_changes_nothing_and_rotation_moves_pixels() {
        let x = image(9);
        let same = scale_rotate(x.clone(), 1.0, 0.0).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(same, x.clone().into_data().try_into_vec::<f32>().unwrap());
        // A quarter turn about the centre: output (row 0, col 0) samples input (row 8, col 0), index 72.
        let turned = scale_rotate(x.clone(), 1.0, 90.0).into_data().try_into_vec::<f32>().unwrap();
        let original = x.into_data().try_into_vec::<f32>().unwrap();
        assert!((turned[0] - original[72]).abs() < 1e-4, "{} vs {}", turned[0], original[72]);
    }
}
