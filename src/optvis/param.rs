//! Image parameterisations: what the optimiser actually changes.
//!
//! - [`Param::Pixels`]: the pixels themselves, unbounded (classic; shown min-max normalised).
//! - [`Param::Fft`]: Lucid's spectrum parameterisation. The optimiser moves a half-spectrum per colour channel,
//!   scaled by 1/frequency so that low frequencies move first; an inverse real FFT gives a decorrelated-colour
//!   image, the ImageNet colour-correlation matrix mixes it into RGB and a sigmoid keeps it in (0, 1).
//! - [`Param::Phase`]: MACO's (Fel et al. 2023, xplique's `maco_image_parametrization`). The optimiser moves only
//!   the phase of the half-spectrum; its magnitude is ImageNet's average ([`Spectrum`]), fixed. The phase is
//!   standardised, the inverse real FFT's image standardised, then coloured and squashed as Lucid's.
//!
//! The inverse FFT is written as matrix products with cosine and sine tables, so every backend (WebGPU included)
//! differentiates it with the ops it already has.

use burn::tensor::{Device, Tensor, TensorData, activation::sigmoid};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

use super::random::standard_normal;
use super::spectrum::Spectrum;
use crate::Error;

/// Square root of ImageNet's colour-correlation matrix (from Lucid), columns scaled so the largest has norm 1.
pub const COLOR_CORRELATION_SVD_SQRT: [[f32; 3]; 3] = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// Lucid divides the inverse FFT by this; larger values give less saturated colours.
const MAGIC: f64 = 4.0;
/// Standard deviation of the initial spectrum (Lucid's default).
const SPECTRUM_SD: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Pixels,
    Fft,
    Phase,
}

impl Param {
    /// Whether a picture of one's own can be where this parameterisation starts: not MACO's phase, whose fixed
    /// magnitude cannot hold another picture's spectrum.
    pub fn holds_pictures(self) -> bool {
        self != Param::Phase
    }

    /// How this parameterisation's images are shown: pixels min-max normalised (classic), FFT images as they are.
    pub fn levels(self) -> Levels {
        match self {
            Param::Pixels => Levels::MinMax,
            Param::Fft | Param::Phase => Levels::Clamp,
        }
    }
}

/// How an image's values become grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Levels {
    /// Stretched so the smallest value is black and the largest white (the classic display of unbounded pixels).
    MinMax,
    /// Taken as they are, [0, 1] to 0..=255 (Lucid's sigmoid images).
    Clamp,
}

/// The colour matrix applied to the decorrelated image: `rgb = M · t`.
pub fn color_matrix() -> [[f64; 3]; 3] {
    let m = COLOR_CORRELATION_SVD_SQRT;
    let max_norm =
        (0..3).map(|col| (0..3).map(|row| (m[row][col] as f64).powi(2)).sum::<f64>().sqrt()).fold(0.0, f64::max);
    let mut out = [[0.0; 3]; 3];
    for (r, row) in m.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[r][c] = v as f64 / max_norm;
        }
    }
    out
}

/// `fftfreq(n)[k]`: cycles per pixel of DFT bin `k`.
fn fftfreq(n: usize, k: usize) -> f64 {
    let signed = if k <= (n - 1) / 2 { k as f64 } else { k as f64 - n as f64 };
    signed / n as f64
}

/// Per-bin spectrum scale `[h][w/2+1]`: 1 / max(|f|, 1/max(h, w)), Lucid's 1/f prior.
fn spectrum_scale(h: usize, w: usize) -> Vec<f64> {
    let wf = w / 2 + 1;
    let floor = 1.0 / h.max(w) as f64;
    let mut scale = Vec::with_capacity(h * wf);
    for ky in 0..h {
        for kx in 0..wf {
            let f = (fftfreq(h, ky).powi(2) + fftfreq(w, kx).powi(2)).sqrt();
            scale.push(1.0 / f.max(floor));
        }
    }
    scale
}

