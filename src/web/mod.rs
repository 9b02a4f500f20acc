//! The browser surface (wasm32 only): a [`Visualizer`] that the page's module worker drives, one ascent step per
//! call, painting each step onto an `OffscreenCanvas`.
//!
//! A thin skin over the core: choosing a device, loading the weights onto it, building an [`Ascent`], and turning
//! its pixels into `ImageData`. No maths here. Every fallible call rejects with a JS `Error` whose message is
//! meant for the page.
//!
//! WebGPU is initialised at most once per page (burn refuses a second initialisation); the outcome, device or
//! reason for failure, is kept for the worker's life. If WebGPU fails to start, or its device is lost mid-run,
//! the visualizer carries on with Flex from the last painted image and says so in the next report's `notice`.

use std::cell::RefCell;

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};
use web_time::Instant;

use crate::{Ascent, AscentConfig, Backend, Error, Objective, Optimiser, Vgg16, image, weights};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The page's one WebGPU initialisation: the device, or why there is none.
#[derive(Clone)]
enum Gpu {
    Ready { device: Device, handle: wgpu::Device, adapter: String },
    Unavailable(String),
}

thread_local! {
    static GPU: RefCell<Option<Gpu>> = const { RefCell::new(None) };
}

/// The WebGPU device, initialised on first use.
async fn webgpu() -> Gpu {
    if let Some(gpu) = GPU.with_borrow(Clone::clone) {
        return gpu;
    }
    let gpu = match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let adapter = [info.name.as_str(), info.driver.as_str(), info.driver_info.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            Gpu::Ready { device, handle: setup.device, adapter }
        }
        Err(e) => Gpu::Unavailable(e.to_string()),
    };
    GPU.with_borrow_mut(|slot| *slot = Some(gpu.clone()));
    gpu
}

