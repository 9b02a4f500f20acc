//! Each kind of bad weights file gets its own error, never a panic.

use std::collections::BTreeMap;

use burn::tensor::Device;
use filterlens::{WeightsError, weights};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensors, serialize};

use crate::weights_bytes;

fn load(bytes: &[u8]) -> Result<(), WeightsError> {
    weights::load(bytes, &Device::flex()).map(|_| ())
}

/// The real f32 file with its tensors edited: `edit` may remove, add or replace tensors (name -> dtype, shape, bytes).
fn rewritten(edit: impl FnOnce(&mut BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let original = weights_bytes("vgg16.safetensors");
    let file = SafeTensors::deserialize(&original).unwrap();
    let mut tensors: BTreeMap<_, _> =
        file.tensors().into_iter().map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect();
    edit(&mut tensors);
    let views: Vec<_> =
        tensors.iter().map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    serialize(views, None).unwrap()
}

#[test]
fn real_files_load() {
    load(&weights_bytes("vgg16.safetensors")).unwrap();
    load(&weights_bytes("vgg16-f16.safetensors")).unwrap();
}

#[test]
fn truncated_file() {
    let bytes = weights_bytes("vgg16-f16.safetensors");
    let cut = &bytes[..bytes.len() / 2];
    assert_eq!(load(cut), Err(WeightsError::Truncated { bytes: cut.len(), expected: bytes.len() }));
    assert!(matches!(load(&bytes[..5]), Err(WeightsError::Truncated { bytes: 5, expected: 8 })));
    assert!(matches!(load(&bytes[..100]), Err(WeightsError::Truncated { bytes: 100, .. })));
    assert!(matches!(load(&[]), Err(WeightsError::Truncated { bytes: 0, .. })));
}

#[test]
fn trailing_bytes() {
    let mut bytes = weights_bytes("vgg16-f16.safetensors");
    bytes.extend_from_slice(b"junk");
    assert!(matches!(load(&bytes), Err(WeightsError::TrailingBytes { .. })));
}

#[test]
fn bad_header() {
    let mut bytes = weights_bytes("vgg16-f16.safetensors");
    bytes[8] = b'#';
    let error = load(&bytes).unwrap_err();
    assert!(matches!(error, WeightsError::BadHeader(_)), "{error:?}");
    assert!(error.to_string().starts_with("the weights file has no valid safetensors header"));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR and so on";
    assert!(matches!(load(png), Err(WeightsError::BadHeader(_))));
}

#[test]
fn missing_tensor() {
    let bytes = rewritten(|t| {
        t.remove("features.26.bias");
    });
    assert_eq!(load(&bytes), Err(WeightsError::MissingTensor("features.26.bias".into())));
}

#[test]
fn extra_tensor() {
    let bytes = rewritten(|t| {
        t.insert("classifier.0.bias".into(), (Dtype::F32, vec![2], vec![0; 8]));
    });
    assert_eq!(load(&bytes), Err(WeightsError::UnexpectedTensor("classifier.0.bias".into())));
}

#[test]
fn wrong_shape() {
    let bytes = rewritten(|t| {
        t.insert("features.2.bias".into(), (Dtype::F32, vec![32], vec![0; 128]));
    });
    assert_eq!(
        load(&bytes),
        Err(WeightsError::WrongShape { name: "features.2.bias".into(), expected: vec![64], found: vec![32] })
    );
}

#[test]
fn wrong_dtype() {
    let bytes = rewritten(|t| {
        t.insert("features.0.bias".into(), (Dtype::F64, vec![64], vec![0; 512]));
    });
    assert_eq!(load(&bytes), Err(WeightsError::WrongDtype { name: "features.0.bias".into(), dtype: "F64".into() }));
}

#[test]
fn non_finite_value() {
    let bytes = rewritten(|t| {
        let bias = &mut t.get_mut("features.10.bias").unwrap().2;
        bias[12..16].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let error = load(&bytes).unwrap_err();
    assert!(
        matches!(&error, WeightsError::NonFinite { name, index: 3, .. } if name == "features.10.bias"),
        "{error:?}"
    );
}
