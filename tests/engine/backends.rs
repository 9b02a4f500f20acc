//! Flex, wgpu (natively: lavapipe where there is no GPU) and ndarray compute the same forward and gradient, on
//! VGG16 and on EfficientNet-Lite0's graph (depthwise convolutions, "same" padding, residual additions).

use burn::tensor::{Tensor, TensorData};
use filterlens::{Activation, Backend, Model, Network};

use crate::{largest_difference, model, network_model};

/// Channel means of `layer` and the input gradient of its filter 7, on a 32×32 pattern.
fn forward_and_gradient(model: &Model, layer: &str) -> (Vec<f32>, Vec<f32>) {
    let size = 32;
    let pattern: Vec<f32> = (0..3 * size * size).map(|k| 0.5 + 0.4 * ((k as f32) * 0.37).sin()).collect();
    let x =
        Tensor::<4>::from_data(TensorData::new(pattern, [1, 3, size, size]), &model.device()).autodiff().require_grad();
    let features = model.forward(x.clone(), model.network().layer_index(layer).unwrap(), Activation::After);
    let means = features.clone().mean_dims(&[2, 3]).without_autodiff().into_data().try_into_vec::<f32>().unwrap();
    let grads = features.narrow(1, 7, 1).mean().backward();
    (means, x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap())
}

fn relative_deviation(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    largest_difference(a, b) as f32 / scale
}

#[test]
fn flex_wgpu_and_ndarray_agree() {
    let (flex_means, flex_grad) = forward_and_gradient(&model(Backend::Flex, "vgg16.safetensors"), "conv3_1");
    assert!(flex_grad.iter().any(|&g| g != 0.0), "the gradient is not trivially zero");
    for backend in [Backend::NdArray, Backend::Wgpu] {
        let (means, grad) = forward_and_gradient(&model(backend, "vgg16.safetensors"), "conv3_1");
        let (dm, dg) = (relative_deviation(&means, &flex_means), relative_deviation(&grad, &flex_grad));
        println!("{backend} vs flex: forward {dm:.1e}, gradient {dg:.1e} (relative to the largest value)");
        assert!(dm < 1e-4 && dg < 1e-4, "{backend} differs from flex: forward {dm:.1e}, gradient {dg:.1e}");
    }
}

/// EfficientNet-Lite0's block6 (through two stride-2 stages' asymmetric padding, depthwise convolutions and a
/// residual) on wgpu equals Flex's.
#[test]
fn efficientnet_on_wgpu_equals_flex() {
    let network = Network::EfficientnetLite0;
    let file = "efficientnet-lite0.safetensors";
    let (flex_means, flex_grad) = forward_and_gradient(&network_model(network, Backend::Flex, file), "block6");
    assert!(flex_grad.iter().any(|&g| g != 0.0), "the gradient is not trivially zero");
    let (means, grad) = forward_and_gradient(&network_model(network, Backend::Wgpu, file), "block6");
    let (dm, dg) = (relative_deviation(&means, &flex_means), relative_deviation(&grad, &flex_grad));
    println!("efficientnet-lite0, wgpu vs flex: forward {dm:.1e}, gradient {dg:.1e} (relative to the largest value)");
    assert!(dm < 1e-4 && dg < 1e-4, "wgpu differs from flex: forward {dm:.1e}, gradient {dg:.1e}");
}

/// `auto` takes WebGPU only on a hardware adapter: on a software one (lavapipe here, SwiftShader in the browser)
/// it runs Flex and says why, while `wgpu` asked for by name still runs there. On a machine with a GPU, `auto` is
/// WebGPU.
#[test]
fn auto_prefers_flex_over_a_software_adapter() {
    use filterlens::{BackendChoice, Backends, Fallback};
    let weights = crate::weights_bytes("vgg16-f16.safetensors");
    let mut backends = Backends::new(Network::Vgg16, weights).unwrap();
    let named = pollster::block_on(backends.select(BackendChoice::Wgpu)).unwrap();
    let auto = pollster::block_on(backends.select(BackendChoice::Auto)).unwrap();
    let Some(adapter) = named.adapter.clone() else {
        assert_eq!((auto.backend, &auto.fallback), (Backend::Flex, &named.fallback), "no adapter: both fall back");
        return;
    };
    println!("adapter {:?}", adapter);
    assert_eq!(named.backend, Backend::Wgpu, "wgpu by name runs on any adapter");
    assert_eq!(auto.adapter.as_ref(), Some(&adapter));
    if adapter.software {
        assert_eq!((auto.backend, auto.fallback), (Backend::Flex, Some(Fallback::SoftwareAdapter)));
    } else {
        assert_eq!((auto.backend, auto.fallback), (Backend::Wgpu, None));
    }
}
