//! Choosing where the tensors live: wgpu (WebGPU in the browser; Vulkan/Metal/DX12 natively), Flex (pure-Rust CPU,
//! the fallback) or ndarray (an older CPU backend, 100× slower than Flex on VGG16, kept for comparison).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Wgpu,
    Flex,
    NdArray,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Wgpu, Backend::Flex, Backend::NdArray];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Wgpu => "wgpu",
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
        }
    }

    /// The CPU backends need no initialisation and cannot fail.
    pub fn cpu_device(self) -> Option<Device> {
        match self {
            Backend::Wgpu => None,
            Backend::Flex => Some(Device::flex()),
            #[allow(deprecated)] // kept on purpose, as the slow reference CPU backend
            Backend::NdArray => Some(Device::ndarray()),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown backend '{s}' (expected wgpu, flex or ndarray)"))
    }
}

/// The device for `backend`. wgpu is initialised once per process (burn refuses a second initialisation) and the
/// outcome, device or error, is remembered.
#[cfg(not(target_arch = "wasm32"))]
pub fn init(backend: Backend) -> Result<Device, crate::Error> {
    use std::sync::OnceLock;
    static WGPU: OnceLock<Result<Device, String>> = OnceLock::new();
    match backend.cpu_device() {
        Some(device) => Ok(device),
        None => WGPU
            .get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()))
            .clone()
            .map_err(|reason| crate::Error::BackendUnavailable { backend, reason }),
    }
}