/// Cosine and sine tables for the orthonormal inverse real 2-D DFT of an `h`×`w` image.
struct DftTables {
    /// `[1, h, h]`: cos / sin(2π ky y / h) / √h, indexed `[y, ky]`.
    rows_cos: Tensor<3>,
    rows_sin: Tensor<3>,
    /// `[1, w/2+1, w]`: c_k cos / sin(2π kx x / w) / √w, indexed `[kx, x]`; c_k doubles the bins that stand for
    /// a conjugate pair.
    cols_cos: Tensor<3>,
    cols_sin: Tensor<3>,
}

impl DftTables {
    fn new(h: usize, w: usize, device: &Device) -> Self {
        let wf = w / 2 + 1;
        let table = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f64| {
            let data: Vec<f32> = (0..rows * cols).map(|i| f(i / cols, i % cols) as f32).collect();
            Tensor::<3>::from_data(TensorData::new(data, [1, rows, cols]), device)
        };
        let tau = std::f64::consts::TAU;
        let (sh, sw) = ((h as f64).sqrt(), (w as f64).sqrt());
        let weight = |kx: usize| if kx == 0 || (w.is_multiple_of(2) && kx == w / 2) { 1.0 } else { 2.0 };
        Self {
            rows_cos: table(h, h, &|y, ky| (tau * (ky * y) as f64 / h as f64).cos() / sh),
            rows_sin: table(h, h, &|y, ky| (tau * (ky * y) as f64 / h as f64).sin() / sh),
            cols_cos: table(wf, w, &|kx, x| weight(kx) * (tau * (kx * x) as f64 / w as f64).cos() / sw),
            cols_sin: table(wf, w, &|kx, x| weight(kx) * (tau * (kx * x) as f64 / w as f64).sin() / sw),
        }
    }

    /// The real images `[batch * 3, h, w]` of half-spectra given as real and imaginary parts `[batch * 3, h, w/2+1]`.
    fn inverse(&self, re: Tensor<3>, im: Tensor<3>) -> Tensor<3> {
        // Inverse DFT along y (complex), then the inverse real DFT along x keeps the real part.
        let y_re = self.rows_cos.clone().matmul(re.clone()) - self.rows_sin.clone().matmul(im.clone());
        let y_im = self.rows_cos.clone().matmul(im) + self.rows_sin.clone().matmul(re);
        y_re.matmul(self.cols_cos.clone()) - y_im.matmul(self.cols_sin.clone())
    }
}

/// What turns parameters into an image.
enum Basis {
    Pixels,
    /// `scale`: `[1, 1, h, w/2+1]`, the 1/f prior divided by Lucid's magic constant.
    Fft {
        tables: DftTables,
        scale: Tensor<4>,
    },
    /// `magnitude`: `[1, 3, h, w/2+1]`, ImageNet's, fixed.
    Phase {
        tables: DftTables,
        magnitude: Tensor<4>,
    },
}

/// A parameterisation bound to an image size and device: maps parameters to images.
pub(crate) struct ParamsToImage {
    param: Param,
    size: usize,
    basis: Basis,
    color: Tensor<3>,
}

impl ParamsToImage {
    /// `spectrum`: the fixed magnitude, which [`Param::Phase`] needs (and the others ignore).
    pub fn new(param: Param, size: usize, spectrum: Option<&Spectrum>, device: &Device) -> Result<Self, Error> {
        let m = color_matrix();
        let color: Vec<f32> = m.iter().flatten().map(|&v| v as f32).collect();
        let wf = size / 2 + 1;
        let basis = match param {
            Param::Pixels => Basis::Pixels,
            Param::Fft => {
                let scale: Vec<f32> = spectrum_scale(size, size).into_iter().map(|s| (s / MAGIC) as f32).collect();
                let scale = Tensor::from_data(TensorData::new(scale, [1, 1, size, wf]), device);
                Basis::Fft { tables: DftTables::new(size, size, device), scale }
            }
            Param::Phase => {
                let magnitude = spectrum.ok_or(Error::NoSpectrum)?.resized(size);
                let magnitude = Tensor::from_data(TensorData::new(magnitude, [1, 3, size, wf]), device);
                Basis::Phase { tables: DftTables::new(size, size, device), magnitude }
            }
        };
        Ok(Self { param, size, basis, color: Tensor::from_data(TensorData::new(color, [1, 3, 3]), device) })
    }

