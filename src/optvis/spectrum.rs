//! MACO's prior (Fel et al. 2023): the average Fourier magnitude of ImageNet images, per decorrelated colour
//! channel, which MACO holds fixed while it optimises the phase ([`crate::optvis::param::Param::Phase`]).
//!
//! The numbers are xplique's `spectrum_decorrelated.npy` (float32, `3 × 512 × 257`: the half-spectrum of a 512 px
//! image, MIT), which `make weights` takes from the PyPI wheel `xplique==2.0.2` and checks by hash. Other image
//! sizes resample it as xplique does, with `tf.image.resize`'s bilinear filter (half-pixel centres, no
//! antialiasing; the same as PyTorch's `interpolate(mode="bilinear", align_corners=False)`).

use crate::Error;

/// A magnitude spectrum `[3][height][bins]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    height: usize,
    bins: usize,
    values: Vec<f32>,
}

impl Spectrum {
    /// A `.npy` file of little-endian float32, C order, shape `(3, height, bins)` with every value finite and
    /// non-negative (a magnitude).
    pub fn from_npy(bytes: &[u8]) -> Result<Self, Error> {
        let refuse = |reason: String| Error::Spectrum(reason);
        let magic = b"\x93NUMPY";
        if bytes.len() < 10 || &bytes[..6] != magic {
            return Err(refuse("it is not a .npy file".into()));
        }
        let (header_len, start): (usize, usize) = match bytes[6] {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 => {
                let length = bytes.get(8..12).ok_or_else(|| refuse("its header is cut short or not text".into()))?;
                (u32::from_le_bytes([length[0], length[1], length[2], length[3]]) as usize, 12)
            }
            version => return Err(refuse(format!(".npy version {version} is not one this reads"))),
        };
        let header = bytes
            .get(start..start.saturating_add(header_len))
            .and_then(|h| std::str::from_utf8(h).ok())
            .ok_or_else(|| refuse("its header is cut short or not text".into()))?;
        let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
        if !compact.contains("'descr':'<f4'") || !compact.contains("'fortran_order':False") {
            return Err(refuse(format!("it holds {header}, expected little-endian float32 in C order")));
        }
        let shape: Vec<usize> = compact
            .split("'shape':(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .map(|dims| dims.split(',').filter(|d| !d.is_empty()).map(|d| d.parse().unwrap_or(0)).collect())
            .unwrap_or_default();
        let &[3, height, bins] = shape.as_slice() else {
            return Err(refuse(format!("its shape is {shape:?}, expected (3, height, bins)")));
        };
        if height < 2 || bins < 2 {
            return Err(refuse(format!("its shape (3, {height}, {bins}) is too small to resample")));
        }
        let data = &bytes[start + header_len..];
        let expected = height.checked_mul(bins).and_then(|n| n.checked_mul(12));
        if Some(data.len()) != expected {
            let expected = expected.map_or("more than memory holds".into(), |n| n.to_string());
            return Err(refuse(format!(
                "it has {} data bytes, expected {expected} for (3, {height}, {bins})",
                data.len()
            )));
        }
        let values: Vec<f32> = data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(at) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(refuse(format!("value {at} is {}, not a magnitude", values[at])));
        }
        Ok(Self { height, bins, values })
    }

    /// The spectrum for a `size`-pixel square image, `[3][size][size / 2 + 1]`: resampled bilinearly with
    /// half-pixel centres (`tf.image.resize`), each axis on its own; the stored size gives the values unchanged.
    pub fn resized(&self, size: usize) -> Vec<f32> {
        let (height, bins) = (size, size / 2 + 1);
        let rows = axis_weights(self.height, height);
        let cols = axis_weights(self.bins, bins);
        let mut out = Vec::with_capacity(3 * height * bins);
        for c in 0..3 {
            let plane = &self.values[c * self.height * self.bins..(c + 1) * self.height * self.bins];
            for &(y0, y1, fy) in &rows {
                for &(x0, x1, fx) in &cols {
                    let at = |y: usize, x: usize| plane[y * self.bins + x] as f64;
                    let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
                    let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
                    out.push((top + (bottom - top) * fy) as f32);
                }
            }
        }
        out
    }
}

/// For each output position along an axis of `from` → `to` samples: the two input samples it lies between and
/// the weight of the second. Half-pixel centres: output `i` sits at input `(i + 0.5) · from / to − 0.5`, clamped
/// to the first and last samples (TensorFlow's `compute_interpolation_weights`).
fn axis_weights(from: usize, to: usize) -> Vec<(usize, usize, f64)> {
    let scale = from as f64 / to as f64;
    (0..to)
        .map(|i| {
            let at = (i as f64 + 0.5) * scale - 0.5;
            let floor = at.floor();
            // `at` stays below from − 0.5, so only the upper neighbour can fall past the last sample.
            let lower = floor.max(0.0) as usize;
            let upper = (at.ceil().max(0.0) as usize).min(from - 1);
            (lower, upper, at - floor)
        })
        .collect()
}

