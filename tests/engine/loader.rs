//! Each kind of bad weights file gets its own error, never a panic.

use std::collections::BTreeMap;

use filterlens::net::weights;
use filterlens::{Ascent, AscentConfig, Backend, Backends, Error, Mode, Model, Network, Objective, WeightsError};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensors, serialize};

use crate::weights_bytes;

/// `bytes` as VGG16's weights, through the product's own loading path (the CLI's and the page's: the header
/// checked, then each layer decoded and checked as the model takes it).
fn load(bytes: &[u8]) -> Result<(), WeightsError> {
    load_as(bytes, Network::Vgg16).map(|_| ())
}

fn load_as(bytes: &[u8], network: Network) -> Result<Model, WeightsError> {
    let weights_error = |e: Error| match e {
        Error::Weights(e) => e,
        other => panic!("not a weights error: {other}"),
    };
    let mut backends = Backends::new(network, bytes.to_vec()).map_err(weights_error)?;
    backends.model(network, Backend::Flex).map_err(weights_error)
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
    for file in ["alexnet.safetensors", "alexnet-f16.safetensors"] {
        let model = load_as(&weights_bytes(file), Network::Alexnet).unwrap();
        assert_eq!((model.network(), model.depth()), (Network::Alexnet, 5));
    }
}