    /// The parameter tensor's shape for `batch` images.
    pub fn shape(&self, batch: usize) -> [usize; 4] {
        match self.param {
            Param::Pixels => [batch, 3, self.size, self.size],
            // Real parts in channels 0..3, imaginary parts in 3..6.
            Param::Fft => [batch, 6, self.size, self.size / 2 + 1],
            Param::Phase => [batch, 3, self.size, self.size / 2 + 1],
        }
    }

    /// Images `[batch, 3, size, size]` from parameters.
    pub fn apply(&self, params: Tensor<4>) -> Tensor<4> {
        let [batch, _, h, wf] = params.dims();
        let w = self.size;
        let decorrelated = match &self.basis {
            Basis::Pixels => return params,
            Basis::Fft { tables, scale } => {
                let scaled = params * scale.clone();
                let re = scaled.clone().narrow(1, 0, 3).reshape([batch * 3, h, wf]);
                let im = scaled.narrow(1, 3, 3).reshape([batch * 3, h, wf]);
                tables.inverse(re, im).reshape([batch, 3, h * w])
            }
            Basis::Phase { tables, magnitude } => {
                let phase = standardised(params.reshape([batch, 3 * h * wf])).reshape([batch, 3, h, wf]);
                let re = (phase.clone().cos() * magnitude.clone()).reshape([batch * 3, h, wf]);
                let im = (phase.sin() * magnitude.clone()).reshape([batch * 3, h, wf]);
                standardised(tables.inverse(re, im).reshape([batch, 3 * h * w])).reshape([batch, 3, h * w])
            }
        };
        let rgb = self.color.clone().matmul(decorrelated);
        sigmoid(rgb.reshape([batch, 3, h, w]))
    }

    /// Images from `params`, rendered once with their way back: the network's gradient stops at
    /// [`Rendering::image`], and [`Rendering::pull_back`] carries it on to the parameters.
    pub fn render(&self, params: Tensor<4>) -> Rendering {
        let params = params.autodiff().require_grad();
        let rendered = self.apply(params.clone());
        let image = rendered.clone().detach().require_grad();
        Rendering { params, rendered, image }
    }

    /// Initial parameters, one image per seed: classic's `(128 + U[0,1)) / 255` noise for pixels, Lucid's
    /// N(0, 0.01²) spectrum for FFT, MACO's N(0, 1) phase.
    pub fn initial(&self, seeds: &[u64]) -> Vec<f32> {
        let [_, c, h, w] = self.shape(1);
        seeds
            .iter()
            .flat_map(|&seed| {
                let mut rng = Pcg64::seed_from_u64(seed);
                let one: Vec<f32> = match self.param {
                    Param::Pixels => (0..c * h * w).map(|_| (128.0 + rng.random::<f32>()) / 255.0).collect(),
                    Param::Fft => (0..c * h * w).map(|_| (standard_normal(&mut rng) * SPECTRUM_SD) as f32).collect(),
                    Param::Phase => (0..c * h * w).map(|_| standard_normal(&mut rng) as f32).collect(),
                };
                one
            })
            .collect()
    }

