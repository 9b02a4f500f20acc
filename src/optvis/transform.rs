//! Transformation robustness: small random pads, shifts, scales and rotations applied to the image before each
//! forward pass, so the optimiser cannot win with pixel-exact high-frequency patterns (Lucid's
//! `standard_transforms`); or MACO's many random crops with added noise ([`Crops`]). Random choices come from the
//! run's seeded RNG, so a seed still reproduces a picture.

use burn::tensor::ops::PadMode;
use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt;
use rand_pcg::Pcg64;

use super::random::standard_normal;

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
    /// MACO's crops, last: each image becomes this many views.
    pub crops: Option<Crops>,
}

/// MACO's transforms (xplique's `maco_optimisation_step`): `count` square crops per step, each resized to `side`
/// pixels, then noise. Crop sides are drawn around a mean that shrinks linearly over the run from half the image to
/// a twentieth (N(mean, 0.05), clipped to 0.05…1 of the side), centres around the image's (N(0.5, 0.15) each way);
/// what falls outside the image is mid grey. The noise is N(0, σ) plus U(−σ/2, σ/2) per value, σ = [`Crops::NOISE`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crops {
    pub count: usize,
    pub side: usize,
}

impl Crops {
    /// xplique's 0.08 on its model's (−1, 1) input range: 0.04 on this one's [0, 1].
    pub const NOISE: f32 = 0.04;
    /// The mean crop side, as a fraction of the image's, at the start and at the end of the run.
    pub const BOX: (f64, f64) = (0.5, 0.05);

    /// The mean crop side at `progress` (0 at the first step, 1 at the last).
    pub fn mean_box(progress: f64) -> f64 {
        Self::BOX.0 + (Self::BOX.1 - Self::BOX.0) * progress
    }
}

impl Transforms {
    /// No transforms: the classic plain ascent.
    pub fn none() -> Self {
        Self { pad: 0, jitter: 0, scales: Vec::new(), angles: Vec::new(), jitter_after: 0, crops: None }
    }

    /// MACO's: only its crops (see [`Crops`]).
    pub fn maco(crops: Crops) -> Self {
        Self { crops: Some(crops), ..Self::none() }
    }

    /// Whether the network sees the images exactly as they are (no transform at all).
    pub fn is_none(&self) -> bool {
        *self == Self::none()
    }

    /// Views per image: the crops, or the image itself.
    pub fn views(&self) -> usize {
        self.crops.map_or(1, |c| c.count)
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
            crops: None,
        }
    }

    /// How much larger than the image a view is, unscaled, before the `jitter` a request sets: the padding on both
    /// sides less the second jitter (Lucid's transforms: 24 − 4). A front end's estimate of a step's work uses it.
    pub fn view_margin(&self) -> usize {
        (2 * self.pad).saturating_sub(self.jitter_after)
    }

    /// The smallest side the transformed image of a `size`-pixel image can have.
    pub fn smallest_output(&self, size: usize) -> usize {
        if let Some(crops) = self.crops {
            return crops.side;
        }
        let scale = self.scales.iter().copied().fold(1.0f32, f32::min);
        let scaled = ((size + 2 * self.pad).saturating_sub(self.jitter) as f32 * scale).floor() as usize;
        scaled.saturating_sub(self.jitter_after)
    }

    /// The transformed images; their size may differ from the input's. With crops, `[batch * views, …]`: each
    /// image's views together. `progress`: how far the run is, 0 at its first step, 1 at its last.
    pub(crate) fn apply(&self, image: Tensor<4>, progress: f64, rng: &mut Pcg64) -> Tensor<4> {
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
        x = jitter(x, self.jitter_after, rng);
        match self.crops {
            Some(crops) => crop(x, crops, progress, rng),
            None => x,
        }
    }
}

/// MACO's crops of every image (the same boxes and noise for each, so a grid's tile follows its single run).
fn crop(x: Tensor<4>, crops: Crops, progress: f64, rng: &mut Pcg64) -> Tensor<4> {
    let [batch, channels, _, _] = x.dims();
    let Crops { count, side } = crops;
    let boxes = crop_boxes(count, progress, rng);
    let noise: Vec<f32> = (0..count * channels * side * side)
        .map(|_| {
            let sigma = Crops::NOISE as f64;
            (sigma * standard_normal(rng) + sigma * (rng.random::<f64>() - 0.5)) as f32
        })
        .collect();
    let noise = Tensor::<5>::from_data(TensorData::new(noise, [1, count, channels, side, side]), &x.device());
    (crop_and_resize(x, &boxes, side) + noise).reshape([batch * count, channels, side, side])
}

