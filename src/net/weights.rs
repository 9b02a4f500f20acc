//! Loading a network's weights from safetensors bytes (the names its graph gives, f16 or f32), with validation, and
//! each batch normalisation folded into its convolution.

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::Dtype;
use safetensors::tensor::Metadata;

use crate::net::Network;
use crate::net::graph::{BatchNorm, Op};
use crate::net::model::Weights;

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
    #[error("the weights file has a tensor {network} does not use: '{name}' (is it another network's file?)")]
    UnexpectedTensor { network: &'static str, name: String },
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}")]
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("tensor '{name}' is {dtype}, expected F16 or F32")]
    WrongDtype { name: String, dtype: String },
    #[error("tensor '{name}' holds a non-finite value ({value}) at element {index}")]
    NonFinite { name: String, index: usize, value: f32 },
    #[error("the weights file names tensor '{0}' twice")]
    DuplicateTensor(String),
    #[error("tensor '{name}' holds a variance of {value} at element {index}, below zero")]
    NegativeVariance { name: String, index: usize, value: f32 },
}

const HEADER_LEN: usize = 8;
/// safetensors' own bound on the header's size.
const MAX_HEADER_LEN: usize = 100_000_000;

/// A weights file's header, read from the file's first bytes (the whole file, or a prefix holding at least the
/// header: the page starts on the first layers while the deeper ones download) and checked against the network's
/// graph: every tensor named, shaped and typed as expected, nothing else.
pub struct Header {
    network: Network,
    /// Where the tensors' data starts: the header's length.
    data_start: usize,
    metadata: Metadata,
}

impl Header {
    pub fn parse(first: &[u8], network: Network) -> Result<Self, WeightsError> {
        let truncated = |expected| WeightsError::Truncated { bytes: first.len(), expected };
        let Some(len) = first.get(..HEADER_LEN) else { return Err(truncated(HEADER_LEN)) };
        let header_len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        let data_start = usize::try_from(header_len)
            .ok()
            .and_then(|n| n.checked_add(HEADER_LEN))
            .filter(|&end| end <= MAX_HEADER_LEN)
            .ok_or_else(|| WeightsError::BadHeader(format!("header length {header_len} is impossible")))?;
        let json = first.get(HEADER_LEN..data_start).ok_or_else(|| truncated(data_start))?;
        if let Some(name) = duplicate_name(json) {
            return Err(WeightsError::DuplicateTensor(name));
        }
        // safetensors' own checks: tensors back to back from offset 0, each as long as its dtype and shape say.
        let metadata: Metadata = serde_json::from_slice(json).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
        let header = Self { network, data_start, metadata };
        header.check_tensors()?;
        Ok(header)
    }

    fn check_tensors(&self) -> Result<(), WeightsError> {
        let network = self.network;
        let expected: Vec<_> = network.graph().params().iter().flat_map(|p| p.tensors.iter().cloned()).collect();
        // By name, so that a file with several strangers always names the same one.
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort_unstable();
        if let Some(extra) = names.into_iter().find(|n| !expected.iter().any(|(e, _)| e == n)) {
            return Err(WeightsError::UnexpectedTensor { network: network.title(), name: extra });
        }
        for (name, shape) in expected {
            let info = self.metadata.info(&name).ok_or_else(|| WeightsError::MissingTensor(name.clone()))?;
            if info.shape != shape {
                return Err(WeightsError::WrongShape { name, expected: shape, found: info.shape.clone() });
            }
            if !matches!(info.dtype, Dtype::F16 | Dtype::F32) {
                return Err(WeightsError::WrongDtype { name, dtype: format!("{:?}", info.dtype) });
            }
        }
        Ok(())
    }

    /// The length of the whole file this header describes.
    pub fn file_len(&self) -> usize {
        self.data_start + self.metadata.data_len()
    }

