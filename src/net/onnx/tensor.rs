//! An ONNX file's constant tensors (its initializers, `Constant` nodes and what folds from them): decoded from the
//! file's bytes with every declared size checked against the bytes there before anything is allocated, read from
//! a separate file where the model stores them outside (ONNX's "external data"), and written out as the
//! safetensors file the rest of filterlens loads weights from.

use std::path::Path;

use half::{bf16, f16};
use protobuf::Enum;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::OnnxError;
use super::proto::onnx::TensorProto;
use super::proto::onnx::tensor_proto::{DataLocation, DataType};

/// A constant's values: floating point ones as f32 (weights), integer ones as i64 (shapes, axes, indices).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// A constant tensor: its name (the file's, for a weight), dimensions and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Data,
}

impl Const {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    /// The values as integers (a float constant's only where each is a whole number).
    pub fn ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::Int(v) => Some(v.clone()),
            Data::Float(v) => v.iter().map(|&x| (x.fract() == 0.0 && x.abs() < 9e15).then_some(x as i64)).collect(),
        }
    }

    /// The values as floats.
    pub fn floats(&self) -> Vec<f32> {
        match &self.data {
            Data::Float(v) => v.clone(),
            Data::Int(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The one value of a scalar (or one-element) constant.
    pub fn scalar(&self) -> Option<f32> {
        (self.len() == 1).then(|| self.floats()[0])
    }
}

/// How many values `dims` hold, if that is a sane count (no negative dimension, no overflow).
pub fn count(dims: &[i64]) -> Option<usize> {
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))
}

/// The tensor's values, checked against what its dimensions declare. `folder`: where the model's file is, for a
/// tensor stored outside it (none in the page, which has the one file).
pub fn decode(tensor: &TensorProto, folder: Option<&Path>) -> Result<Const, OnnxError> {
    let name = tensor.name.clone();
    let bad = |reason: String| OnnxError::Tensor { name: name.clone(), reason };
    let n = count(&tensor.dims).ok_or_else(|| bad(format!("impossible dimensions {:?}", tensor.dims)))?;
    let dims: Vec<usize> = tensor.dims.iter().map(|&d| d as usize).collect();
    let external;
    let raw: &[u8] = if tensor.data_location.value() == DataLocation::EXTERNAL as i32 {
        external = read_external(tensor, folder)?;
        &external
    } else {
        &tensor.raw_data
    };
    let kind = DataType::from_i32(tensor.data_type).ok_or_else(|| bad(format!("data type {}", tensor.data_type)))?;
    let width = match kind {
        DataType::FLOAT | DataType::INT32 => 4,
        DataType::DOUBLE | DataType::INT64 => 8,
        DataType::FLOAT16 | DataType::BFLOAT16 => 2,
        other => return Err(bad(format!("{other:?} values (filterlens reads floating point and integer tensors)"))),
    };
    // Raw bytes: exactly as many as declared, checked before a value is allocated.
    if !raw.is_empty() {
        if Some(raw.len()) != n.checked_mul(width) {
            return Err(bad(format!("{} bytes of data for {n} values of {width} bytes", raw.len())));
        }
        let words = |w: usize| raw.chunks_exact(w);
        let data = match kind {
            DataType::FLOAT => Data::Float(words(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()),
            DataType::DOUBLE => {
                Data::Float(words(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect())
            }
            DataType::FLOAT16 => {
                Data::Float(words(2).map(|b| f16::from_le_bytes(b.try_into().unwrap()).to_f32()).collect())
            }
            DataType::BFLOAT16 => {
                Data::Float(words(2).map(|b| bf16::from_le_bytes(b.try_into().unwrap()).to_f32()).collect())
            }
            DataType::INT32 => Data::Int(words(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64).collect()),
            _ => Data::Int(words(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()),
        };
        return Ok(Const { name, dims, data });
    }
    // Typed fields (already parsed, so their length is bounded by the file's).
    let data = match kind {
        DataType::FLOAT => Data::Float(tensor.float_data.clone()),
        DataType::DOUBLE => Data::Float(tensor.double_data.iter().map(|&x| x as f32).collect()),
        // ONNX stores 16-bit floats' bits in int32_data.
        DataType::FLOAT16 => {
            Data::Float(tensor.int32_data.iter().map(|&b| f16::from_bits(b as u16).to_f32()).collect())
        }
        DataType::BFLOAT16 => {
            Data::Float(tensor.int32_data.iter().map(|&b| bf16::from_bits(b as u16).to_f32()).collect())
        }
        DataType::INT32 => Data::Int(tensor.int32_data.iter().map(|&x| x as i64).collect()),
        _ => Data::Int(tensor.int64_data.clone()),
    };
    let found = Const { name: name.clone(), dims, data };
    if found.len() != n {
        return Err(bad(format!("{} values for dimensions {:?}", found.len(), tensor.dims)));
    }
    Ok(found)
}

/// An externally stored tensor's bytes: `location` (a file beside the model), from `offset`, `length` bytes.
fn read_external(tensor: &TensorProto, folder: Option<&Path>) -> Result<Vec<u8>, OnnxError> {
    let entry = |key: &str| tensor.external_data.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    let name = tensor.name.clone();
    let file = entry("location").unwrap_or_default().to_string();
    let Some(folder) = folder else { return Err(OnnxError::ExternalData { tensor: name, file }) };
    let number = |key: &str| -> Result<Option<u64>, OnnxError> {
        entry(key)
            .map(|v| v.parse().map_err(|_| OnnxError::Tensor { name: name.clone(), reason: format!("{key} '{v}'") }))
            .transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    // Only a plain file name or a path below the model's folder: a model cannot read elsewhere.
    let relative = Path::new(&file);
    if file.is_empty() || relative.is_absolute() || relative.components().any(|c| c.as_os_str() == "..") {
        return Err(OnnxError::Tensor {
            name,
            reason: format!("external data at '{file}', outside the model's folder"),
        });
    }
    let unreadable = |reason: String| OnnxError::ExternalRead { tensor: name.clone(), file: file.clone(), reason };
    let bytes = std::fs::read(folder.join(relative)).map_err(|e| unreadable(e.to_string()))?;
    let start = usize::try_from(offset).ok().filter(|&s| s <= bytes.len());
    let end = match length {
        Some(length) => start.and_then(|s| s.checked_add(usize::try_from(length).ok()?)),
        None => Some(bytes.len()),
    };
    match (start, end) {
        (Some(start), Some(end)) if end <= bytes.len() => Ok(bytes[start..end].to_vec()),
        _ => Err(unreadable(format!("it has {} bytes, the model reads {offset}+{length:?}", bytes.len()))),
    }
}

/// The weights as a safetensors file of f32 tensors, by name.
pub fn to_safetensors(weights: &[super::Weight]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> =
        weights.iter().map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = weights.iter().zip(&bytes).map(|((name, shape, _), data)| {
        (name.as_str(), TensorView::new(Dtype::F32, shape.clone(), data).expect("a shape's count of f32 values"))
    });
    safetensors::serialize(views, None).expect("distinct names and consistent views serialise")
}