/// `count` random boxes at `progress`: centres N(0.5, 0.15) each way, sides N([`Crops::mean_box`], 0.05) clipped to
/// 0.05…1, as xplique draws them.
fn crop_boxes(count: usize, progress: f64, rng: &mut Pcg64) -> Vec<CropBox> {
    let mean = Crops::mean_box(progress);
    (0..count)
        .map(|_| {
            let (cy, cx) = (0.5 + 0.15 * standard_normal(rng), 0.5 + 0.15 * standard_normal(rng));
            let extent = (mean + 0.05 * standard_normal(rng)).clamp(0.05, 1.0);
            // xplique's box: [cy − e/2, cx − e/2, cy + e/2, cx + e/2], in float32 as TensorFlow takes it.
            let [cy, cx, half] = [cy as f32, cx as f32, extent as f32 * 0.5];
            CropBox([cy - half, cx - half, cy + half, cx + half])
        })
        .collect()
}

/// TensorFlow's `crop_and_resize` of every image with every box: `[batch, boxes, channels, side, side]`, bilinear,
/// mid grey outside the image.
fn crop_and_resize(x: Tensor<4>, boxes: &[CropBox], side: usize) -> Tensor<5> {
    let [batch, channels, h, w] = x.dims();
    let count = boxes.len();
    let n = count * side * side;
    let (mut indices, mut weights, mut outside) = (vec![0i64; 4 * n], vec![0f32; 4 * n], vec![0f32; n]);
    for (k, b) in boxes.iter().enumerate() {
        let (ys, xs) = (b.samples(0, h, side), b.samples(1, w, side));
        for (i, &y) in ys.iter().enumerate() {
            for (j, &x) in xs.iter().enumerate() {
                let p = (k * side + i) * side + j;
                let (Some((y0, y1, fy)), Some((x0, x1, fx))) = (y, x) else {
                    outside[p] = 0.5;
                    continue;
                };
                let corners = [
                    (y0 * w + x0, (1.0 - fx) * (1.0 - fy)),
                    (y0 * w + x1, fx * (1.0 - fy)),
                    (y1 * w + x0, (1.0 - fx) * fy),
                    (y1 * w + x1, fx * fy),
                ];
                for (c, (index, weight)) in corners.into_iter().enumerate() {
                    indices[c * n + p] = index as i64;
                    weights[c * n + p] = weight;
                }
            }
        }
    }
    let device = x.device();
    let indices =
        Tensor::<2, Int>::from_data(TensorData::new(indices, [1, 4 * n]), &device).expand([batch * channels, 4 * n]);
    let weights = Tensor::<3>::from_data(TensorData::new(weights, [1, 4, n]), &device);
    let outside = Tensor::<3>::from_data(TensorData::new(outside, [1, 1, n]), &device);
    let flat = x.reshape([batch * channels, h * w]);
    let sampled = (flat.gather(1, indices).reshape([batch * channels, 4, n]) * weights).sum_dim(1) + outside;
    sampled.reshape([batch, channels, count, side, side]).swap_dims(1, 2)
}

/// A crop as TensorFlow's `crop_and_resize` takes it: `[y1, x1, y2, x2]` in fractions of the image's sides (0 and 1
/// on the first and last pixel centres), float32.
struct CropBox([f32; 4]);