/// Remembers that WebGPU stopped working, so later requests for it go to Flex straight away.
fn webgpu_failed(reason: String) {
    GPU.with_borrow_mut(|slot| *slot = Some(Gpu::Unavailable(reason)));
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// One run: the ascent and the last image painted (kept on the host, to carry the run on elsewhere).
struct Run {
    ascent: Ascent,
    painted: Option<Vec<f32>>,
}

/// Gradient ascent for one VGG16 filter, painted on a canvas step by step.
///
/// JS: `const v = await Visualizer.create(bytes, "auto", offscreen); v.start("conv3_2", 0, 150, 2/255, 224, 0);`
/// then `await v.step()` until its report says `done`. Calls must not overlap (await each one).
#[wasm_bindgen]
pub struct Visualizer {
    weights: Vec<u8>,
    models: Vec<(Backend, Vgg16)>,
    backend: Backend,
    adapter: Option<String>,
    /// A message for the page, delivered with the next report (a backend fallback).
    notice: Option<String>,
    /// The technical reason behind `notice`, for the console.
    detail: Option<String>,
    canvas: OffscreenCanvas,
    context: OffscreenCanvasRenderingContext2d,
    run: Option<Run>,
}

#[wasm_bindgen]
impl Visualizer {
    /// Validates `weights` (safetensors bytes), chooses a backend (`auto`, `wgpu`, `flex` or `ndarray`) and loads
    /// the model onto it. Paints on `canvas`.
    pub async fn create(weights: Vec<u8>, backend: String, canvas: OffscreenCanvas) -> Result<Visualizer, JsError> {
        let context = canvas
            .get_context("2d")
            .map_err(|e| JsError::new(&format!("the canvas refused a 2d context: {e:?}")))?
            .ok_or_else(|| JsError::new("the canvas has no 2d context (is another context in use?)"))?
            .dyn_into::<OffscreenCanvasRenderingContext2d>()
            .map_err(|_| JsError::new("the canvas's 2d context is not an OffscreenCanvasRenderingContext2d"))?;
        let mut visualizer = Visualizer {
            weights,
            models: Vec::new(),
            backend: Backend::Flex,
            adapter: None,
            notice: None,
            detail: None,
            canvas,
            context,
            run: None,
        };
        visualizer.switch(&backend).await?;
        Ok(visualizer)
    }

    /// Moves to another backend (`auto`, `wgpu`, `flex` or `ndarray`); stops the current run. Resolves to
    /// `{ backend, adapter, notice }`, `notice` saying why the backend differs from the one asked for.
    #[wasm_bindgen(js_name = useBackend)]
    pub async fn use_backend(&mut self, backend: String) -> Result<JsValue, JsError> {
        self.run = None;
        self.switch(&backend).await?;
        let info = Object::new();
        set(&info, "backend", self.backend.name().into());
        set(&info, "adapter", self.adapter.clone().map_or(JsValue::NULL, Into::into));
        set(&info, "notice", self.notice.take().map_or(JsValue::NULL, Into::into));
        set(&info, "detail", self.detail.take().map_or(JsValue::NULL, Into::into));
        Ok(info.into())
    }

    /// The backend in use: `wgpu`, `flex` or `ndarray`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.name().to_string()
    }

    /// Why the backend in use is not the one asked for (a WebGPU fallback), once; then `undefined` until the next.
    #[wasm_bindgen(js_name = takeNotice)]
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    /// The technical reason behind the last notice (an error from wgpu), once; for the console.
    #[wasm_bindgen(js_name = takeDetail)]
    pub fn take_detail(&mut self) -> Option<String> {
        self.detail.take()
    }

    /// The WebGPU adapter's description, when running on WebGPU.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> Option<String> {
        self.adapter.clone()
    }

    /// Starts a run (replacing any other): maximise the mean activation of `filter` of `layer` (`conv1_1` …
    /// `conv5_3`), `steps` steps of `step_size` on a `size`×`size` image from the noise of `seed`. Sizes the
    /// canvas; the first step paints.
    pub fn start(
        &mut self,
        layer: &str,
        filter: usize,
        steps: usize,
        step_size: f32,
        size: usize,
        seed: u32,
    ) -> Result<(), JsError> {
        self.run = None;
        let objective = Objective::channels(layer, &[filter]).map_err(js_error)?;
        let config = AscentConfig {
            steps,
            size,
            seed: u64::from(seed),
            optimiser: Optimiser::MaxNormalised { step_size },
            ..AscentConfig::classic()
        };
        let model = self.model(self.backend).map_err(js_error)?;
        let ascent = Ascent::new(&model, objective, config).map_err(js_error)?;
        self.canvas.set_width(size as u32);
        self.canvas.set_height(size as u32);
        self.run = Some(Run { ascent, painted: None });
        Ok(())
    }

    /// Ends the run; the canvas keeps its last picture.
    pub fn stop(&mut self) {
        self.run = None;
    }

    /// Whether a run is in progress (started and not done).
    #[wasm_bindgen(getter)]
    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.ascent.is_done())
    }

    /// One step, painted. Resolves to `{ step, steps, done, activation, preRelu, switchedToPreRelu, millis,
    /// totalMillis, backend, notice }`: `step` counts the steps taken (1 after the first), `activation` is the
    /// objective before this step's update, `millis` the core's step time and `totalMillis` that plus reading the
    /// image back and painting it; `switchedToPreRelu` is true on the step where a dead filter (zero gradient on the
    /// initial noise) made the run maximise the pre-ReLU activation instead, and `preRelu` says which one the run
    /// maximises now.
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let Some(mut run) = self.run.take() else {
            return Err(JsError::new("nothing to step: start a run first"));
        };
        if run.ascent.is_done() {
            self.run = Some(run);
            return Err(JsError::new("the run is done: start another"));
        }
        let started = Instant::now();
        let mut outcome = advance(&mut run).await;
        if let Err(e) = &outcome
            && self.backend == Backend::Wgpu
        {
            // WebGPU failed mid-run (a lost device, typically): carry on with Flex from the last painted image.
            let reason = e.to_string();
            webgpu_failed(format!("the WebGPU device failed during a run: {reason}"));
            self.models.retain(|(b, _)| *b != Backend::Wgpu);
            self.backend = Backend::Flex;
            self.adapter = None;
            let flex = self.model(Backend::Flex).map_err(js_error)?;
            let taken = run.ascent.steps_taken();
            match run.painted.clone() {
                Some(pixels) => run.ascent.continue_on(&flex, pixels),
                None => {
                    let (objective, config) = (run.ascent.objective().clone(), run.ascent.config().clone());
                    run.ascent = Ascent::new(&flex, objective, config).map_err(js_error)?;
                }
            }
            self.notice = Some(format!(
                "WebGPU stopped working (the device was lost, or a result could not be read back); carrying on \
                 with Flex (CPU) from step {taken}, the last picture painted"
            ));
            self.detail = Some(reason);
            outcome = advance(&mut run).await;
        }
        let (report, pixels) = outcome.map_err(js_error)?;
        let size = run.ascent.config().size;
        self.paint(&pixels, size, run.ascent.display())?;
        let total = started.elapsed().as_secs_f64() * 1e3;
        let info = Object::new();
        set(&info, "step", ((report.step + 1) as f64).into());
        set(&info, "steps", (run.ascent.config().steps as f64).into());
        set(&info, "done", run.ascent.is_done().into());
        set(&info, "activation", f64::from(report.activations[0]).into());
        set(&info, "preRelu", (run.ascent.activations()[0] == crate::Activation::PreRelu).into());
        set(&info, "switchedToPreRelu", (!report.switched_to_pre_relu.is_empty()).into());
        set(&info, "millis", report.millis.into());
        set(&info, "totalMillis", total.into());
        set(&info, "backend", self.backend.name().into());
        set(&info, "notice", self.notice.take().map_or(JsValue::NULL, Into::into));
        set(&info, "detail", self.detail.take().map_or(JsValue::NULL, Into::into));
        run.painted = Some(pixels);
        self.run = Some(run);
        Ok(info.into())
    }

    /// Test hook: destroys the page's WebGPU device, as a driver reset would, to exercise the fallback to Flex.
    /// Returns whether there was a device to destroy.
    #[wasm_bindgen(js_name = loseWebGpuDeviceForTesting)]
    pub fn lose_webgpu_device_for_testing() -> bool {
        GPU.with_borrow(|gpu| match gpu {
            Some(Gpu::Ready { handle, .. }) => {
                handle.destroy();
                true
            }
            _ => false,
        })
    }
}

