//! The one owner of the backends: wgpu (WebGPU in the browser; Vulkan/Metal/DX12 natively), Flex (pure-Rust CPU,
//! the fallback) and ndarray (an older CPU backend, 100× slower than Flex on VGG16, kept for comparison).
//!
//! [`Backends`] initialises WebGPU at most once per process (burn refuses a second initialisation), keeps each
//! network's weights and one model per backend and network, and applies the fallback policy: where WebGPU is asked for (or `auto`) but has no adapter,
//! fails to start, or loses its device, the work goes to Flex, and [`BackendInfo::fallback`] says why, as data.
//! The words for a person are the front end's to write.

use burn::tensor::Device;
#[cfg(feature = "webgpu")]
use burn::tensor::wgpu::wgpu;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::names::from_name;
use crate::net::weights::{self, WeightsError};
use crate::net::{Model, Network};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Wgpu,
    Flex,
    #[serde(rename = "ndarray")]
    NdArray,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Wgpu, Backend::Flex, Backend::NdArray];

    /// The CPU backends need no initialisation and cannot fail.
    fn cpu_device(self) -> Option<Device> {
        match self {
            Backend::Wgpu => None,
            Backend::Flex => Some(Device::flex()),
            #[allow(deprecated)] // kept on purpose, as the slow reference CPU backend
            Backend::NdArray => Some(Device::ndarray()),
        }
    }
}

from_name!(Backend, "backend", Backend::ALL);

/// What a front end asks for: one backend, or `auto` (WebGPU on a hardware adapter, else Flex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Auto,
    Wgpu,
    Flex,
    #[serde(rename = "ndarray")]
    NdArray,
}

impl BackendChoice {
    pub const ALL: [BackendChoice; 4] =
        [BackendChoice::Auto, BackendChoice::Wgpu, BackendChoice::Flex, BackendChoice::NdArray];
}

from_name!(BackendChoice, "backend", BackendChoice::ALL);

/// Why WebGPU, asked for (or `auto`), is not the backend in use. (The page words these for its visitors; the
/// messages here are the CLI's.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "reason", rename_all = "camelCase")]
pub enum Fallback {
    /// The browser (or system) offers no WebGPU adapter.
    #[error("no WebGPU adapter is available")]
    NoAdapter,
    /// An adapter exists, but the device did not start.
    #[error("WebGPU did not start: {0}")]
    InitFailed(String),
    /// The device was lost (a driver reset, say) or a result could not be read back.
    #[error("the WebGPU device was lost: {0}")]
    DeviceLost(String),
    /// `auto` only: the adapter is a software rasteriser, which is slower than Flex on the same CPU (30–100× on
    /// the project's machine: SwiftShader in Chromium, lavapipe natively; docs/BENCHMARKS.md). `wgpu`, asked for
    /// by name, still runs there.
    #[error("the WebGPU adapter is a software renderer, slower than the CPU")]
    SoftwareAdapter,
}

/// The WebGPU adapter in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Adapter {
    /// The adapter's own description (may be empty: browsers withhold it by default).
    pub name: String,
    /// A software rasteriser (SwiftShader, lavapipe, the browser's fallback adapter): much slower than Flex.
    pub software: bool,
}

/// Which backend runs, and why it is not the one asked for when it is not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    pub requested: BackendChoice,
    pub backend: Backend,
    pub adapter: Option<Adapter>,
    pub fallback: Option<Fallback>,
}

#[derive(Clone)]
struct Gpu {
    device: Device,
    #[cfg(feature = "webgpu")]
    handle: wgpu::Device,
    adapter: Adapter,
}

/// The process's one WebGPU initialisation, remembered with its outcome (natively shared by every thread; in the
/// browser's single-threaded worker, a thread-local, since WebGPU handles stay on their thread).
mod gpu {
    use super::{Fallback, Gpu};

    /// A build without the wgpu backend (the page's threaded build, whose worker never asks it for WebGPU).
    #[cfg(not(feature = "webgpu"))]
    async fn init() -> Result<Gpu, Fallback> {
        Err(Fallback::InitFailed("this build has no WebGPU backend".into()))
    }