    /// Parameters that render to `image` (planar `[3][size][size]` in [0, 1]), for starting from a picture; none
    /// where the parameterisation cannot hold one ([`Param::holds_pictures`]).
    pub fn params_for(&self, image: &[f32]) -> Result<Vec<f32>, Error> {
        if !self.param.holds_pictures() {
            return Err(Error::MacoFromPicture);
        }
        Ok(match self.param {
            Param::Pixels => image.to_vec(),
            _ => spectrum_of(image, self.size),
        })
    }
}

/// Images rendered from parameters under autodiff ([`ParamsToImage::render`]): two graphs, so that both gradients
/// are at hand, the objective's with respect to the images (the transparency map sums it) and with respect to the
/// parameters (the optimiser's).
pub(crate) struct Rendering {
    params: Tensor<4>,
    rendered: Tensor<4>,
    /// The images, a leaf of its own: the network's graph starts here.
    pub image: Tensor<4>,
}

impl Rendering {
    /// The gradient with respect to the parameters, from `image_grad`, the gradient with respect to
    /// [`Self::image`] (the chain rule through the parameterisation alone).
    pub fn pull_back(self, image_grad: Tensor<4>) -> Tensor<4> {
        let grads = (self.rendered * image_grad.autodiff()).sum().backward();
        self.params.grad(&grads).expect("the parameters require a gradient")
    }
}

/// Each row `[batch, n]` less its mean, over its standard deviation (population) + 1e-5: xplique standardises the
/// phase, then the image, so that neither the phase's nor the spectrum's scale matters.
fn standardised(rows: Tensor<2>) -> Tensor<2> {
    let centred = rows.clone() - rows.mean_dim(1);
    let deviation = centred.clone().square().mean_dim(1).sqrt();
    centred / (deviation + 1e-5)
}

/// The FFT parameters whose rendering is `image`: undo the sigmoid (clamped away from 0 and 1), the colour mixing,
/// Lucid's magic constant and the 1/f scale, then take the orthonormal real 2-D DFT.
fn spectrum_of(image: &[f32], size: usize) -> Vec<f32> {
    let (h, w, wf) = (size, size, size / 2 + 1);
    let plane = h * w;
    let inverse = invert3(color_matrix());
    let logit = |v: f32| {
        let v = (v as f64).clamp(1e-3, 1.0 - 1e-3);
        (v / (1.0 - v)).ln()
    };
    let scale = spectrum_scale(h, w);
    let tau = std::f64::consts::TAU;
    let norm = ((h * w) as f64).sqrt();
    let mut params = vec![0.0f32; 6 * h * wf];
    for c in 0..3 {
        let decorrelated: Vec<f64> = (0..plane)
            .map(|p| (0..3).map(|k| inverse[c][k] * logit(image[k * plane + p])).sum::<f64>() * MAGIC)
            .collect();
        // DFT along x (keeping bins 0..=w/2), then along y.
        let mut row_re = vec![0.0; h * wf];
        let mut row_im = vec![0.0; h * wf];
        for y in 0..h {
            for kx in 0..wf {
                let (mut re, mut im) = (0.0, 0.0);
                for x in 0..w {
                    let angle = tau * (kx * x) as f64 / w as f64;
                    re += decorrelated[y * w + x] * angle.cos();
                    im -= decorrelated[y * w + x] * angle.sin();
                }
                row_re[y * wf + kx] = re;
                row_im[y * wf + kx] = im;
            }
        }
        for ky in 0..h {
            for kx in 0..wf {
                let (mut re, mut im) = (0.0, 0.0);
                for y in 0..h {
                    let angle = tau * (ky * y) as f64 / h as f64;
                    let (cos, sin) = (angle.cos(), angle.sin());
                    let (a, b) = (row_re[y * wf + kx], row_im[y * wf + kx]);
                    re += a * cos + b * sin;
                    im += b * cos - a * sin;
                }
                let s = scale[ky * wf + kx] * norm;
                params[(c * h + ky) * wf + kx] = (re / s) as f32;
                params[((3 + c) * h + ky) * wf + kx] = (im / s) as f32;
            }
        }
    }
    params
}