impl Visualizer {
    /// Resolves a backend choice to a device, falling back to Flex (with a notice) where WebGPU is unavailable.
    async fn switch(&mut self, choice: &str) -> Result<(), JsError> {
        let (backend, adapter, notice, detail) = match choice {
            "auto" | "wgpu" | "webgpu" => match webgpu().await {
                Gpu::Ready { adapter, .. } => (Backend::Wgpu, Some(adapter), None, None),
                Gpu::Unavailable(reason) => {
                    let why = if reason.contains("No adapter available") {
                        "this browser offers no WebGPU adapter".to_string()
                    } else if reason.contains("device failed during a run") {
                        "the WebGPU device was lost earlier on this page".to_string()
                    } else {
                        format!("WebGPU did not start: {reason}")
                    };
                    let notice = if choice == "auto" {
                        format!("Running on Flex (CPU): {why}.")
                    } else {
                        format!("WebGPU was asked for, but {why}; running on Flex (CPU) instead.")
                    };
                    (Backend::Flex, None, Some(notice), Some(reason))
                }
            },
            other => (other.parse::<Backend>().map_err(|e| JsError::new(&e))?, None, None, None),
        };
        self.model(backend).map_err(js_error)?;
        self.backend = backend;
        self.adapter = adapter;
        self.notice = notice;
        self.detail = detail;
        Ok(())
    }

    /// The model on `backend`'s device, loading the weights there on first use.
    fn model(&mut self, backend: Backend) -> Result<Vgg16, Error> {
        if let Some((_, model)) = self.models.iter().find(|(b, _)| *b == backend) {
            return Ok(model.clone());
        }
        let device = match backend.cpu_device() {
            Some(device) => device,
            None => match GPU.with_borrow(Clone::clone) {
                Some(Gpu::Ready { device, .. }) => device,
                Some(Gpu::Unavailable(reason)) => return Err(Error::BackendUnavailable { backend, reason }),
                None => {
                    return Err(Error::BackendUnavailable { backend, reason: "WebGPU is not initialised".into() });
                }
            },
        };
        let model = weights::load(&self.weights, &device)?;
        self.models.push((backend, model.clone()));
        Ok(model)
    }

    fn paint(&self, pixels: &[f32], size: usize, display: image::Display) -> Result<(), JsError> {
        let rgba = image::rgba(&pixels[..3 * size * size], size, size, display);
        let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), size as u32, size as u32)
            .map_err(|e| JsError::new(&format!("could not make ImageData: {e:?}")))?;
        self.context
            .put_image_data(&data, 0.0, 0.0)
            .map_err(|e| JsError::new(&format!("could not paint the canvas: {e:?}")))
    }
}

/// One step of `run` and the image after it, read back.
async fn advance(run: &mut Run) -> Result<(crate::StepReport, Vec<f32>), Error> {
    let report = run.ascent.step().await?;
    let pixels = run.ascent.pixels().await?;
    Ok((report, pixels))
}

fn set(object: &Object, key: &str, value: JsValue) {
    Reflect::set(object, &key.into(), &value).expect("setting a property on a plain object cannot fail");
}
