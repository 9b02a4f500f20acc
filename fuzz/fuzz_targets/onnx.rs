//! Any bytes as an ONNX model: a network whose weights load (and whose deepest layer runs on a small picture), or a
//! typed refusal; never a panic, a hang or a huge allocation.
#![no_main]

use burn::tensor::{Tensor, TensorData};
use filterlens::net::onnx::{self, Preprocess};
use filterlens::{Activation, Backend, BackendChoice, Backends, Network};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(imported) = onnx::import(data, "fuzz.onnx", Preprocess::Unit.preprocessing(), None) else { return };
    let network = Network::open(imported.opened);
    let Ok(mut backends) = Backends::new(network, imported.weights) else { return };
    if pollster::block_on(backends.select(BackendChoice::Flex)).is_err() {
        return;
    }
    let Ok(model) = backends.model(network, Backend::Flex) else { return };
    let side = network.smallest_input().clamp(8, 64);
    let image = Tensor::<4>::from_data(TensorData::new(vec![0.5f32; 3 * side * side], [1, 3, side, side]), &model.device());
    let _ = model.forward(image, network.layers().len() - 1, Activation::After);
});