    #[cfg(feature = "webgpu")]
    async fn init() -> Result<Gpu, Fallback> {
        use super::Adapter;
        use burn::tensor::Device;
        use burn::tensor::wgpu::WgpuInitError;

        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
                let name = [info.name.as_str(), info.driver.as_str(), info.driver_info.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Gpu { device, handle: setup.device, adapter: Adapter { name, software } })
            }
            Err(WgpuInitError::AdapterUnavailable { .. }) => Err(Fallback::NoAdapter),
            Err(e) => Err(Fallback::InitFailed(e.to_string())),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod slot {
        use std::sync::Mutex;

        use super::{Fallback, Gpu};

        static GPU: Mutex<Option<Result<Gpu, Fallback>>> = Mutex::new(None);

        pub fn get() -> Option<Result<Gpu, Fallback>> {
            GPU.lock().expect("the GPU slot is never poisoned").clone()
        }

        pub fn set(gpu: Result<Gpu, Fallback>) {
            *GPU.lock().expect("the GPU slot is never poisoned") = Some(gpu);
        }
    }

    #[cfg(target_arch = "wasm32")]
    mod slot {
        use std::cell::RefCell;

        use super::{Fallback, Gpu};

        thread_local! {
            static GPU: RefCell<Option<Result<Gpu, Fallback>>> = const { RefCell::new(None) };
        }

        pub fn get() -> Option<Result<Gpu, Fallback>> {
            GPU.with_borrow(Clone::clone)
        }

        pub fn set(gpu: Result<Gpu, Fallback>) {
            GPU.with_borrow_mut(|slot| *slot = Some(gpu));
        }
    }

    /// The WebGPU device, initialised on first use; later calls get the same outcome.
    pub async fn get() -> Result<Gpu, Fallback> {
        if let Some(gpu) = slot::get() {
            return gpu;
        }
        let gpu = init().await;
        // Natively two threads may race here; burn refuses the loser's initialisation, so keep the first outcome.
        if let Some(first) = slot::get() {
            return first;
        }
        slot::set(gpu.clone());
        gpu
    }

    /// From now on, WebGPU is unavailable for this reason.
    pub fn fail(fallback: Fallback) {
        slot::set(Err(fallback));
    }

    pub fn peek() -> Option<Result<Gpu, Fallback>> {
        slot::get()
    }
}

/// A network's weights file as far as it has arrived, its header checked.
struct WeightsFile {
    network: Network,
    header: weights::Header,
    /// The file's first bytes (all of them, once in).
    bytes: Vec<u8>,
}

/// Each network's weights, and the model on each backend (and network) that has been used. The weights may arrive
/// in pieces (the page starts on the first layers while the deeper ones download): each model has the layers whose
/// bytes are in.
#[derive(Default)]
pub struct Backends {
    files: Vec<WeightsFile>,
    models: Vec<(Backend, Model)>,
}

impl Backends {
    /// `file`: `network`'s whole safetensors file, its header checked now, its values when a model is loaded.
    pub fn new(network: Network, file: Vec<u8>) -> Result<Self, Error> {
        let mut backends = Self::default();
        let file_len = file.len();
        backends.arriving(network, file, file_len)?;
        Ok(backends)
    }

    /// The first bytes of `network`'s `file_len`-byte weights file (its header, perhaps some layers): the rest
    /// comes through [`Backends::add_weights`]. The header is checked now (it must describe `file_len` bytes of
    /// the network's tensors). Replaces what the network had.
    pub fn arriving(&mut self, network: Network, first: Vec<u8>, file_len: usize) -> Result<(), Error> {
        let header = weights::Header::parse(&first, network)?;
        // A header that describes more (or less) than the file: reported as the whole file would be.
        header.check_len(file_len)?;
        self.files.retain(|f| f.network != network);
        self.models.retain(|(_, m)| m.network() != network);
        self.files.push(WeightsFile { network, header, bytes: first });
        Ok(())
    }