/// A `.npy` file of `values` with `shape`, as numpy writes one (for tests).
#[cfg(test)]
pub(crate) fn npy(shape: [usize; 3], values: &[f32]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}, {}), }}", shape[0], shape[1], shape[2]);
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_npy_file_and_refuses_others() {
        let values: Vec<f32> = (0..3 * 4 * 3).map(|i| i as f32).collect();
        let spectrum = Spectrum::from_npy(&npy([3, 4, 3], &values)).unwrap();
        assert_eq!((spectrum.height, spectrum.bins), (4, 3));
        assert_eq!(spectrum.values, values);
        let refusal = |bytes: &[u8]| Spectrum::from_npy(bytes).unwrap_err().to_string();
        assert!(refusal(b"not numpy at all").contains("not a .npy file"));
        assert!(refusal(&npy([2, 4, 3], &values[..24])).contains("shape is [2, 4, 3]"));
        let mut short = npy([3, 4, 3], &values);
        short.truncate(short.len() - 4);
        assert!(refusal(&short).contains("expected 144"));
        let mut negative = values.clone();
        negative[5] = -1.0;
        assert!(refusal(&npy([3, 4, 3], &negative)).contains("value 5 is -1"));
        let mut doubles = npy([3, 4, 3], &values);
        let at = doubles.windows(3).position(|w| w == b"<f4").unwrap();
        doubles[at + 2] = b'8';
        assert!(refusal(&doubles).contains("expected little-endian float32"));
    }

    /// Version 2 and 3 files (a 4-byte header length) read as version 1 does; cut inside that length, they are
    /// refused as cut short, not read out of bounds nor called a version this does not read. Resampling needs 2
    /// rows and 2 bins: fewer is refused, 2 is read.
    #[test]
    fn reads_npy_versions_2_and_3_and_the_smallest_shape() {
        let values: Vec<f32> = (0..3 * 4 * 3).map(|i| i as f32).collect();
        let v1 = npy([3, 4, 3], &values);
        for version in [2u8, 3] {
            let mut bytes = b"\x93NUMPY".to_vec();
            bytes.extend([version, 0]);
            bytes.extend(u32::from(u16::from_le_bytes([v1[8], v1[9]])).to_le_bytes());
            bytes.extend(&v1[10..]);
            assert_eq!(Spectrum::from_npy(&bytes).unwrap().values, values, "version {version}");
            let refusal = Spectrum::from_npy(&bytes[..11]).unwrap_err().to_string();
            assert!(refusal.contains("header is cut short"), "version {version}: {refusal}");
        }
        assert!(Spectrum::from_npy(&v1[..10]).unwrap_err().to_string().contains("header is cut short"));
        for small in [[3, 1, 3], [3, 4, 1]] {
            let refusal = Spectrum::from_npy(&npy(small, &vec![1.0; 3 * small[1] * small[2]])).unwrap_err().to_string();
            assert!(refusal.contains("too small to resample"), "{small:?}: {refusal}");
        }
        assert_eq!(Spectrum::from_npy(&npy([3, 2, 2], &[1.0; 12])).unwrap().resized(2), vec![1.0; 12]);
    }

    /// Damaged files (cut anywhere, any byte changed, junk shapes) are read or refused, never a panic; every file
    /// read has the shape its header says and only magnitudes.
    #[test]
    fn damaged_files_are_refused_not_a_panic() {
        use rand::{RngExt, SeedableRng};
        let values: Vec<f32> = (0..3 * 5 * 4).map(|i| i as f32 * 0.5).collect();
        let good = npy([3, 5, 4], &values);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let (mut read, mut refused) = (0, 0);
        for round in 0..20_000 {
            let mut bytes = good.clone();
            match round % 3 {
                0 => bytes.truncate(rng.random_range(0..=good.len())),
                1 => {
                    for _ in 0..rng.random_range(1..4) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] = rng.random();
                    }
                }
                _ => {
                    let shape = format!("({}, {}, {})", rng.random::<u64>(), rng.random::<u32>(), rng.random::<u16>());
                    let text = String::from_utf8_lossy(&bytes[..128]).replace("(3, 5, 4)", &shape);
                    bytes = [text.as_bytes(), &bytes[128..]].concat();
                }
            }
            match Spectrum::from_npy(&bytes) {
                Ok(s) => {
                    assert_eq!(s.values.len(), 3 * s.height * s.bins);
                    assert!(s.values.iter().all(|v| v.is_finite() && *v >= 0.0));
                    read += 1;
                }
                Err(_) => refused += 1,
            }
        }
        println!("{read} damaged files read, {refused} refused");
        assert!(read > 0 && refused > 10_000);
    }

    /// Resampling 4 → 8 (upsampling with half-pixel centres) and 8 → 4 (every output halfway between two inputs),
    /// worked by hand, and the stored size unchanged.
    #[test]
    fn resamples_with_half_pixel_centres() {
        assert_eq!(axis_weights(4, 8)[0], (0, 0, 0.75)); // at −0.25: clamped to the first sample
        assert_eq!(axis_weights(4, 8)[1], (0, 1, 0.25)); // at 0.25
        assert_eq!(axis_weights(4, 8)[7], (3, 3, 0.25)); // at 3.25: clamped to the last
        assert_eq!(axis_weights(8, 4)[1], (2, 3, 0.5)); // at 2.5
        let values: Vec<f32> = (0..3 * 6 * 4).map(|i| (i as f32 * 0.37).sin().abs()).collect();
        let spectrum = Spectrum::from_npy(&npy([3, 6, 4], &values)).unwrap();
        assert_eq!(spectrum.resized(6), values, "size 6 has 6 rows and 4 bins: nothing to resample");
    }
}