    /// Checks that a file of `len` bytes is the whole file the header describes.
    pub fn check_len(&self, len: usize) -> Result<(), WeightsError> {
        let expected = self.file_len();
        match len.cmp(&expected) {
            std::cmp::Ordering::Less => Err(WeightsError::Truncated { bytes: len, expected }),
            std::cmp::Ordering::Greater => Err(WeightsError::TrailingBytes { bytes: len, expected }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// How many of the graph's weighted nodes, from the first, the file's first `len` bytes hold in full (in
    /// whatever order the file stores them; filterlens' own files store them by depth, so a prefix holds the first
    /// nodes).
    pub fn params_within(&self, len: usize) -> usize {
        let within = |name: &str| self.metadata.info(name).is_some_and(|i| self.data_start + i.data_offsets.1 <= len);
        let params = self.network.graph().params();
        params.iter().take_while(|p| p.tensors.iter().all(|(name, _)| within(name))).count()
    }

    /// The graph's weighted node `index` ([`crate::net::graph::Graph::params`]): its tensors as f32 from the file's
    /// `first` bytes (which must hold them: [`Header::params_within`]), each value checked finite, a batch
    /// normalisation folded into its convolution.
    pub fn params(&self, first: &[u8], index: usize) -> Result<WeightsData, WeightsError> {
        let graph = self.network.graph();
        let read = |name: &str| -> Result<Vec<f32>, WeightsError> {
            let info = self.metadata.info(name).expect("checked by parse");
            let (start, end) = info.data_offsets;
            let floats = to_f32(name, info.dtype, &first[self.data_start + start..self.data_start + end])?;
            if let Some((index, &value)) = floats.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(WeightsError::NonFinite { name: name.to_string(), index, value });
            }
            Ok(floats)
        };
        let params = &graph.params()[index];
        Ok(match &graph.nodes()[params.node].op {
            Op::Conv(conv) => {
                let shape = vec![conv.channels, conv.in_channels / conv.groups, conv.kernel[0], conv.kernel[1]];
                let mut weight = read(&conv.weight)?;
                let mut bias = conv.bias.as_deref().map(read).transpose()?;
                if let Some(bn) = &conv.batch_norm {
                    bias = Some(fold(&mut weight, bias, bn, &read)?);
                }
                WeightsData::Conv {
                    weight: TensorData::new(weight, shape),
                    bias: bias.map(|b| TensorData::new(b, [conv.channels])),
                }
            }
            Op::Linear(linear) => WeightsData::Linear {
                weight: TensorData::new(read(&linear.weight)?, [linear.out_features, linear.in_features]),
                bias: linear.bias.as_deref().map(read).transpose()?.map(|b| TensorData::new(b, [linear.out_features])),
            },
            _ => unreachable!("only convolutions and linear layers have weights"),
        })
    }
}

/// A weighted node's tensors, read and folded, before they go to a device.
pub enum WeightsData {
    Conv { weight: TensorData, bias: Option<TensorData> },
    Linear { weight: TensorData, bias: Option<TensorData> },
}

/// Folds a batch normalisation into the convolution before it: each output channel's kernel times
/// `scale = weight / √(variance + ε)`, its bias `(bias − mean) · scale + shift` (a missing bias is 0). The new bias.
fn fold(
    kernel: &mut [f32],
    bias: Option<Vec<f32>>,
    bn: &BatchNorm,
    read: &dyn Fn(&str) -> Result<Vec<f32>, WeightsError>,
) -> Result<Vec<f32>, WeightsError> {
    let (gamma, beta, mean, variance) = (read(&bn.weight)?, read(&bn.bias)?, read(&bn.mean)?, read(&bn.variance)?);
    if let Some((index, &value)) = variance.iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(WeightsError::NegativeVariance { name: bn.variance.clone(), index, value });
    }
    let channels = gamma.len();
    let per_channel = kernel.len() / channels;
    let bias = bias.unwrap_or_else(|| vec![0.0; channels]);
    Ok((0..channels)
        .map(|c| {
            // In f64, rounded once to f32.
            let scale = gamma[c] as f64 / (variance[c] as f64 + bn.epsilon as f64).sqrt();
            for w in &mut kernel[c * per_channel..(c + 1) * per_channel] {
                *w = (*w as f64 * scale) as f32;
            }
            ((bias[c] as f64 - mean[c] as f64) * scale + beta[c] as f64) as f32
        })
        .collect())
}

/// A weighted node's weights on `device`.
pub(crate) fn upload(data: WeightsData, device: &Device) -> Weights {
    let bias = |b: Option<TensorData>| b.map(|b| Tensor::<1>::from_data(b, device));
    match data {
        WeightsData::Conv { weight, bias: b } => {
            Weights::Conv { weight: Tensor::from_data(weight, device), bias: bias(b) }
        }
        WeightsData::Linear { weight, bias: b } => {
            Weights::Linear { weight: Tensor::from_data(weight, device), bias: bias(b) }
        }
    }
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