/// One network's file given for the other is refused by a tensor the other does not have, and the message asks.
#[test]
fn another_networks_file() {
    let alexnet = weights_bytes("alexnet-f16.safetensors");
    let error = load(&alexnet).unwrap_err();
    assert_eq!(error, WeightsError::UnexpectedTensor { network: "VGG16", name: "features.3.bias".into() });
    assert!(error.to_string().contains("(is it another network's file?)"), "{error}");
    let vgg = load_as(&weights_bytes("vgg16-f16.safetensors"), Network::Alexnet).map(|_| ()).unwrap_err();
    assert!(matches!(&vgg, WeightsError::UnexpectedTensor { network: "AlexNet", .. }), "{vgg:?}");
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
    assert_eq!(
        load(&bytes),
        Err(WeightsError::UnexpectedTensor { network: "VGG16", name: "classifier.0.bias".into() })
    );
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
        if what == "cut" && bytes.len() >= 8 + header_len {
            // The page's way in: a cut after the header is the first bytes of a sound file, and its complete layers
            // load.
            let header = weights::Header::parse(&bytes, Network::Vgg16).unwrap();
            let complete = header.params_within(bytes.len());
            assert!((0..complete).all(|l| header.params(&bytes, l).is_ok()), "case {case}: a layer of a sound prefix");
        }
        let outcome = std::panic::catch_unwind(|| load(&bytes));
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

/// A part of a weights file as the manifest lists it: `(name, start, end)`.
type Part = (String, usize, usize);

/// VGG16's f16 file's parts as `make weights` lists them in weights/manifest.json, the header first, then one per
/// layer.
fn manifest_parts() -> Vec<Part> {
    network_parts(Network::Vgg16).0
}

/// `network`'s f16 file's parts, and how many parts after the header each layer needs, as the manifest lists them.
fn network_parts(network: Network) -> (Vec<Part>, BTreeMap<String, usize>) {
    let path = crate::repo_path("weights/manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let name = format!("{network}-f16.safetensors");
    let file = manifest["files"].as_array().unwrap().iter().find(|f| f["file"] == name.as_str()).unwrap();
    let layers = file["layers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap() as usize));
    let at = |p: &serde_json::Value, k: &str| p[k].as_u64().unwrap() as usize;
    let parts = file["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().into(), at(p, "start"), at(p, "end")))
        .collect();
    (parts, layers.collect())
}

/// The page's way in: the f16 file holds its layers by depth, so each part the manifest lists completes exactly
/// one more layer, and a model fed part by part has exactly the layers whose bytes are in.
#[test]
fn weights_arrive_layer_by_layer() {
    let bytes = weights_bytes("vgg16-f16.safetensors");
    let parts = manifest_parts();
    assert_eq!(parts.len(), 1 + Network::Vgg16.layers().len());
    assert_eq!(parts[0].0, "header");
    assert_eq!(parts.last().unwrap().2, bytes.len());
    let header = weights::Header::parse(&bytes[..parts[0].2], Network::Vgg16).unwrap();
    assert_eq!(header.file_len(), bytes.len());
    for (i, (name, start, end)) in parts.iter().enumerate() {
        if i > 0 {
            assert_eq!(name, &Network::Vgg16.layers()[i - 1].name);
            assert_eq!(*start, parts[i - 1].2, "the parts tile the file");
        }
        assert_eq!(header.params_within(*end), i, "after part {name}");
        assert_eq!(header.params_within(end - 1), i.saturating_sub(1), "one byte short of part {name}");
    }

    let vgg = Network::Vgg16;
    let mut backends = Backends::default();
    backends.arriving(vgg, bytes[..parts[0].2].to_vec(), bytes.len()).unwrap();
    for (i, (_, start, end)) in parts.iter().enumerate().skip(1) {
        assert_eq!(backends.model(vgg, Backend::Flex).unwrap().depth(), i - 1);
        backends.add_weights(vgg, &bytes[*start..*end]).unwrap();
    }
    assert_eq!(backends.model(vgg, Backend::Flex).unwrap().depth(), Network::Vgg16.layers().len());
    let beyond = backends.add_weights(vgg, b"x").unwrap_err();
    assert!(matches!(beyond, Error::Weights(WeightsError::TrailingBytes { .. })), "{beyond:?}");
}

/// EfficientNet-Lite0's file part by part (one per weighted node: a convolution with its batch norm, the
/// classifier): the model has exactly the layers whose weighted nodes are in, as many as the manifest says each
/// layer needs.
#[test]
fn a_graphs_weights_arrive_node_by_node() {
    let network = Network::EfficientnetLite0;
    let bytes = weights_bytes("efficientnet-lite0-f16.safetensors");
    let (parts, needs) = network_parts(network);
    assert_eq!(parts.len(), 1 + network.graph().params().len());
    let layers = network.layers();
    assert_eq!(needs, layers.iter().map(|l| (l.name.clone(), l.params)).collect::<BTreeMap<_, _>>());
    let mut backends = Backends::default();
    backends.arriving(network, bytes[..parts[0].2].to_vec(), bytes.len()).unwrap();
    for (i, (_, start, end)) in parts.iter().enumerate().skip(1) {
        let depth = backends.model(network, Backend::Flex).unwrap().depth();
        assert_eq!(depth, layers.iter().take_while(|l| l.params < i).count(), "after {} parts", i - 1);
        backends.add_weights(network, &bytes[*start..*end]).unwrap();
    }
    assert_eq!(backends.model(network, Backend::Flex).unwrap().depth(), layers.len());
}

/// A run on the first layers' weights alone paints exactly what the whole file paints; a layer whose weights are
/// not in yet is refused by name.
#[test]
fn a_run_on_the_first_layers_equals_the_whole_file() {
    let bytes = weights_bytes("vgg16-f16.safetensors");
    let parts = manifest_parts();
    let conv2_1 = parts.iter().position(|p| p.0 == "conv2_1").unwrap();
    let mut first = Backends::default();
    first.arriving(Network::Vgg16, bytes[..parts[conv2_1].2].to_vec(), bytes.len()).unwrap();
    let partial = first.model(Network::Vgg16, Backend::Flex).unwrap();
    let whole = Backends::new(Network::Vgg16, bytes.clone()).unwrap().model(Network::Vgg16, Backend::Flex).unwrap();

    let config = AscentConfig { steps: 3, size: 32, ..Mode::Classic.preset_config() };
    let picture = |model: &filterlens::Model| {
        let ascent =
            Ascent::new(model, Objective::channels(Network::Vgg16, "conv2_1", &[7]).unwrap(), config.clone()).unwrap();
        pollster::block_on(crate::run_to_end(ascent).1.pixels()).unwrap()
    };
    assert!(picture(&partial) == picture(&whole), "the partial model painted another picture");

    let refused =
        Ascent::new(&partial, Objective::channels(Network::Vgg16, "conv2_2", &[0]).unwrap(), config).err().unwrap();
    assert!(matches!(refused, Error::LayerNotLoaded { layer: "conv2_2", loaded: 3 }), "{refused:?}");
    assert_eq!(refused.to_string(), "the weights of conv2_2 have not arrived yet (those of the first 3 layers have)");
}
