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

#[test]
fn duplicate_tensor() {
    // The header names features.0.bias twice (JSON parsers keep the last silently).
    let bytes = weights_bytes("vgg16-f16.safetensors");
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
    let entry_start = header.find("\"features.0.bias\"").unwrap();
    let entry_end = entry_start + header[entry_start..].find('}').unwrap() + 1;
    let entry = &header[entry_start..entry_end];
    let doubled = header.replacen(entry, &format!("{entry},{entry}"), 1);
    let mut file = (doubled.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(doubled.as_bytes());
    file.extend_from_slice(&bytes[8 + header_len..]);
    assert_eq!(load(&file), Err(WeightsError::DuplicateTensor("features.0.bias".into())));
}

/// Random damage to the real file — cuts, flipped bits in the header and in the data, edited header lengths and
/// numbers — always ends in `Ok` or a typed error: never a panic, never an allocation beyond the file.
#[test]
fn random_damage_is_refused_or_harmless() {
    use rand::{RngExt, SeedableRng};
    let original = weights_bytes("vgg16-f16.safetensors");
    let header_len = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(12);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..240 {
        let mut bytes = original.clone();
        let what = match case % 6 {
            0 => {
                bytes.truncate(rng.random_range(0..original.len()));
                "cut"
            }
            1 | 2 => {
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..8 + header_len);
                    bytes[at] ^= 1 << rng.random_range(0..8);
                }
                "header bit flip"
            }
            3 => {
                let claimed = match rng.random_range(0..3) {
                    0 => rng.random::<u64>(),
                    1 => header_len as u64 + rng.random_range(1..1000),
                    _ => rng.random_range(0..header_len as u64),
                };
                bytes[..8].copy_from_slice(&claimed.to_le_bytes());
                "header length"
            }
            4 => {
                // A digit of the header's JSON (shapes, offsets) changed.
                let digits: Vec<usize> = (8..8 + header_len).filter(|&i| bytes[i].is_ascii_digit()).collect();
                let at = digits[rng.random_range(0..digits.len())];
                bytes[at] = b'0' + rng.random_range(0..10u8);
                "header number"
            }
            _ => {
                if case % 24 != 5 {
                    continue; // a full load per data case is slow: a few suffice
                }
                let at = rng.random_range(8 + header_len..original.len());
                bytes[at] ^= 1 << rng.random_range(0..8);
                "data bit flip"
            }
        };
        let outcome = std::panic::catch_unwind(|| weights::read(&bytes).map(|_| ()));
        let outcome = match outcome {
            Ok(Ok(())) => "loads".to_string(),
            Ok(Err(e)) => format!("{e:?}").split(['(', ' ', '{']).next().unwrap().to_string(),
            Err(_) => panic!("case {case} ({what}) panicked"),
        };
        *outcomes.entry(format!("{what}: {outcome}")).or_default() += 1;
    }
    println!("{outcomes:#?}");
    assert!(outcomes.keys().any(|k| k.starts_with("cut: Truncated")));
    assert!(outcomes.keys().any(|k| k.starts_with("header bit flip: BadHeader")));
}
