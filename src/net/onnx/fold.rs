//! Constant folding: the arithmetic exporters write to compute shapes and paddings (PyTorch's `F.pad` of a "same"
//! convolution becomes ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast and Sub on small integer tensors),
//! evaluated at import where every input is a constant. Each rule is numpy's, for the small tensors these are.

use super::Attrs;
use super::tensor::{Const, Data};

/// The most values a folded constant may have (a shape's arithmetic has a handful; this bounds an absurd one).
const MAX_VALUES: usize = 1 << 20;

/// `op` on constant `inputs`, where it is one folding knows: its value, or why it cannot be (`None`: not a folding
/// operator).
pub fn fold(op: &str, attrs: &Attrs, inputs: &[Const], opset: i64) -> Option<Result<(Vec<usize>, Data), String>> {
    let result = match op {
        "Add" | "Sub" | "Mul" | "Div" => binary(op, &inputs[0], inputs.get(1)?),
        "Neg" => Ok((inputs[0].dims.clone(), map(&inputs[0].data, |x| -x, |x| -x))),
        "Floor" => Ok((inputs[0].dims.clone(), map(&inputs[0].data, |x| x, f32::floor))),
        "Ceil" => Ok((inputs[0].dims.clone(), map(&inputs[0].data, |x| x, f32::ceil))),
        "Reshape" => reshape(&inputs[0], inputs.get(1)?),
        "Transpose" => transpose(&inputs[0], attrs.ints("perm")),
        "Slice" => slice(&inputs[0], &inputs[1..], attrs, opset),
        "ConstantOfShape" => constant_of_shape(&inputs[0], attrs),
        "Concat" => concat(inputs, attrs.int("axis", 0)),
        _ => return None,
    };
    Some(result.and_then(|(dims, data)| {
        let len = match &data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        };
        if len > MAX_VALUES || dims.iter().product::<usize>() != len {
            return Err(format!("a folded constant of dimensions {dims:?}"));
        }
        Ok((dims, data))
    }))
}

fn map(data: &Data, int: impl Fn(i64) -> i64, float: impl Fn(f32) -> f32) -> Data {
    match data {
        Data::Int(v) => Data::Int(v.iter().map(|&x| int(x)).collect()),
        Data::Float(v) => Data::Float(v.iter().map(|&x| float(x)).collect()),
    }
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * dims[k + 1];
    }
    strides
}

/// numpy's broadcasting of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let at = |d: &[usize], k: usize| if k + d.len() >= rank { d[k + d.len() - rank] } else { 1 };
    (0..rank)
        .map(|k| match (at(a, k), at(b, k)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            (x, y) => Err(format!("shapes {a:?} and {b:?} do not broadcast ({x} against {y})")),
        })
        .collect()
}

/// The flat index into a tensor of `dims` (broadcast to `out`) of the output's element `index`.
fn source(index: usize, out: &[usize], dims: &[usize]) -> usize {
    let (out_strides, in_strides) = (strides(out), strides(dims));
    let offset = out.len() - dims.len();
    (0..dims.len())
        .map(|k| if dims[k] == 1 { 0 } else { (index / out_strides[k + offset]) % out[k + offset] * in_strides[k] })
        .sum()
}

