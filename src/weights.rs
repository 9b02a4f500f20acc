//! Loading VGG16 weights from safetensors bytes (torchvision names, f16 or f32), with validation.

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::vgg::{LAYERS, Vgg16};

/// Why a weights file was refused. Each case names what is wrong, so a person can fix the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("the weights file is truncated: it has {bytes} bytes, its header describes {expected}")]
    Truncated { bytes: usize, expected: usize },
    #[error("the weights file is {bytes} bytes, but its header describes only {expected}")]
    TrailingBytes { bytes: usize, expected: usize },
    #[error("the weights file has no valid safetensors header: {0}")]
    BadHeader(String),
    #[error("the weights file lacks tensor '{0}'")]
    MissingTensor(String),
    #[error("the weights file has a tensor this model does not use: '{0}'")]
    UnexpectedTensor(String),
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}")]
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("tensor '{name}' is {dtype}, expected F16 or F32")]
    WrongDtype { name: String, dtype: String },
    #[error("tensor '{name}' holds a non-finite value ({value}) at element {index}")]
    NonFinite { name: String, index: usize, value: f32 },
    #[error("the weights file names tensor '{0}' twice")]
    DuplicateTensor(String),
}

const HEADER_LEN: usize = 8;

/// The expected tensors, `(name, shape)`, in the order of [`LAYERS`].
fn expected_tensors() -> impl Iterator<Item = (String, Vec<usize>)> {
    LAYERS.iter().flat_map(|l| {
        [
            (format!("features.{}.weight", l.index), vec![l.channels, l.in_channels, 3, 3]),
            (format!("features.{}.bias", l.index), vec![l.channels]),
        ]
    })
}

/// Parses and validates safetensors bytes, then uploads VGG16's weights to `device` (as f32).
pub fn load(bytes: &[u8], device: &Device) -> Result<Vgg16, WeightsError> {
    let convs = read(bytes)?
        .into_iter()
        .map(|(weight, bias)| (Tensor::<4>::from_data(weight, device), Tensor::<1>::from_data(bias, device)))
        .collect();
    Ok(Vgg16::from_tensors(convs, device))
}

/// Parses and validates safetensors bytes: each conv layer's `(weight, bias)` as f32, in [`LAYERS`] order, on the
/// host. Every kind of damage is a [`WeightsError`]; nothing is allocated beyond what the file holds.
pub fn read(bytes: &[u8]) -> Result<Vec<(TensorData, TensorData)>, WeightsError> {
    let file = parse(bytes)?;
    let expected: Vec<_> = expected_tensors().collect();
    if let Some(extra) = file.names().into_iter().find(|n| !expected.iter().any(|(e, _)| e == n)) {
        return Err(WeightsError::UnexpectedTensor(extra.to_string()));
    }
    let mut values = expected.into_iter().map(|(name, shape)| {
        let view = file.tensor(&name).map_err(|_| WeightsError::MissingTensor(name.clone()))?;
        if view.shape() != shape.as_slice() {
            return Err(WeightsError::WrongShape { name, expected: shape, found: view.shape().to_vec() });
        }
        let floats = to_f32(&name, view.dtype(), view.data())?;
        if let Some((index, &value)) = floats.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(WeightsError::NonFinite { name, index, value });
        }
        Ok(TensorData::new(floats, shape))
    });
    let mut convs = Vec::with_capacity(LAYERS.len());
    for _ in LAYERS {
        let weight = values.next().expect("a weight per layer")?;
        let bias = values.next().expect("a bias per layer")?;
        convs.push((weight, bias));
    }
    Ok(convs)
}

/// The safetensors header, with truncation told apart from other damage.
fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, WeightsError> {
    let truncated = |expected| WeightsError::Truncated { bytes: bytes.len(), expected };
    let Some(len) = bytes.get(..HEADER_LEN) else { return Err(truncated(HEADER_LEN)) };
    let header_len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let header_end = usize::try_from(header_len).ok().and_then(|n| n.checked_add(HEADER_LEN));
    match header_end {
        Some(end) if end > bytes.len() && end <= 100_000_000 => return Err(truncated(end)),
        None => return Err(WeightsError::BadHeader(format!("header length {header_len} is impossible"))),
        _ => {}
    }
    if let Some(name) = header_end.and_then(|end| bytes.get(HEADER_LEN..end)).and_then(duplicate_name) {
        return Err(WeightsError::DuplicateTensor(name));
    }
    SafeTensors::deserialize(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            let expected = described_len(bytes).unwrap_or(0);
            if bytes.len() < expected {
                truncated(expected)
            } else {
                WeightsError::TrailingBytes { bytes: bytes.len(), expected }
            }
        }
        other => WeightsError::BadHeader(other.to_string()),
    })
}

/// A name the header's JSON object holds twice (JSON parsers keep the last one silently).
fn duplicate_name(header: &[u8]) -> Option<String> {
    struct Names(Option<String>);
    impl<'de> serde::Deserialize<'de> for Names {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Names;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Names, A::Error> {
                    let (mut seen, mut twice) = (std::collections::HashSet::new(), None);
                    // Read to the end: a parser stopped early reports the rest as an error.
                    while let Some(name) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        if !seen.insert(name.clone()) && twice.is_none() {
                            twice = Some(name);
                        }
                    }
                    Ok(Names(twice))
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }
    serde_json::from_slice::<Names>(header).ok()?.0
}

/// The file length a (syntactically valid) header describes: header plus the end of the last tensor.
fn described_len(bytes: &[u8]) -> Option<usize> {
    let header_len = u64::from_le_bytes(bytes.get(..HEADER_LEN)?.try_into().ok()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(HEADER_LEN..HEADER_LEN + header_len)?).ok()?;
    let data_end =
        header.as_object()?.values().filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64()).max().unwrap_or(0);
    Some(HEADER_LEN + header_len + data_end as usize)
}

fn to_f32(name: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f32>, WeightsError> {
    match dtype {
        Dtype::F32 => Ok(data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect()),
        Dtype::F16 => Ok(data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes(b.try_into().expect("2 bytes")).to_f32())
            .collect()),
        other => Err(WeightsError::WrongDtype { name: name.to_string(), dtype: format!("{other:?}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_are_found() {
        assert_eq!(duplicate_name(br#"{"a":{"x":[1]},"b":1,"a":2}  "#), Some("a".into()));
        assert_eq!(duplicate_name(br#"{"a":1,"a":2,"c":3}"#), Some("a".into()));
        assert_eq!(duplicate_name(br#"{"a":{"x":[1]},"b":1}"#), None);
    }
}
