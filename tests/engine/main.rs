//! Native integration tests of the core engine on the real VGG16 weights (`make weights` prepares them).
//! One test binary: linking burn with all its backends is the slow part of building tests.

mod ascent;
mod backends;
mod cli;
mod golden;
mod loader;
mod lucid;

use std::path::PathBuf;
use std::sync::OnceLock;

use filterlens::{Backend, Vgg16, device, weights};

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn weights_bytes(file: &str) -> Vec<u8> {
    let path = repo_path("weights").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make weights` first", path.display()))
}

/// The f32 weights on Flex, loaded once for the whole test binary.
pub fn flex_model() -> &'static Vgg16 {
    static MODEL: OnceLock<Vgg16> = OnceLock::new();
    MODEL.get_or_init(|| model(Backend::Flex, "vgg16.safetensors"))
}

pub fn model(backend: Backend, file: &str) -> Vgg16 {
    let device = device::init(backend).expect("backend available");
    weights::load(&weights_bytes(file), &device).expect("valid weights")
}