fn binary(op: &str, a: &Const, b: &Const) -> Result<(Vec<usize>, Data), String> {
    let dims = broadcast(&a.dims, &b.dims)?;
    let n: usize = dims.iter().product();
    if n > MAX_VALUES {
        return Err(format!("a folded constant of dimensions {dims:?}"));
    }
    let pairs = (0..n).map(|i| (source(i, &dims, &a.dims), source(i, &dims, &b.dims)));
    let data = match (&a.data, &b.data) {
        (Data::Int(x), Data::Int(y)) => Data::Int(
            pairs
                .map(|(i, j)| match op {
                    "Add" => Ok(x[i].wrapping_add(y[j])),
                    "Sub" => Ok(x[i].wrapping_sub(y[j])),
                    "Mul" => Ok(x[i].wrapping_mul(y[j])),
                    _ => x[i].checked_div(y[j]).ok_or_else(|| "an integer division by zero".to_string()),
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => {
            let (x, y) = (a.floats(), b.floats());
            Data::Float(
                pairs
                    .map(|(i, j)| match op {
                        "Add" => x[i] + y[j],
                        "Sub" => x[i] - y[j],
                        "Mul" => x[i] * y[j],
                        _ => x[i] / y[j],
                    })
                    .collect(),
            )
        }
    };
    Ok((dims, data))
}

/// ONNX Reshape's target for a tensor of dimensions `from`: a 0 copies `from`'s dimension there, a -1 takes what
/// the others leave of the count.
pub fn reshaped(from: &[i64], shape: &[i64]) -> Vec<i64> {
    let total: i64 = from.iter().product();
    let mut dims: Vec<i64> =
        shape.iter().enumerate().map(|(k, &d)| if d == 0 { from.get(k).copied().unwrap_or(0) } else { d }).collect();
    let known: i64 = dims.iter().filter(|&&d| d != -1).product();
    if let Some(free) = dims.iter_mut().find(|d| **d == -1) {
        *free = if known > 0 { total / known } else { 0 };
    }
    dims
}

fn reshape(data: &Const, shape: &Const) -> Result<(Vec<usize>, Data), String> {
    let shape = shape.ints().ok_or("a fractional shape")?;
    let total = data.len();
    let from: Vec<i64> = data.dims.iter().map(|&d| d as i64).collect();
    let dims = reshaped(&from, &shape);
    let dims: Vec<usize> =
        dims.iter().map(|&d| usize::try_from(d).map_err(|_| format!("a shape {shape:?}"))).collect::<Result<_, _>>()?;
    if dims.iter().product::<usize>() != total {
        return Err(format!("a reshape of {:?} to {shape:?}", data.dims));
    }
    Ok((dims, data.data.clone()))
}

/// Picks `indices` (flat, into `data`) of a constant's values.
fn pick(data: &Data, indices: impl Iterator<Item = usize>) -> Data {
    match data {
        Data::Int(v) => Data::Int(indices.map(|i| v[i]).collect()),
        Data::Float(v) => Data::Float(indices.map(|i| v[i]).collect()),
    }
}

fn transpose(data: &Const, perm: Option<&[i64]>) -> Result<(Vec<usize>, Data), String> {
    let rank = data.dims.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p
            .iter()
            .map(|&k| usize::try_from(k).ok().filter(|&k| k < rank))
            .collect::<Option<_>>()
            .ok_or("a permutation")?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if seen != (0..rank).collect::<Vec<_>>() {
        return Err(format!("permutation {perm:?} of a rank-{rank} constant"));
    }
    let dims: Vec<usize> = perm.iter().map(|&k| data.dims[k]).collect();
    let (in_strides, out_strides) = (strides(&data.dims), strides(&dims));
    let n = data.len();
    let indices = (0..n).map(|i| (0..rank).map(|k| (i / out_strides[k]) % dims[k] * in_strides[perm[k]]).sum());
    Ok((dims.clone(), pick(&data.data, indices)))
}

fn slice(data: &Const, rest: &[Const], attrs: &Attrs, opset: i64) -> Result<(Vec<usize>, Data), String> {
    let rank = data.dims.len() as i64;
    let ints = |k: usize| rest.get(k).map(|c| c.ints().ok_or("fractional slice bounds")).transpose();
    let (starts, ends, axes, steps) = if opset < 10 {
        let list = |name: &str| attrs.ints(name).map(<[i64]>::to_vec);
        (list("starts"), list("ends"), list("axes"), None)
    } else {
        (ints(0)?, ints(1)?, ints(2)?, ints(3)?)
    };
    let (starts, ends) = (starts.ok_or("a slice without starts")?, ends.ok_or("a slice without ends")?);
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if axes.len() != starts.len() || ends.len() != starts.len() || steps.len() != starts.len() {
        return Err("slice bounds of different lengths".into());
    }
    // Per axis: the kept indices.
    let mut kept: Vec<Vec<usize>> = data.dims.iter().map(|&d| (0..d).collect()).collect();
    for k in 0..starts.len() {
        let axis = if axes[k] < 0 { axes[k] + rank } else { axes[k] };
        let Some(&d) = usize::try_from(axis).ok().and_then(|a| data.dims.get(a)) else {
            return Err(format!("axis {} of a rank-{rank} constant", axes[k]));
        };
        let (d, step) = (d as i64, steps[k]);
        if step == 0 {
            return Err("a slice step of 0".into());
        }
        let clamp = |v: i64, lo: i64, hi: i64| (if v < 0 { v + d } else { v }).clamp(lo, hi);
        let (start, end) = if step > 0 {
            (clamp(starts[k], 0, d), clamp(ends[k], 0, d))
        } else {
            (clamp(starts[k], -1, d - 1), clamp(ends[k], -1, d - 1))
        };
        let mut picked = Vec::new();
        let mut i = start;
        while (step > 0 && i < end) || (step < 0 && i > end) {
            picked.push(i as usize);
            i += step;
        }
        kept[axis as usize] = picked;
    }
    let dims: Vec<usize> = kept.iter().map(Vec::len).collect();
    let (in_strides, out_strides) = (strides(&data.dims), strides(&dims));
    let n: usize = dims.iter().product();
    let indices =
        (0..n).map(|i| (0..dims.len()).map(|k| kept[k][(i / out_strides[k]) % dims[k]] * in_strides[k]).sum());
    Ok((dims.clone(), pick(&data.data, indices)))
}

fn constant_of_shape(shape: &Const, attrs: &Attrs) -> Result<(Vec<usize>, Data), String> {
    let dims: Vec<usize> = shape
        .ints()
        .ok_or("a fractional shape")?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "a negative dimension"))
        .collect::<Result<_, _>>()?;
    let n =
        dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n <= MAX_VALUES).ok_or("an absurd shape")?;
    let value = match attrs.tensor("value") {
        None => Data::Float(vec![0.0]),
        Some(t) => super::tensor::decode(t, None).map_err(|e| e.to_string())?.data,
    };
    let data = match value {
        Data::Int(v) => Data::Int(vec![*v.first().ok_or("an empty value")?; n]),
        Data::Float(v) => Data::Float(vec![*v.first().ok_or("an empty value")?; n]),
    };
    Ok((dims, data))
}