impl CropBox {
    /// Along axis 0 (rows) or 1 (columns) of `length` pixels, where each of the `side` samples falls, computed as
    /// TensorFlow does in float32 (`y1·(length − 1) + i·(y2 − y1)·(length − 1)/(side − 1)`): the two pixels it lies
    /// between and the weight of the second; `None` outside the image. `side` is at least 2 (a crop is the network's
    /// input: `AscentConfig::validate` holds it to the network's smallest).
    fn samples(&self, axis: usize, length: usize, side: usize) -> Vec<Option<(usize, usize, f32)>> {
        let (start, end) = (self.0[axis], self.0[axis + 2]);
        let last = (length - 1) as f32;
        let scale = (end - start) * last / (side - 1) as f32;
        (0..side)
            .map(|i| {
                let at = start * last + i as f32 * scale;
                (0.0..=last).contains(&at).then(|| {
                    let floor = at.floor();
                    (floor as usize, at.ceil() as usize, at - floor)
                })
            })
            .collect()
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

    use crate::testing::largest_difference;

    fn image(size: usize) -> Tensor<4> {
        let values: Vec<f32> = (0..2 * 3 * size * size).map(|i| (i as f32 * 0.37).sin()).collect();
        Tensor::from_data(TensorData::new(values, [2, 3, size, size]), &Device::flex())
    }

    fn transformed(seed: u64) -> Vec<f32> {
        let mut rng = Pcg64::seed_from_u64(seed);
        let t = Transforms::standard();
        (0..3).flat_map(|_| t.apply(image(40), 0.0, &mut rng).into_data().try_into_vec::<f32>().unwrap()).collect()
    }

    /// A transform with one scale and one angle to pick is exactly that scale and rotation (and none, only
    /// when the scale is 1 and the angle 0).
    #[test]
    fn apply_scales_and_rotates_by_what_it_picks() {
        for (scale, angle) in [(1.1, 0.0), (1.0, 10.0), (0.9, -7.0), (1.0, 0.0)] {
            let t = Transforms { scales: vec![scale], angles: vec![angle], ..Transforms::none() };
            let applied = t.apply(image(40), 0.0, &mut Pcg64::seed_from_u64(0));
            let expected = scale_rotate(image(40), scale, angle);
            assert_eq!(applied.dims(), expected.dims(), "scale {scale}, angle {angle}");
            let (a, e) = (
                applied.into_data().try_into_vec::<f32>().unwrap(),
                expected.into_data().try_into_vec::<f32>().unwrap(),
            );
            assert_eq!(a, e, "scale {scale}, angle {angle}");
        }
    }

    /// Crop boxes drawn as xplique draws them, checked by their statistics over 4,000 draws: square boxes, centres
    /// N(0.5, 0.15) each way, sides N(mean box, 0.05) clipped below at 0.05.
    #[test]
    fn crop_boxes_follow_xpliques_distribution() {
        let stats = |values: &[f64]| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (mean, (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt())
        };
        let mut rng = Pcg64::seed_from_u64(5);
        for progress in [0.0, 0.5] {
            let boxes = crop_boxes(4000, progress, &mut rng);
            let at = |k: usize| boxes.iter().map(|b| f64::from(b.0[k])).collect::<Vec<_>>();
            let (y1, x1, y2, x2) = (at(0), at(1), at(2), at(3));
            let centre = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| (a + b) / 2.0).collect::<Vec<_>>();
            let sides: Vec<f64> = y1.iter().zip(&y2).map(|(a, b)| b - a).collect();
            for (k, side) in sides.iter().enumerate() {
                assert!((side - (x2[k] - x1[k])).abs() < 1e-6 && *side >= 0.05 - 1e-6, "box {k}: {:?}", boxes[k].0);
            }
            for (axis, (mean, sd)) in [("y", stats(&centre(&y1, &y2))), ("x", stats(&centre(&x1, &x2)))] {
                assert!((mean - 0.5).abs() < 0.01 && (sd - 0.15).abs() < 0.01, "{axis} centres: N({mean}, {sd})");
            }
            let (mean, sd) = stats(&sides);
            let expected = Crops::mean_box(progress);
            assert!((mean - expected).abs() < 0.005 && (sd - 0.05).abs() < 0.005, "sides: N({mean}, {sd})");
        }
    }

    #[test]
    fn transforms_are_deterministic_for_a_seed() {
        assert_eq!(transformed(3), transformed(3));
        assert_ne!(transformed(3), transformed(4));
    }

    #[test]
    fn shapes_follow_pad_jitter_and_scale() {
        let mut rng = Pcg64::seed_from_u64(0);
        let mut smallest = usize::MAX;
        for _ in 0..100 {
            let [b, c, h, w] = Transforms::standard().apply(image(40), 0.0, &mut rng).dims();
            assert_eq!((b, c), (2, 3));
            assert_eq!(h, w);
            // 40 + 2·12 − 8 = 56 px, scaled by 0.9…1.1 (floored), then 4 px of jitter.
            assert!((46..=57).contains(&h), "height {h}");
            smallest = smallest.min(h);
        }
        // The size check's bound is the smallest output the draws reach: floor(56 · 0.9) − 4.
        assert_eq!((Transforms::standard().smallest_output(40), smallest), (46, 46));
        assert_eq!(Transforms::none().apply(image(40), 0.0, &mut rng).dims(), [2, 3, 40, 40]);
    }

