//! The browser surface (wasm32 only): a [`Visualizer`] that the page's module worker drives, one ascent step per
//! call, painting each step (one image, or a captioned grid of filters) onto an `OffscreenCanvas`.
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

use crate::image::{GridLayout, Rgba};
use crate::{Activation, Ascent, AscentConfig, Backend, Error, Mode, Objective, Optimiser, Vgg16, image, weights};

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

/// One run: the ascent, where its tiles go, and the last images painted with their step count (kept on the host,
/// to carry the run on elsewhere).
struct Run {
    ascent: Ascent,
    layout: GridLayout,
    painted: Option<(Vec<f32>, usize)>,
}

/// Gradient ascent for VGG16 filters, painted on a canvas step by step.
///
/// JS: `const v = await Visualizer.create(bytes, "auto", offscreen);`
/// `v.start("classic", "conv3_2", [0], 150, 2/255, 224, 0, null);` then `await v.step()` until its report says
/// `done`; `v.png()` is the picture as a PNG file. Calls must not overlap (await each one).
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
    /// The picture on the canvas, full resolution, for export (kept after the run stops).
    picture: Option<Rgba>,
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
            picture: None,
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

    /// Starts a run (replacing any other): maximise the mean activation of each of `filters` of `layer` (`conv1_1` …
    /// `conv5_3`), optimised together as one batch, `steps` steps on `size`×`size` images. `mode` is `classic` (the
    /// seed: pixels, max-normalised steps of `rate`) or `lucid` (FFT spectrum with decorrelated colour, random
    /// transforms, Adam with learning rate `rate`). The images start from the noise of `seed`, or from `init`: the
    /// RGBA bytes of a `size`×`size` picture. Sizes the canvas for the picture (one image, or a captioned grid) and
    /// resolves to its layout, `{ width, height, tiles: [[x, y, width, height], …] }`, each tile's image and
    /// caption in canvas pixels. The first step paints.
    #[allow(clippy::too_many_arguments)] // one flat call, mirrored by the worker's message
    pub fn start(
        &mut self,
        mode: &str,
        layer: &str,
        filters: Vec<u32>,
        steps: usize,
        rate: f32,
        size: usize,
        seed: u32,
        init: Option<Vec<u8>>,
    ) -> Result<JsValue, JsError> {
        self.run = None;
        let filters: Vec<usize> = filters.into_iter().map(|f| f as usize).collect();
        let objective = Objective::channels(layer, &filters).map_err(js_error)?;
        let mut config = AscentConfig {
            steps,
            size,
            seed: u64::from(seed),
            ..AscentConfig::for_mode(mode.parse::<Mode>().map_err(|e| JsError::new(&e))?)
        };
        match &mut config.optimiser {
            Optimiser::MaxNormalised { step_size } => *step_size = rate,
            Optimiser::Adam { learning_rate } => *learning_rate = rate,
        }
        if let Some(rgba) = init {
            if rgba.len() != 4 * size * size {
                return Err(JsError::new(&format!(
                    "the starting picture has {} bytes, expected RGBA of {size}×{size} ({})",
                    rgba.len(),
                    4 * size * size
                )));
            }
            config.init = Some(Rgba { width: size, height: size, pixels: rgba }.to_planar_square(size));
        }
        let model = self.model(self.backend).map_err(js_error)?;
        let ascent = Ascent::new(&model, objective, config).map_err(js_error)?;
        let layout = GridLayout::new(filters.len(), size);
        let (width, height) = if filters.len() == 1 { (size, size) } else { (layout.width(), layout.height()) };
        self.canvas.set_width(width as u32);
        self.canvas.set_height(height as u32);
        self.picture = None;
        self.run = Some(Run { ascent, layout, painted: None });

        let tiles = js_sys::Array::new();
        for index in 0..filters.len() {
            let (x, y) = layout.origin(index);
            let rect = [x, y, size, height.min(size + layout.caption_height())];
            tiles.push(&rect.iter().map(|&v| JsValue::from(v as f64)).collect::<js_sys::Array>());
        }
        let info = Object::new();
        set(&info, "width", (width as f64).into());
        set(&info, "height", (height as f64).into());
        set(&info, "tiles", tiles.into());
        Ok(info.into())
    }

    /// The picture on the canvas (full resolution; a grid with its captions) as PNG file bytes.
    pub fn png(&self) -> Result<Vec<u8>, JsError> {
        self.picture.as_ref().map(Rgba::to_png).ok_or_else(|| JsError::new("there is no picture yet: start a run"))
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

    /// One step, painted. Resolves to `{ step, steps, done, activations, preRelu, switchedToPreRelu, millis,
    /// totalMillis, backend, notice }`: `step` counts the steps taken (1 after the first), `activations` are the
    /// objective of each filter before this step's update, `millis` the core's step time and `totalMillis` that plus
    /// reading the images back and painting them; `switchedToPreRelu` lists the filters that a zero gradient on the
    /// initial noise (a dead filter) made maximise their pre-ReLU activation instead, on the step where that
    /// happened, and `preRelu` says for each filter which activation it maximises now.
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
            let taken = run.painted.as_ref().map_or(0, |(_, step)| *step);
            match run.painted.clone() {
                Some((pixels, step)) => run.ascent.continue_on(&flex, pixels, step),
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
        let picture = image::picture(&pixels, run.ascent.display(), &run.ascent.objective().captions(), &run.layout);
        self.paint(picture)?;
        let total = started.elapsed().as_secs_f64() * 1e3;
        let filters = run.ascent.objective().filters();
        let info = Object::new();
        set(&info, "step", ((report.step + 1) as f64).into());
        set(&info, "steps", (run.ascent.config().steps as f64).into());
        set(&info, "done", run.ascent.is_done().into());
        set(&info, "activations", numbers(report.activations.iter().map(|&a| f64::from(a))));
        let pre_relu: js_sys::Array =
            run.ascent.activations().iter().map(|a| JsValue::from(*a == Activation::PreRelu)).collect();
        set(&info, "preRelu", pre_relu.into());
        set(&info, "switchedToPreRelu", numbers(report.switched_to_pre_relu.iter().map(|&i| filters[i] as f64)));
        set(&info, "millis", report.millis.into());
        set(&info, "totalMillis", total.into());
        set(&info, "backend", self.backend.name().into());
        set(&info, "notice", self.notice.take().map_or(JsValue::NULL, Into::into));
        set(&info, "detail", self.detail.take().map_or(JsValue::NULL, Into::into));
        run.painted = Some((pixels, report.step + 1));
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
                Some(Gpu::Unavailable(reason)) => {
                    return Err(Error::BackendUnavailable { backend, reason });
                }
                None => {
                    return Err(Error::BackendUnavailable { backend, reason: "WebGPU is not initialised".into() });
                }
            },
        };
        let model = weights::load(&self.weights, &device)?;
        self.models.push((backend, model.clone()));
        Ok(model)
    }

    fn paint(&mut self, picture: Rgba) -> Result<(), JsError> {
        let (width, height) = (picture.width as u32, picture.height as u32);
        let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&picture.pixels), width, height)
            .map_err(|e| JsError::new(&format!("could not make ImageData: {e:?}")))?;
        self.context
            .put_image_data(&data, 0.0, 0.0)
            .map_err(|e| JsError::new(&format!("could not paint the canvas: {e:?}")))?;
        self.picture = Some(picture);
        Ok(())
    }
}

/// One step of `run` and the image after it, read back.
async fn advance(run: &mut Run) -> Result<(crate::StepReport, Vec<f32>), Error> {
    let report = run.ascent.step().await?;
    let pixels = run.ascent.pixels().await?;
    Ok((report, pixels))
}

fn numbers(values: impl Iterator<Item = f64>) -> JsValue {
    values.map(JsValue::from).collect::<js_sys::Array>().into()
}

fn set(object: &Object, key: &str, value: JsValue) {
    Reflect::set(object, &key.into(), &value).expect("setting a property on a plain object cannot fail");
}