fn concat(inputs: &[Const], axis: i64) -> Result<(Vec<usize>, Data), String> {
    let first = inputs.first().ok_or("a concatenation of nothing")?;
    let rank = first.dims.len() as i64;
    let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok().filter(|&a| a < first.dims.len());
    let axis = axis.ok_or(format!("axis {axis:?} of rank-{rank} constants"))?;
    let same = |c: &Const| {
        c.dims.len() == first.dims.len() && (0..c.dims.len()).all(|k| k == axis || c.dims[k] == first.dims[k])
    };
    if !inputs.iter().all(same) {
        return Err("a concatenation of constants of different shapes".into());
    }
    let outer: usize = first.dims[..axis].iter().product();
    let float = inputs.iter().any(|c| matches!(c.data, Data::Float(_)));
    let mut dims = first.dims.clone();
    dims[axis] = inputs.iter().map(|c| c.dims[axis]).sum();
    let chunk = |c: &Const| c.len() / outer.max(1);
    let data = if float {
        let all: Vec<Vec<f32>> = inputs.iter().map(Const::floats).collect();
        Data::Float(
            (0..outer)
                .flat_map(|o| {
                    inputs.iter().zip(&all).flat_map(move |(c, v)| v[o * chunk(c)..(o + 1) * chunk(c)].to_vec())
                })
                .collect(),
        )
    } else {
        let all: Vec<Vec<i64>> = inputs.iter().map(|c| c.ints().unwrap_or_default()).collect();
        Data::Int(
            (0..outer)
                .flat_map(|o| {
                    inputs.iter().zip(&all).flat_map(move |(c, v)| v[o * chunk(c)..(o + 1) * chunk(c)].to_vec())
                })
                .collect(),
        )
    };
    Ok((dims, data))
}