    /// A batch is resampled image by image: each of three images, cropped or scaled and rotated with the others, is
    /// what it is alone. (Three: a batch of one or two would not see `batch / channels` for `batch * channels` in a
    /// reshape, where burn reads the 0 as "keep this dimension".)
    #[test]
    fn a_batch_is_resampled_image_by_image() {
        let values: Vec<f32> = (0..3 * 3 * 12 * 12).map(|i| (i as f32 * 0.53).cos()).collect();
        let batch = Tensor::<4>::from_data(TensorData::new(values, [3, 3, 12, 12]), &Device::flex());
        let boxes = [CropBox([0.1, 0.2, 0.8, 0.9]), CropBox([-0.2, 0.0, 0.6, 0.8])];
        let read = |t: Tensor<5>| t.into_data().try_into_vec::<f32>().unwrap();
        let read4 = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
        let cropped = crop_and_resize(batch.clone(), &boxes, 7);
        let turned = scale_rotate(batch.clone(), 1.1, 12.0);
        for i in 0..3 {
            let alone = batch.clone().narrow(0, i, 1);
            let off = largest_difference(
                &read(cropped.clone().narrow(0, i, 1)),
                &read(crop_and_resize(alone.clone(), &boxes, 7)),
            );
            assert!(off < 1e-6, "image {i}'s crops are {off} off its crops alone");
            let off =
                largest_difference(&read4(turned.clone().narrow(0, i, 1)), &read4(scale_rotate(alone, 1.1, 12.0)));
            assert!(off < 1e-6, "image {i} scaled and rotated is {off} off it alone");
        }
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

    /// `crop_and_resize` as TensorFlow defines it, worked by hand on a 5×5 ramp (value 10·row + column): the whole
    /// image at its own size is itself; a box over rows and columns 1…3 sampled 5 times steps half a pixel; a box
    /// half outside is mid grey there.
    #[test]
    fn crops_sample_as_tensorflows_crop_and_resize() {
        let ramp: Vec<f32> = (0..25).map(|i| (10 * (i / 5) + i % 5) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(ramp.clone(), [1, 1, 5, 5]), &Device::flex());
        let sample =
            |b: CropBox, side| crop_and_resize(x.clone(), &[b], side).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(sample(CropBox([0.0, 0.0, 1.0, 1.0]), 5), ramp);
        let inner = sample(CropBox([0.25, 0.25, 0.75, 0.75]), 5);
        assert_eq!(&inner[..5], &[11.0, 11.5, 12.0, 12.5, 13.0]);
        assert_eq!(inner[5], 16.0, "row 1.5, column 1: halfway between 11 and 21");
        let outside = sample(CropBox([-0.5, 0.0, 0.5, 1.0]), 3);
        assert_eq!(&outside[..3], &[0.5; 3], "row −2 lies outside: mid grey");
        assert_eq!(&outside[3..], &[0.0, 2.0, 4.0, 20.0, 22.0, 24.0], "rows 0 and 2, columns 0, 2 and 4");
    }

    /// TensorFlow's own image ops on the same image and parameters (tests/fixtures/transforms.json,
    /// benches/transform_fixture.py): scale and rotation against ImageProjectiveTransformV3 (the op behind Lucid's
    /// rotation; bilinear, edges repeated) with the same map about the centre, MACO's crops against
    /// `tf.image.crop_and_resize` with grey outside.
    #[test]
    fn resampling_matches_tensorflows_ops() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transforms.json");
        let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
        };
        let size = fixture["size"].as_u64().unwrap() as usize;
        let x = Tensor::<4>::from_data(TensorData::new(floats(&fixture["image"]), [1, 3, size, size]), &Device::flex());
        for case in fixture["resampled"].as_array().unwrap() {
            let (scale, degrees) = (case["scale"].as_f64().unwrap() as f32, case["degrees"].as_f64().unwrap() as f32);
            let got = scale_rotate(x.clone(), scale, degrees).into_data().try_into_vec::<f32>().unwrap();
            let off = largest_difference(&got, &floats(&case["output"]));
            println!("scale {scale}, {degrees}°: within {off:.1e} of TensorFlow's");
            assert!(off < 1e-5, "scale {scale}, {degrees}°: off TensorFlow's by {off}");
        }
        for case in fixture["crops"].as_array().unwrap() {
            let b: Vec<f32> = case["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let crop = CropBox([b[0], b[1], b[2], b[3]]);
            let side = case["side"].as_u64().unwrap() as usize;
            let got = crop_and_resize(x.clone(), &[crop], side).into_data().try_into_vec::<f32>().unwrap();
            let off = largest_difference(&got, &floats(&case["output"]));
            println!("crop {b:?}: within {off:.1e} of TensorFlow's");
            assert!(off < 1e-6, "crop {b:?}: off TensorFlow's by {off}");
        }
    }

    /// MACO's crops: `count` views of each image at `side` pixels, every image of a batch cropped alike.
    #[test]
    fn maco_crops_make_views_alike_across_the_batch() {
        let t = Transforms::maco(Crops { count: 3, side: 20 });
        assert_eq!((t.views(), t.smallest_output(40)), (3, 20));
        let same: Vec<f32> = (0..3 * 40 * 40).map(|i| (i as f32 * 0.37).sin()).collect();
        let batch = Tensor::<4>::from_data(TensorData::new(same.repeat(2), [2, 3, 40, 40]), &Device::flex());
        let views = t.apply(batch, 0.5, &mut Pcg64::seed_from_u64(1));
        assert_eq!(views.dims(), [6, 3, 20, 20]);
        let values = views.into_data().try_into_vec::<f32>().unwrap();
        let (first, second) = values.split_at(3 * 3 * 20 * 20);
        assert_eq!(first, second, "both images got the same boxes and noise");
    }
}
