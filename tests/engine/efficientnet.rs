//! The third network, a graph with branches: EfficientNet-Lite0 (depthwise convolutions, folded batch norms, ReLU6,
//! residual additions, "same" padding) through the same request, weights and ascent as the plain stacks, and its
//! classifier: class objectives (Simonyan et al. 2013; Lucid's "logit").

use std::sync::OnceLock;

use burn::tensor::{Tensor, TensorData};
use filterlens::{Activation, Ascent, Backend, Backends, Mode, Model, Network, RunRequest, Start};

use crate::{golden_image, network_model, run_to_end, weights_bytes};

/// EfficientNet-Lite0's f32 weights on Flex, loaded once.
pub fn efficientnet() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| network_model(Network::EfficientnetLite0, Backend::Flex, "efficientnet-lite0.safetensors"))
}

fn values(tensor: Tensor<4>) -> Vec<f32> {
    tensor.into_data().try_into_vec::<f32>().unwrap()
}

/// Early, middle and late blocks and a class climb in classic and lucid mode.
#[test]
fn blocks_and_classes_climb_in_both_modes() {
    for (layer, filter) in [("stem", 3), ("block3_depthwise", 30), ("block8", 20), ("head", 100), ("logits", 388)] {
        for mode in [Mode::Classic, Mode::Lucid] {
            let request = RunRequest {
                model: Network::EfficientnetLite0,
                steps: Some(16),
                size: Some(96),
                ..RunRequest::new(mode, layer, &[filter])
            };
            let (objective, config) = request.plan(&Start::default()).unwrap();
            let reports = run_to_end(Ascent::new(efficientnet(), objective, config).unwrap()).0;
            let (first, last) = (reports[0].activations[0], reports[15].activations[0]);
            println!("efficientnet-lite0 {layer}:{filter} {mode}: {first:.4} -> {last:.4}");
            assert!(last > first + 0.1 * first.abs().max(0.1), "{layer}:{filter} {mode}: {first} -> {last}");
        }
    }
}

/// A class's logit (what `class(…)` reads) is what the classifier computes from the head: the linear layer on the
/// global mean of the head's ReLU6 output, written out here from the weights file; the probabilities are the
/// logits' softmax.
#[test]
fn a_class_is_its_logit() {
    let model = efficientnet();
    let network = Network::EfficientnetLite0;
    let x: Tensor<4> = Tensor::from_data(TensorData::new(golden_image(64), [1, 3, 64, 64]), &model.device());
    let [head, logits, probabilities] =
        [("head", Activation::After), ("logits", Activation::Before), ("probabilities", Activation::Before)].map(
            |(layer, activation)| values(model.forward(x.clone(), network.layer_index(layer).unwrap(), activation)),
        );
    let pooled: Vec<f64> =
        head.chunks(head.len() / 1280).map(|c| c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64).collect();
    let bytes = weights_bytes("efficientnet-lite0.safetensors");
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap().tensors();
    let floats = |name: &str| -> Vec<f32> {
        let (_, view) = file.iter().find(|(n, _)| n == name).unwrap();
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    let (weight, bias) = (floats("_fc.weight"), floats("_fc.bias"));
    let logit =
        |class: usize| bias[class] as f64 + (0..1280).map(|i| weight[class * 1280 + i] as f64 * pooled[i]).sum::<f64>();
    for class in [0, 388, 967, 999] {
        assert!(
            (logits[class] as f64 - logit(class)).abs() < 1e-4,
            "class {class}: {} vs {}",
            logits[class],
            logit(class)
        );
    }
    let total: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
    for class in [0, 388, 999] {
        let expected = (logits[class] as f64).exp() / total;
        assert!((probabilities[class] as f64 - expected).abs() < 1e-6, "probability of {class}");
    }
}

/// Another network's file, a class out of range and an unknown class name: each refused with a message that names
/// what is wrong.
#[test]
fn bad_input_is_named() {
    let vgg = Backends::new(Network::EfficientnetLite0, weights_bytes("vgg16-f16.safetensors")).err().unwrap();
    assert!(
        vgg.to_string().contains("EfficientNet-Lite0 does not use: 'features.0.bias' (is it another network's file?)"),
        "{vgg}"
    );
    let efficientnet =
        Backends::new(Network::Vgg16, weights_bytes("efficientnet-lite0-f16.safetensors")).err().unwrap();
    assert!(efficientnet.to_string().contains("(is it another network's file?)"), "{efficientnet}");
    for (expression, expected) in
        [("class(1000)", "the classes are 0–999, not 1000"), ("class(unicorn)", "no class is named 'unicorn'")]
    {
        let request =
            RunRequest::with_expressions(Mode::Classic, Network::EfficientnetLite0, &[expression.to_string()]);
        let message = request.plan(&Start::default()).unwrap_err().to_string();
        assert!(message.ends_with(expected), "{expression}: {message}");
    }
    let request = RunRequest { model: Network::EfficientnetLite0, ..RunRequest::new(Mode::Classic, "logits", &[1000]) };
    let message = request.plan(&Start::default()).unwrap_err().to_string();
    assert!(message.contains("logits has filters 0..=999"), "{message}");
}

/// A layer narrowed to a few channels (what a filter's step computes at its deepest layer) is those channels of the
/// whole layer, and so is the image's gradient through them: a dense convolution (VGG16's conv3_2), a depthwise one,
/// a block's residual addition (narrowed after it is computed) and the classifier (EfficientNet-Lite0).
#[test]
fn a_layer_narrowed_to_some_channels_is_those_channels() {
    use burn::tensor::Int;
    let cases = [
        (crate::flex_model(), Network::Vgg16, "conv3_2", vec![5i64, 0, 200]),
        (efficientnet(), Network::EfficientnetLite0, "block3_depthwise", vec![30, 2]),
        (efficientnet(), Network::EfficientnetLite0, "block8", vec![20]),
        (efficientnet(), Network::EfficientnetLite0, "logits", vec![388, 281, 0]),
    ];
    for (model, network, layer, channels) in cases {
        let index = network.layer_index(layer).unwrap();
        let image = || {
            Tensor::<4>::from_data(TensorData::new(golden_image(64), [1, 3, 64, 64]), &model.device())
                .autodiff()
                .require_grad()
        };
        let only = Tensor::<1, Int>::from_data(TensorData::new(channels.clone(), [channels.len()]), &model.device());
        let (x, y) = (image(), image());
        let [whole] = model.pre_activations(x.clone(), &[index], None).try_into().unwrap();
        let [narrowed] = model.pre_activations(y.clone(), &[index], Some(&only)).try_into().unwrap();
        let whole = whole.select(1, only.clone());
        assert_eq!(whole.dims(), narrowed.dims(), "{layer}");
        let weights = Tensor::<4>::from_data(
            TensorData::new(
                (0..whole.dims().iter().product::<usize>()).map(|i| (i % 5) as f32 - 2.0).collect(),
                whole.dims(),
            ),
            &model.device(),
        );
        let (x_grad, y_grad) = {
            let x_grads = (whole.clone() * weights.clone()).sum().backward();
            let y_grads = (narrowed.clone() * weights).sum().backward();
            (values(x.grad(&x_grads).unwrap()), values(y.grad(&y_grads).unwrap()))
        };
        for (what, a, b) in [("output", values(narrowed), values(whole)), ("image's gradient", y_grad, x_grad)] {
            let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            let difference = a.iter().zip(&b).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(difference <= 1e-4 * scale, "{layer}: {what} differs by {difference} (scale {scale})");
        }
    }
}