    /// `network`'s file's next bytes, after those given so far.
    pub fn add_weights(&mut self, network: Network, more: &[u8]) -> Result<(), Error> {
        let file = self.file(network)?;
        let len = file.bytes.len() + more.len();
        let expected = file.header.file_len();
        if len > expected {
            return Err(WeightsError::TrailingBytes { bytes: len, expected }.into());
        }
        self.file_mut(network).bytes.extend_from_slice(more);
        Ok(())
    }

    fn file(&self, network: Network) -> Result<&WeightsFile, Error> {
        self.files.iter().find(|f| f.network == network).ok_or(Error::NoWeights { network: network.title() })
    }

    fn file_mut(&mut self, network: Network) -> &mut WeightsFile {
        self.files.iter_mut().find(|f| f.network == network).expect("found by Backends::file")
    }

    /// Resolves `choice` to a backend, falling back to Flex where WebGPU is unavailable (and starting WebGPU the
    /// first time it is asked for).
    pub async fn select(&mut self, choice: BackendChoice) -> Result<BackendInfo, Error> {
        let only = |backend| BackendInfo { requested: choice, backend, adapter: None, fallback: None };
        Ok(match choice {
            BackendChoice::Flex => only(Backend::Flex),
            BackendChoice::NdArray => only(Backend::NdArray),
            BackendChoice::Auto | BackendChoice::Wgpu => match gpu::get().await {
                Ok(gpu) if choice == BackendChoice::Auto && gpu.adapter.software => BackendInfo {
                    adapter: Some(gpu.adapter),
                    fallback: Some(Fallback::SoftwareAdapter),
                    ..only(Backend::Flex)
                },
                Ok(gpu) => BackendInfo { adapter: Some(gpu.adapter), ..only(Backend::Wgpu) },
                Err(fallback) => BackendInfo { fallback: Some(fallback), ..only(Backend::Flex) },
            },
        })
    }

    /// WebGPU failed mid-run: forget its models and refuse it from now on; the work goes to Flex. The info says
    /// so (`fallback: deviceLost`).
    pub fn lose_gpu(&mut self, requested: BackendChoice, reason: String) -> BackendInfo {
        let fallback = Fallback::DeviceLost(reason);
        gpu::fail(fallback.clone());
        self.models.retain(|(b, _)| *b != Backend::Wgpu);
        BackendInfo { requested, backend: Backend::Flex, adapter: None, fallback: Some(fallback) }
    }

    /// `network` on `backend`'s device, with every layer whose weights are in: loaded there on first use, grown
    /// by the layers that have arrived since.
    pub fn model(&mut self, network: Network, backend: Backend) -> Result<Model, Error> {
        self.file(network)?;
        let index = match self.models.iter().position(|(b, m)| *b == backend && m.network() == network) {
            Some(index) => index,
            None => {
                let device = self.device(backend)?;
                self.models.push((backend, Model::new(network, &device)));
                self.models.len() - 1
            }
        };
        let file = self.files.iter().find(|f| f.network == network).expect("checked above");
        let model = &mut self.models[index].1;
        let device = model.device();
        for index in model.weighted()..file.header.params_within(file.bytes.len()) {
            model.push(weights::upload(file.header.params(&file.bytes, index)?, &device));
        }
        Ok(model.clone())
    }

    fn device(&self, backend: Backend) -> Result<Device, Error> {
        match backend.cpu_device() {
            Some(device) => Ok(device),
            None => match gpu::peek() {
                Some(Ok(gpu)) => Ok(gpu.device),
                Some(Err(fallback)) => Err(Error::BackendUnavailable { backend, reason: fallback.to_string() }),
                None => Err(Error::BackendUnavailable { backend, reason: "WebGPU is not initialised".into() }),
            },
        }
    }
}

/// Test hook: destroys the process's WebGPU device, as a driver reset would. Whether there was one.
pub fn destroy_gpu_for_testing() -> bool {
    match gpu::peek() {
        #[cfg(feature = "webgpu")]
        Some(Ok(gpu)) => {
            gpu.handle.destroy();
            true
        }
        _ => false,
    }
}
