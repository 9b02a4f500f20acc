//! Models of one's own, from ONNX files: each operator against ONNX's reference implementation (forward values
//! and input gradients; `tests/fixtures/onnx/`, written by `benches/onnx_ops.py`), the built-in networks written as
//! ONNX (`weights/export_onnx.py`) giving their values bit for bit, and every refusal.

use burn::tensor::{Tensor, TensorData};
use filterlens::net::graph::{Colour, Op};
use filterlens::net::onnx::{self, Imported, OnnxError, Preprocess};
use filterlens::{Activation, Backend, Backends, Model, Network};
use serde_json::Value;

use crate::{golden_image, largest_difference, network_model, repo_path};

fn read(relative: &str) -> Vec<u8> {
    let path = repo_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import(relative: &str, preprocess: Preprocess) -> Result<Imported, OnnxError> {
    let name = relative.rsplit('/').next().unwrap();
    onnx::import(&read(relative), name, preprocess.preprocessing(), None)
}

/// The opened network on Flex.
fn open(imported: Imported) -> Model {
    let network = Network::open(imported.opened);
    let mut backends = Backends::new(network, imported.weights).expect("the import's weights load");
    pollster::block_on(backends.select(filterlens::BackendChoice::Flex)).unwrap();
    backends.model(network, Backend::Flex).expect("a model")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// The layers of `network` whose node's operation `keep` takes, in order.
fn layers_where(network: Network, keep: impl Fn(&Op) -> bool) -> Vec<usize> {
    let layers = network.layers();
    (0..layers.len()).filter(|&l| keep(&network.graph().nodes()[layers[l].node].op)).collect()
}

/// The golden fixture's input at 64 px on `model`'s device.
fn golden(model: &Model) -> Tensor<4> {
    let side = 64;
    Tensor::<4>::from_data(TensorData::new(golden_image(side), [1, 3, side, side]), &model.device())
}

#[test]
fn each_operator_matches_onnx_reference_forward_and_gradient() {
    let fixture: Value = serde_json::from_slice(&read("tests/fixtures/onnx/ops.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let imported = import(&format!("tests/fixtures/onnx/{name}.onnx"), Preprocess::Unit)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(imported.stop, None, "{name} maps whole");
        let model = open(imported);
        let network = model.network();
        // The graph's output is its deepest layer, read after its activation function.
        let layer = network.layers().len() - 1;
        let input: Vec<f32> = floats(&case["input"]).iter().map(|&v| v as f32).collect();
        let side = ((input.len() / 3) as f64).sqrt() as usize;
        let x = || Tensor::<4>::from_data(TensorData::new(input.clone(), [1, 3, side, side]), &model.device());

        let expected = floats(&case["output"]);
        let actual = values(model.forward(x(), layer, Activation::After));
        assert_eq!(actual.len(), expected.len(), "{name}: output size");
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let deviation = largest_difference(&actual, &expected) / scale;
        assert!(deviation < 1e-5, "{name}: forward deviates by {deviation:.2e} of its largest value");

        let weights: Vec<f32> = floats(&case["loss_weights"]).iter().map(|&v| v as f32).collect();
        let x = x().autodiff().require_grad();
        let out = model.forward(x.clone(), layer, Activation::After);
        let dims = out.dims();
        let w = Tensor::<4>::from_data(TensorData::new(weights, dims), &model.device()).autodiff();
        let grads = (out * w).sum().backward();
        let gradient = values(x.grad(&grads).unwrap());
        let expected = floats(&case["gradient"]);
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let deviation = largest_difference(&gradient, &expected) / scale;
        assert!(deviation < 1e-5, "{name}: input gradient deviates by {deviation:.2e} of its largest value");
        println!("{name}: {} layers, gradient within {deviation:.1e}", network.layers().len());
    }
}

#[test]
fn activations_attach_to_the_layer_before_them_and_names_follow_the_exporter() {
    let imported = import("tests/fixtures/onnx/conv_batchnorm_relu.onnx", Preprocess::Torchvision).unwrap();
    let graph = &imported.opened.graph;
    // Conv, its batch normalisation folded in, its ReLU read through: one layer, named after the module.
    let layers: Vec<_> = graph.layers().iter().map(|l| (l.name.as_str(), l.channels, l.activation)).collect();
    assert_eq!(layers, [("block1", 6, Some(filterlens::net::Function::Relu))]);
    let Op::Conv(conv) = &graph.nodes()[graph.layers()[0].node].op else { panic!("a convolution") };
    assert!(conv.batch_norm.is_some(), "the batch normalisation is folded into the convolution");

    let swish = import("tests/fixtures/onnx/swish.onnx", Preprocess::Unit).unwrap();
    let layers = swish.opened.graph.layers();
    assert_eq!(layers.len(), 1, "x·sigmoid(x) is the convolution's activation: {layers:?}");
    assert_eq!(layers[0].activation, Some(filterlens::net::Function::Swish));

    // A gate that is not the map's own sigmoid is a layer of its own, and the product another.
    let se = import("tests/fixtures/onnx/squeeze_excitation.onnx", Preprocess::Unit).unwrap();
    let ops: Vec<_> = se.opened.graph.layers().iter().map(|l| &se.opened.graph.nodes()[l.node].op).collect();
    assert!(matches!(ops.last(), Some(Op::Mul)), "{ops:?}");
}

#[test]
fn grey_and_nhwc_inputs_and_preprocessing_choices() {
    let grey = import("tests/fixtures/onnx/grey_input.onnx", Preprocess::Torchvision).unwrap();
    let p = grey.opened.graph.preprocessing();
    assert_eq!(p.colour, Colour::Luminance);
    assert!((p.mean[0] - (0.485 + 0.456 + 0.406) / 3.0).abs() < 1e-6);
    let nhwc = import("tests/fixtures/onnx/nhwc_input.onnx", Preprocess::Caffe).unwrap();
    let p = nhwc.opened.graph.preprocessing();
    assert_eq!((p.colour, p.std[0]), (Colour::Bgr, 1.0 / 255.0));
    assert_eq!(nhwc.input_side, Some(8));
    assert_eq!("signed".parse::<Preprocess>().unwrap().preprocessing().mean, [0.5; 3]);
    let wrong = "imagenet".parse::<Preprocess>().unwrap_err();
    assert!(wrong.contains("torchvision, signed, unit, caffe"), "{wrong}");
}

#[test]
fn built_in_networks_written_as_onnx_give_the_same_values_bit_for_bit() {
    for (network, file) in
        [(Network::Vgg16, "vgg16"), (Network::Alexnet, "alexnet"), (Network::EfficientnetLite0, "efficientnet-lite0")]
    {
        let bytes = read(&format!("weights/{file}.onnx"));
        let imported = onnx::import(&bytes, &format!("{file}.onnx"), network.preprocessing(), None).unwrap();
        assert_eq!(imported.stop, None);
        assert!(imported.unsupported.is_empty());
        let opened = open(imported);
        let built_in = network_model(network, Backend::Flex, &format!("{file}.safetensors"));
        // The convolutions in order, then EfficientNet's logits and probabilities.
        let convs = |n| layers_where(n, |op| matches!(op, Op::Conv(_) | Op::Linear(_) | Op::Softmax));
        let (mine, theirs) = (convs(opened.network()), convs(network));
        assert_eq!(mine.len(), theirs.len(), "{network}: the same convolutions");
        let image = || golden(&built_in);
        for (&a, &b) in mine.iter().zip(&theirs) {
            for activation in [Activation::Before, Activation::After] {
                let ours = values(opened.forward(image(), a, activation));
                let reference = values(built_in.forward(image(), b, activation));
                assert!(
                    ours == reference,
                    "{network}: layer {} (ONNX {}) {activation:?} differs by {:.2e}",
                    network.layers()[b].name,
                    opened.network().layers()[a].name,
                    largest_difference(&ours, &reference)
                );
            }
        }
        println!("{network}: {} layers equal bit for bit", mine.len());
    }
}

/// PyTorch's own exporter on the independent PyTorch definitions (`make onnx-torch` writes weights/torch-*.onnx with
/// benches/torch_onnx.py, then runs this): other graphs (EfficientNet's "same" padding as Pad nodes, the batch
/// normalisations as the port computes them), the same values within float tolerance, at every convolution.
#[test]
#[ignore = "needs weights/torch-*.onnx: make onnx-torch"]
fn torch_exports_match_the_built_in_networks() {
    for (network, file) in
        [(Network::Vgg16, "vgg16"), (Network::Alexnet, "alexnet"), (Network::EfficientnetLite0, "efficientnet-lite0")]
    {
        let bytes = read(&format!("weights/torch-{file}.onnx"));
        let imported = onnx::import(&bytes, &format!("torch-{file}.onnx"), network.preprocessing(), None).unwrap();
        assert_eq!(imported.stop, None, "{file}");
        let opened = open(imported);
        let built_in = network_model(network, Backend::Flex, &format!("{file}.safetensors"));
        let convs = |n| layers_where(n, |op| matches!(op, Op::Conv(_) | Op::Linear(_)));
        let (mine, theirs) = (convs(opened.network()), convs(network));
        assert_eq!(mine.len(), theirs.len(), "{network}: the same convolutions");
        let image = || golden(&built_in);
        let mut worst: f64 = 0.0;
        for (&a, &b) in mine.iter().zip(&theirs) {
            let ours = values(opened.forward(image(), a, Activation::Before));
            let reference = values(built_in.forward(image(), b, Activation::Before));
            let scale = reference.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
            let deviation = largest_difference(&ours, &reference) / scale;
            assert!(deviation < 1e-4, "{network}: {} deviates by {deviation:.2e}", network.layers()[b].name);
            worst = worst.max(deviation);
        }
        println!("{network}: {} layers within {worst:.1e} of the built-in network", mine.len());
    }
}

#[test]
fn an_opened_model_is_named_by_requests_and_reopening_replaces_it() {
    let first = Network::open(import("tests/fixtures/onnx/max_pool.onnx", Preprocess::Unit).unwrap().opened);
    assert_eq!(first.name(), "onnx:max_pool");
    assert_eq!(first.title(), "max_pool.onnx");
    assert_eq!("onnx:max_pool".parse::<Network>().unwrap(), first);
    let again = Network::open(import("tests/fixtures/onnx/max_pool.onnx", Preprocess::Caffe).unwrap().opened);
    let found: Network = "onnx:max_pool".parse().unwrap();
    assert_eq!(found.preprocessing().colour, Colour::Bgr, "the last opened under the name");
    assert_eq!(found, again);
    let unknown = "onnx:never-opened".parse::<Network>().unwrap_err();
    assert!(unknown.contains("unknown model 'onnx:never-opened'"), "{unknown}");
}

#[test]
fn a_model_that_stops_keeps_the_layers_before_the_first_node_it_cannot_run() {
    let imported = import("tests/fixtures/onnx/refused/unsupported_midway.onnx", Preprocess::Unit).unwrap();
    let stop = imported.stop.clone().expect("it stops");
    assert_eq!((stop.node.as_str(), stop.op.as_str()), ("tanh", "Tanh"));
    assert!(stop.reason.contains("operator Tanh is not one filterlens runs"), "{}", stop.reason);
    assert_eq!(imported.unsupported, [("tanh".to_string(), "Tanh".to_string())]);
    let names: Vec<&str> = imported.opened.graph.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["conv"]);
    // And it runs: the conv's picture is there to see.
    let model = open(imported);
    let image = Tensor::<4>::from_data(TensorData::new(golden_image(8), [1, 3, 8, 8]), &model.device());
    assert_eq!(model.forward(image, 0, Activation::After).dims(), [1, 4, 6, 6]);
}

#[test]
fn every_refusal_says_what_is_wrong() {
    let refused = |file: &str| match import(&format!("tests/fixtures/onnx/refused/{file}.onnx"), Preprocess::Unit) {
        Ok(_) => panic!("{file} was accepted"),
        Err(e) => (e.clone(), e.to_string()),
    };
    // (file, whether the error is the expected kind, what its message says)
    type Case = (&'static str, fn(&OnnxError) -> bool, &'static str);
    let cases: [Case; 10] = [
        (
            "unsupported_first",
            |e| matches!(e, OnnxError::NothingToShow { .. }),
            "nothing to show: the first node, 'tanh' (Tanh)",
        ),
        ("two_inputs", |e| matches!(e, OnnxError::Inputs(2)), "the model has 2 inputs"),
        ("tokens", |e| matches!(e, OnnxError::NotAnImage(_)), "has 2 dimensions, an image batch has 4"),
        ("four_channels", |e| matches!(e, OnnxError::NotAnImage(_)), "has 4 channels"),
        ("not_square", |e| matches!(e, OnnxError::NotAnImage(_)), "is 8×9; filterlens shows square pictures"),
        ("external_data", |e| matches!(e, OnnxError::ExternalData { .. }), "'conv-weights.bin', which was not given"),
        ("declared_too_large", |e| matches!(e, OnnxError::TooLarge { .. }), "weights are 4119 MiB as 32-bit floats"),
        ("truncated", |e| matches!(e, OnnxError::NotOnnx(_)), "not an ONNX model, or it is truncated or damaged"),
        ("not_onnx", |e| matches!(e, OnnxError::NotOnnx(_)), "not an ONNX model"),
        ("tensor_short_of_data", |e| matches!(e, OnnxError::NothingToShow { .. }), "100 bytes of data for 108 values"),
    ];
    for (file, kind, message) in cases {
        let (error, text) = refused(file);
        assert!(kind(&error), "{file}: {error:?}");
        assert!(text.contains(message), "{file}: '{text}' does not say '{message}'");
    }
}

/// The fuzzer's property on every fixture, in `make test`: damaged files (bits flipped, cut short, bytes spliced in)
/// are refused with a reason or open into a model that runs; never a panic (`make fuzz` runs the same on libFuzzer).
#[test]
fn damaged_files_are_refused_or_run() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_pcg::Pcg64::seed_from_u64(28);
    let dir = repo_path("tests/fixtures/onnx");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "onnx"));
    files.sort();
    let (mut opened, mut refused) = (0, 0);
    for path in &files {
        let original = std::fs::read(path).unwrap();
        for _ in 0..150 {
            let mut bytes = original.clone();
            match rng.random_range(0..3) {
                0 => bytes.truncate(rng.random_range(0..original.len())),
                1 => {
                    for _ in 0..rng.random_range(1..6) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] ^= 1 << rng.random_range(0..8);
                    }
                }
                _ => {
                    let at = rng.random_range(0..bytes.len());
                    let junk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, junk);
                }
            }
            match onnx::import(&bytes, "damaged.onnx", Preprocess::Unit.preprocessing(), None) {
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
                Ok(imported) => {
                    // The weights loader's own checks (a variance below zero, say) may still refuse the file.
                    let network = Network::open(imported.opened);
                    let Ok(model) = Backends::new(network, imported.weights).and_then(|mut backends| {
                        pollster::block_on(backends.select(filterlens::BackendChoice::Flex))?;
                        backends.model(network, Backend::Flex)
                    }) else {
                        refused += 1;
                        continue;
                    };
                    let side = model.network().smallest_input().max(8);
                    let image = Tensor::<4>::from_data(
                        TensorData::new(golden_image(side), [1, 3, side, side]),
                        &model.device(),
                    );
                    let deepest = model.network().layers().len() - 1;
                    let _ = model.forward(image, deepest, Activation::After);
                    opened += 1;
                }
            }
        }
    }
    println!("{} damaged files: {opened} opened and ran, {refused} refused", opened + refused);
    assert!(opened > 0 && refused > 0, "both outcomes occur: {opened} opened, {refused} refused");
}
