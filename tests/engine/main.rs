//! Native integration tests of the core engine on the real VGG16 weights (`make weights` prepares them).
//! One test binary: linking burn with all its backends is the slow part of building tests.

mod alexnet;
mod ascent;
mod atlas;
mod backends;
mod catalog;
mod cli;
mod efficientnet;
mod examples;
mod golden;
mod loader;
mod lucid;
mod maco;
mod onnx;
mod pin;
mod reference;
#[path = "../../src/testing.rs"]
mod testing;

use std::path::PathBuf;
use std::sync::OnceLock;

use filterlens::{Ascent, Backend, BackendChoice, Backends, Model, Network, StepReport};
pub use testing::largest_difference;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn weights_bytes(file: &str) -> Vec<u8> {
    let path = repo_path("weights").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make weights` first", path.display()))
}

/// The f32 weights on Flex, loaded once for the whole test binary.
pub fn flex_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| model(Backend::Flex, "vgg16.safetensors"))
}

/// VGG16's weights in `file` on exactly `backend` (no fallback: a wgpu test must run on wgpu).
pub fn model(backend: Backend, file: &str) -> Model {
    network_model(Network::Vgg16, backend, file)
}

/// `network`'s weights in `file` on exactly `backend`.
pub fn network_model(network: Network, backend: Backend, file: &str) -> Model {
    let choice = backend.to_string().parse::<BackendChoice>().unwrap();
    let mut backends = Backends::new(network, weights_bytes(file)).expect("valid weights");
    let info = pollster::block_on(backends.select(choice)).unwrap();
    assert_eq!(info.backend, backend, "{backend} is unavailable: {:?}", info.fallback);
    backends.model(network, backend).expect("valid weights")
}

/// Steps `ascent` until it is done: every step's report, and the ascent (for its pictures).
pub fn run_to_end(mut ascent: Ascent) -> (Vec<StepReport>, Ascent) {
    let mut reports = Vec::new();
    while !ascent.is_done() {
        reports.push(pollster::block_on(ascent.step()).expect("a step on Flex"));
    }
    (reports, ascent)
}

/// One step of `ascent`: its report, and the ascent.
pub fn step_once(mut ascent: Ascent) -> (StepReport, Ascent) {
    let report = pollster::block_on(ascent.step()).expect("a step on Flex");
    (report, ascent)
}

/// The golden fixture's input formula at `size`×`size`, planar `[3][size][size]` in [0, 1]:
/// `0.5 + 0.45·sin(0.31i + 0.17j + 1.3c)·cos(0.23j − 0.11i + 0.7c)`.
pub fn golden_image(size: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        for i in 0..size {
            for j in 0..size {
                let (c, i, j) = (c as f64, i as f64, j as f64);
                x.push(
                    (0.5 + 0.45 * (0.31 * i + 0.17 * j + 1.3 * c).sin() * (0.23 * j - 0.11 * i + 0.7 * c).cos()) as f32,
                );
            }
        }
    }
    x
}