fn invert3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let mut inv = [[0.0; 3]; 3];
    for (r, row) in inv.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
            let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
            *v = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::largest_difference;

    /// tests/fixtures/maco.json (benches/maco_fixture.py).
    fn maco_fixture() -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/maco.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// xplique's own MACO pictures (tests/fixtures/maco.json, benches/maco_fixture.py: its
    /// `maco_image_parametrization` in TensorFlow): the same phase under the same magnitude gives the same picture
    /// here. Even sizes only: for odd ones xplique's inverse FFT makes a picture a pixel narrower than asked.
    #[test]
    fn phase_images_match_xpliques_parameterisation() {
        let fixture = maco_fixture();
        let device = Device::flex();
        let cases = fixture["cases"].as_array().unwrap().iter().filter(|case| !case["image"].is_null());
        let mut compared = 0;
        for case in cases {
            compared += 1;
            let size = case["size"].as_u64().unwrap() as usize;
            let floats = |key: &str| -> Vec<f32> {
                case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
            };
            let (magnitude, phase, expected) = (floats("magnitude"), floats("phase"), floats("image"));
            // The case's magnitude is already at the image's size: resampling leaves it as it is.
            let spectrum =
                Spectrum::from_npy(&crate::optvis::spectrum::npy([3, size, size / 2 + 1], &magnitude)).unwrap();
            let to_image = ParamsToImage::new(Param::Phase, size, Some(&spectrum), &device).unwrap();
            let tensor = Tensor::<4>::from_data(TensorData::new(phase, to_image.shape(1)), &device);
            let image = to_image.apply(tensor).into_data().try_into_vec::<f32>().unwrap();
            let worst = largest_difference(&image, &expected);
            println!("size {size}: within {worst:.1e} of xplique's picture");
            assert!(worst < 2e-6, "size {size}: off xplique's picture by {worst}");
        }
        assert_eq!(compared, 3);
    }

    #[test]
    fn color_matrix_is_lucids_normalised_svd_sqrt() {
        let m = color_matrix();
        // Lucid: color_correlation_svd_sqrt / max column norm; the first column's norm is the largest.
        let norm = (0.26f64.powi(2) + 0.27f64.powi(2) + 0.27f64.powi(2)).sqrt();
        for (r, row) in COLOR_CORRELATION_SVD_SQRT.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                assert!((m[r][c] - v as f64 / norm).abs() < 1e-7);
            }
        }
        let first_column_norm = (0..3).map(|r| m[r][0].powi(2)).sum::<f64>().sqrt();
        assert!((first_column_norm - 1.0).abs() < 1e-7);
    }

    /// invert3 is a 3 × 3 inverse for any invertible matrix, not only for Lucid's colour matrix, whose middle entry
    /// is 0 (three wrong cofactor terms vanish there): M · invert3(M) = I for a matrix with no zero entry.
    #[test]
    fn invert3_inverts_a_general_matrix() {
        let m = [[2.0, -1.0, 0.5], [0.3, 1.7, -0.8], [-1.2, 0.4, 2.5]];
        let inverse = invert3(m);
        for (r, row) in m.iter().enumerate() {
            for c in 0..3 {
                let product: f64 = row.iter().zip(&inverse).map(|(a, inverse_row)| a * inverse_row[c]).sum();
                let identity = if r == c { 1.0 } else { 0.0 };
                assert!((product - identity).abs() < 1e-12, "(M · M⁻¹)[{r}][{c}] = {product}");
            }
        }
    }

    #[test]
    fn fftfreq_matches_numpy() {
        let freqs: Vec<f64> = (0..6).map(|k| fftfreq(6, k)).collect();
        assert_eq!(freqs, vec![0.0, 1.0 / 6.0, 2.0 / 6.0, -3.0 / 6.0, -2.0 / 6.0, -1.0 / 6.0]);
        let odd: Vec<f64> = (0..5).map(|k| fftfreq(5, k)).collect();
        assert_eq!(odd, vec![0.0, 0.2, 0.4, -0.4, -0.2]);
    }

    /// image -> spectrum -> image, for even and odd sizes. Black and white pixels (every 7th and 11th value: a
    /// sigmoid never reaches 0 or 1) come back as 0.001 and 0.999, the nearest values the inverse's clamp keeps.
    #[test]
    fn fft_parameterisation_round_trips() {
        let device = Device::flex();
        for size in [16, 15] {
            let to_image = ParamsToImage::new(Param::Fft, size, None, &device).unwrap();
            let image: Vec<f32> = (0..3 * size * size)
                .map(|i| match (i % 7, i % 11) {
                    (0, _) => 0.0,
                    (_, 0) => 1.0,
                    _ => 0.5 + 0.4 * ((i as f32) * 0.731).sin() * ((i % size) as f32 * 0.2).cos(),
                })
                .collect();
            let params = to_image.params_for(&image).unwrap();
            let tensor = Tensor::<4>::from_data(TensorData::new(params, to_image.shape(1)), &device);
            let back = to_image.apply(tensor).into_data().try_into_vec::<f32>().unwrap();
            let reachable: Vec<f32> = image.iter().map(|v| v.clamp(1e-3, 1.0 - 1e-3)).collect();
            let worst = largest_difference(&reachable, &back);
            assert!(worst < 1e-4, "size {size}: round trip off by {worst}");
        }
    }

    /// lucent itself rendered these spectra (tests/fixtures/lucent_fft.json, benches/lucent_fixture.py): the same
    /// spectrum gives the same picture here, for even and odd sizes. lucent's spectrum is `[1, 3, h, bins, 2]`
    /// (real, imaginary last; for odd widths one bin more than its inverse FFT reads).
    #[test]
    fn fft_images_match_lucents() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lucent_fft.json");
        let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let device = Device::flex();
        for case in fixture["cases"].as_array().unwrap() {
            let size = case["size"].as_u64().unwrap() as usize;
            let floats = |key: &str| -> Vec<f32> {
                case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
            };
            let (spectrum, expected) = (floats("spectrum"), floats("image"));
            let lucent_bins = case["spectrum_shape"][3].as_u64().unwrap() as usize;
            let to_image = ParamsToImage::new(Param::Fft, size, None, &device).unwrap();
            let [_, _, h, bins] = to_image.shape(1);
            let mut params = vec![0.0f32; 6 * h * bins];
            for c in 0..3 {
                for y in 0..h {
                    for k in 0..bins {
                        let at = ((c * h + y) * lucent_bins + k) * 2;
                        params[(c * h + y) * bins + k] = spectrum[at];
                        params[((3 + c) * h + y) * bins + k] = spectrum[at + 1];
                    }
                }
            }
            let tensor = Tensor::<4>::from_data(TensorData::new(params, to_image.shape(1)), &device);
            let image = to_image.apply(tensor).into_data().try_into_vec::<f32>().unwrap();
            let worst = largest_difference(&image, &expected);
            assert!(worst < 1e-5, "size {size}: off lucent's picture by {worst}");
        }
    }

    #[test]
    fn fft_initial_images_are_near_grey() {
        let device = Device::flex();
        let to_image = ParamsToImage::new(Param::Fft, 32, None, &device).unwrap();
        let params = Tensor::<4>::from_data(TensorData::new(to_image.initial(&[1, 1]), to_image.shape(2)), &device);
        let image = to_image.apply(params).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(image.len(), 2 * 3 * 32 * 32);
        assert!(image.iter().all(|v| (0.3..0.7).contains(v)), "Lucid's start is a faint, grey-ish pattern");
        assert_eq!(image[..3 * 32 * 32], image[3 * 32 * 32..], "every image of a batch starts alike");
    }
}
