//! The browser surface (wasm32 only): a [`Visualizer`] that the page's module worker drives, one ascent step per
//! call, painting each step (one image, or a captioned grid of filters) onto an `OffscreenCanvas`.
//!
//! A thin skin over the core: a [`RunRequest`] comes in as a plain object (serde), typed replies go out
//! ([`Started`], [`StepReply`], [`BackendInfo`]); www/protocol.js describes the same shapes for the JS side.
//! The backends and their fallback policy are [`Backends`]'; the run carries on across a lost WebGPU device
//! from its last checkpoint. Every fallible call rejects with a JS `Error`.

mod canvas;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::OffscreenCanvas;
use web_time::Instant;

use crate::api::catalog::ModelEntry;
use crate::examples::{self, ExampleIndex};
use crate::net::onnx::{self, Preprocess};
use crate::picture::animation::{Animation, BUDGET_BYTES, FRAMES};
use crate::picture::heat;
use crate::picture::image::{self, GridLayout, Rgba, TileRect};
use crate::{
    Activation, Ascent, Backend, BackendChoice, BackendInfo, Backends, Checkpoint, Error, Network, RunRequest,
    Spectrum, Start,
};
use canvas::Canvas;
use std::sync::Arc;

/// The threaded build (feature `threads`): `initThreadPool(n)` starts Flex's rayon pool of n Web Workers; the
/// compute worker awaits it once, before the first step.
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).expect("replies serialise to plain objects")
}

/// The reply to `openOnnx`: the model as the catalog describes a network (its `name` is what requests name), the
/// input side the file fixes, where the mapping stopped (the layers before it are shown) and the operators it does
/// not run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedModel {
    model: ModelEntry,
    input_side: Option<usize>,
    stop: Option<onnx::Stop>,
    unsupported: Vec<(String, String)>,
    /// The weights' size as f32, bytes.
    weight_bytes: usize,
}

/// The reply to `start`: the picture's size and where each tile (image and caption) lies on it.
#[derive(Serialize)]
pub struct Started {
    width: usize,
    height: usize,
    tiles: Vec<TileRect>,
}

/// The reply to `step`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReply {
    /// Steps taken (1 after the first).
    step: usize,
    steps: usize,
    done: bool,
    /// The objective of each filter, before this step's update (on the step's transformed views).
    activations: Vec<f32>,
    /// Where the network sees transformed views, the objective of each picture as it is after this step, untransformed
    /// (`Ascent::whole_picture`): on the first and last steps and every [`WHOLE_PICTURE_EVERY`] between.
    whole_picture: Option<Vec<f32>>,
    /// For each filter, whether it maximises its pre-ReLU activation now.
    pre_relu: Vec<bool>,
    /// The images (tiles, by index) that a zero gradient on the starting image (a dead filter) moved to their
    /// pre-ReLU activation, on the step where that happened.
    switched_to_pre_relu: Vec<usize>,
    /// The core's step time, ms.
    millis: f64,
    /// That plus reading the images back, painting them and checkpointing, ms.
    total_millis: f64,
    backend: Backend,
    /// Set when this step moved the run to another backend (a lost WebGPU device).
    backend_change: Option<BackendInfo>,
}

/// One picture as a filter's example (the reply to `examplesOf`): its place in the set, its mean activation, where
/// it fired most (fractions of its width and height) and its activation map as heat colours (RGBA8, `side`²).
#[derive(Serialize)]
pub struct ExampleReply {
    picture: usize,
    value: f32,
    peak: (f32, f32),
    side: usize,
    heat: Vec<u8>,
}

/// A filter's examples: the most activating pictures, most first, and the least, least first.
#[derive(Serialize)]
pub struct ExamplesReply {
    filter: usize,
    top: Vec<ExampleReply>,
    bottom: Vec<ExampleReply>,
}

/// The check of the run's picture against the set (the reply to `examplesCheck`): the numbers and their sentence.
#[derive(Serialize)]
pub struct CheckReply {
    #[serde(flatten)]
    check: examples::Check,
    sentence: String,
}

/// How often a run with transforms measures its pictures untransformed: a forward pass without a gradient, so about
/// a third of a step's work, every this many steps.
const WHOLE_PICTURE_EVERY: usize = 8;

/// One run: its request, the ascent, where its tiles go, and (on WebGPU) its state after the last painted step,
/// to carry on elsewhere if the device is lost.
struct Run {
    request: RunRequest,
    start: Start,
    ascent: Ascent,
    layout: GridLayout,
    checkpoint: Option<Checkpoint>,
}

/// Gradient ascent for filters of VGG16 or AlexNet, painted on a canvas step by step.
///
/// JS (see worker.js): `const v = new Visualizer(offscreen); v.weightsArriving('vgg16', header, fileLen);`
/// `await v.selectBackend('auto'); v.start({ mode: 'classic', model: 'vgg16', layer: 'conv3_2', filters: [0] }, null)`,
/// then `await v.step()` until a reply says `done`; `v.png()` is the picture as a PNG file. Calls must not overlap
/// (await each one).
#[wasm_bindgen]
pub struct Visualizer {
    backends: Backends,
    choice: BackendChoice,
    /// The backend runs go to (none before `selectBackend`).
    backend: Option<Backend>,
    canvas: Canvas,
    /// Where the picture on the canvas has its tiles, and their filters (kept after the run stops).
    shown: Option<(GridLayout, Vec<usize>)>,
    /// The frames of that picture's run so far (kept after the run stops): `Download animation`.
    animation: Option<Animation>,
    run: Option<Run>,
    /// ImageNet's magnitude spectrum, for maco mode (`setSpectrum`).
    spectrum: Option<Arc<Spectrum>>,
    /// Whether the picture shows its transparency map as alpha (`showTransparency`).
    transparency: bool,
    /// The visitor's picture set, as far as it has been through the network (`examplesBegin`, `examplesAdd`).
    examples: Option<ExampleIndex>,
}

#[wasm_bindgen]
impl Visualizer {
    /// Paints on `canvas`; each network's weights come through `weightsArriving` and `addWeights`.
    #[wasm_bindgen(constructor)]
    pub fn new(canvas: OffscreenCanvas) -> Result<Visualizer, JsError> {
        Ok(Visualizer {
            backends: Backends::default(),
            choice: BackendChoice::Auto,
            backend: None,
            canvas: Canvas::new(canvas)?,
            shown: None,
            animation: None,
            run: None,
            spectrum: None,
            transparency: false,
            examples: None,
        })
    }

    /// ImageNet's magnitude spectrum (the `.npy` file's bytes, checked now), which maco mode's runs need.
    #[wasm_bindgen(js_name = setSpectrum)]
    pub fn set_spectrum(&mut self, npy: Vec<u8>) -> Result<(), JsError> {
        self.spectrum = Some(Arc::new(Spectrum::from_npy(&npy).map_err(js_error)?));
        Ok(())
    }

    /// Shows each image with its transparency map as alpha (MACO's view), or not; repaints the current run's
    /// picture (a finished one too) at once.
    #[wasm_bindgen(js_name = showTransparency)]
    pub async fn show_transparency(&mut self, on: bool) -> Result<(), JsError> {
        self.transparency = on;
        let Some(run) = &self.run else { return Ok(()) };
        if run.ascent.steps_taken() == 0 {
            return Ok(());
        }
        let pixels = run.ascent.pixels().await.map_err(js_error)?;
        let picture = self.picture(run, &pixels).await.map_err(js_error)?;
        self.canvas.paint(picture)
    }

    /// Moves to a backend (`auto`, `wgpu`, `flex` or `ndarray`), loading the model there; stops the current run.
    /// Resolves to a `BackendInfo`.
    #[wasm_bindgen(js_name = selectBackend)]
    pub async fn select_backend(&mut self, choice: String) -> Result<JsValue, JsError> {
        let choice: BackendChoice = choice.parse().map_err(|e: String| JsError::new(&e))?;
        self.run = None;
        let info = self.backends.select(choice).await.map_err(js_error)?;
        self.choice = choice;
        self.backend = Some(info.backend);
        Ok(to_js(&info))
    }

    /// Starts a run (replacing any other) of `request`, a `RunRequest`. The images start from the request's seed,
    /// or from `init`: the RGBA bytes of a picture of the run's size. Sizes the canvas and returns `Started`.
    /// The first step paints.
    pub fn start(&mut self, request: JsValue, init: Option<Vec<u8>>) -> Result<JsValue, JsError> {
        self.run = None;
        let Some(backend) = self.backend else {
            return Err(JsError::new("no backend yet: call selectBackend first"));
        };
        let request = run_request(request)?;
        let model = self.backends.model(request.model, backend).map_err(js_error)?;
        let picture = init.map(square_picture).transpose()?;
        let start = Start { picture, spectrum: self.spectrum.clone() };
        let (objective, config) = request.plan(&start).map_err(js_error)?;
        let size = config.size;
        let every = config.steps.div_ceil(FRAMES);
        let ascent = Ascent::new(&model, objective, config).map_err(js_error)?;
        let layout = GridLayout::new(ascent.objective().batch(), size);
        self.canvas.resize(layout.width(), layout.height());
        self.shown = Some((layout, request.filters.clone()));
        self.animation = Some(Animation::new(every, BUDGET_BYTES));
        self.run = Some(Run { request, start, ascent, layout, checkpoint: None });
        Ok(to_js(&Started { width: layout.width(), height: layout.height(), tiles: layout.tiles() }))
    }

    /// One step, painted; resolves to a `StepReply`. If WebGPU fails during the step, the run carries on with Flex
    /// from its last checkpoint and the reply's `backendChange` says so.
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let Some(mut run) = self.run.take() else {
            return Err(JsError::new("nothing to step: start a run first"));
        };
        if run.ascent.is_done() {
            self.run = Some(run);
            return Err(JsError::new("the run is done: start another"));
        }
        let started = Instant::now();
        let mut backend_change = None;
        let mut outcome = advance(&mut run.ascent).await;
        if let Err(e) = &outcome
            && self.on_webgpu()
        {
            let info = self.backends.lose_gpu(self.choice, e.to_string());
            let flex = self.backends.model(run.request.model, info.backend).map_err(js_error)?;
            let (objective, config) = run.request.plan(&run.start).map_err(js_error)?;
            run.ascent = match run.checkpoint.take() {
                Some(checkpoint) => Ascent::resume(&flex, objective, config, checkpoint),
                None => Ascent::new(&flex, objective, config),
            }
            .map_err(js_error)?;
            self.backend = Some(info.backend);
            backend_change = Some(info);
            outcome = advance(&mut run.ascent).await;
        }
        let (report, pixels) = outcome.map_err(js_error)?;
        let step = report.step + 1;
        if let Some(animation) = &mut self.animation
            && animation.wants(step, run.ascent.is_done())
        {
            let captions = run.ascent.objective().captions();
            animation.record(step, &image::picture(&pixels, run.ascent.levels(), &captions, &run.layout));
        }
        let picture = self.picture(&run, &pixels).await.map_err(js_error)?;
        self.canvas.paint(picture)?;
        if self.on_webgpu() {
            run.checkpoint = Some(run.ascent.checkpoint().await.map_err(js_error)?);
        }
        let done = run.ascent.is_done();
        let measured = step == 1 || done || step % WHOLE_PICTURE_EVERY == 0;
        let whole_picture = if measured && !run.ascent.config().transforms.is_none() {
            Some(run.ascent.whole_picture().await.map_err(js_error)?)
        } else {
            None
        };
        let reply = StepReply {
            step,
            steps: run.ascent.config().steps,
            done,
            activations: report.activations,
            whole_picture,
            pre_relu: run.ascent.reads().iter().map(|a| *a == Activation::Before).collect(),
            switched_to_pre_relu: report.switched_to_pre_relu,
            millis: report.millis,
            total_millis: started.elapsed().as_secs_f64() * 1e3,
            backend: self.backend.unwrap_or(Backend::Flex),
            backend_change,
        };
        self.run = Some(run);
        Ok(to_js(&reply))
    }

    /// `more` steps for the current run (a finished one too), from its picture: `Continue` in the page.
    pub fn extend(&mut self, more: usize) -> Result<(), JsError> {
        let run = self.run.as_mut().ok_or_else(|| JsError::new("there is no run to continue: start one"))?;
        run.ascent.extend(more).map_err(js_error)
    }

    /// The first bytes of `model`'s `fileLen`-byte safetensors file, at least its header (checked now); the rest
    /// follows through `addWeights`.
    #[wasm_bindgen(js_name = weightsArriving)]
    pub fn weights_arriving(&mut self, model: String, first: Vec<u8>, file_len: usize) -> Result<(), JsError> {
        let network = network(&model)?;
        self.backends.arriving(network, first, file_len).map_err(js_error)
    }

    /// Opens a model from an ONNX file's bytes (`fileName` names it; `preprocess`: `torchvision`, `signed`, `unit`
    /// or `caffe`), its weights loaded as a built-in network's are; resolves to an `OpenedModel`. Opening one
    /// under the same file name replaces it. Refused with the reason (not ONNX, not a model of an image, too
    /// large, nothing it can run), nothing else changed.
    #[wasm_bindgen(js_name = openOnnx)]
    pub fn open_onnx(&mut self, file_name: String, bytes: Vec<u8>, preprocess: String) -> Result<JsValue, JsError> {
        let preprocess: Preprocess = preprocess.parse().map_err(|e: String| JsError::new(&e))?;
        let imported = onnx::import(&bytes, &file_name, preprocess.preprocessing(), None).map_err(js_error)?;
        drop(bytes);
        let weight_bytes = imported.weights.len();
        let network = Network::open(imported.opened);
        let len = imported.weights.len();
        self.backends.arriving(network, imported.weights, len).map_err(js_error)?;
        // Its weights on the device now, so that what the loader refuses (a variance below zero) is said on opening.
        if let Some(backend) = self.backend {
            self.backends.model(network, backend).map_err(js_error)?;
        }
        Ok(to_js(&OpenedModel {
            model: ModelEntry::of(network),
            input_side: imported.input_side,
            stop: imported.stop,
            unsupported: imported.unsupported,
            weight_bytes,
        }))
    }

    /// `model`'s weights file's next bytes, after those given so far (the deeper layers, as they arrive). Runs
    /// started from now on may use the layers they complete.
    #[wasm_bindgen(js_name = addWeights)]
    pub fn add_weights(&mut self, model: String, bytes: Vec<u8>) -> Result<(), JsError> {
        let network = network(&model)?;
        self.backends.add_weights(network, &bytes).map_err(js_error)
    }

    /// Ends the run; the canvas keeps its last picture.
    pub fn stop(&mut self) {
        self.run = None;
    }

    /// The picture on the canvas (full resolution; a grid with its captions) as PNG file bytes.
    pub fn png(&self) -> Result<Vec<u8>, JsError> {
        self.canvas.png().ok_or_else(|| JsError::new("there is no picture yet: start a run"))
    }

    /// The run of the picture on the canvas as an animated PNG: a frame every few steps (about 60 over the run),
    /// each captioned with its step, as they were painted.
    pub fn animation(&self) -> Result<Vec<u8>, JsError> {
        self.animation
            .as_ref()
            .and_then(Animation::to_apng)
            .ok_or_else(|| JsError::new("there is no animation yet: start a run"))
    }

    /// The filter whose tile (image or caption) covers canvas pixel (`x`, `y`) of the current run's picture.
    #[wasm_bindgen(js_name = filterAt)]
    pub fn filter_at(&self, x: f64, y: f64) -> Option<u32> {
        let (layout, filters) = self.shown.as_ref()?;
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        layout.tile_at(x as usize, y as usize).and_then(|index| filters.get(index)).map(|&f| f as u32)
    }

    /// Starts a picture set's index (replacing any other) of `layers` of `model`, the pictures seen at `size`.
    #[wasm_bindgen(js_name = examplesBegin)]
    pub fn examples_begin(&mut self, model: String, layers: Vec<String>, size: usize) -> Result<(), JsError> {
        self.examples = None;
        let network = network(&model)?;
        let layers = layers.iter().map(|l| network.layer_index(l)).collect::<Result<Vec<_>, _>>().map_err(js_error)?;
        self.examples = Some(ExampleIndex::new(network, &layers, size).map_err(js_error)?);
        Ok(())
    }

    /// The deepest layer the picture set's index needs (its weights must be in before `examplesAdd`); none
    /// without a set.
    #[wasm_bindgen(js_name = examplesDeepest)]
    pub fn examples_deepest(&self) -> Option<String> {
        let index = self.examples.as_ref()?;
        Some(index.network().layers()[index.deepest()].name.clone())
    }

    /// Puts one picture of the set (`name`; RGBA bytes of its centre square at the set's size) through the network
    /// on the current backend.
    #[wasm_bindgen(js_name = examplesAdd)]
    pub async fn examples_add(&mut self, name: String, rgba: Vec<u8>) -> Result<(), JsError> {
        let backend = self.backend.ok_or_else(|| JsError::new("no backend yet: call selectBackend first"))?;
        let mut index = self.examples.take().ok_or_else(|| JsError::new("no picture set: call examplesBegin first"))?;
        let picture = square_picture(rgba);
        let outcome = match (picture, self.backends.model(index.network(), backend)) {
            (Ok(picture), Ok(model)) => index.add(&model, &[(name, picture)]).await.map_err(js_error),
            (Err(e), _) => Err(e),
            (_, Err(e)) => Err(js_error(e)),
        };
        self.examples = Some(index);
        outcome
    }

    /// Filters `filters` of `layer`'s examples in the set (`ExamplesReply` each): the top pictures with their maps
    /// as heat, and the least activating.
    #[wasm_bindgen(js_name = examplesOf)]
    pub fn examples_of(&self, layer: String, filters: Vec<usize>) -> Result<JsValue, JsError> {
        let index = self.examples.as_ref().ok_or_else(|| JsError::new("no picture set"))?;
        let network = index.network();
        let layer = network.layer_index(&layer).map_err(js_error)?;
        let reply = |e: &examples::Example, scale: f32| ExampleReply {
            picture: e.picture,
            value: e.value,
            peak: e.map.peak(),
            side: e.map.side,
            heat: heat::colours(&e.map.relative(scale)),
        };
        let replies: Vec<ExamplesReply> = filters
            .into_iter()
            .filter_map(|filter| {
                let examples = index.examples(layer, filter)?;
                let scale = examples.scale();
                let top = examples.top.iter().map(|e| reply(e, scale)).collect();
                let bottom = examples.bottom.iter().map(|e| reply(e, scale)).collect();
                Some(ExamplesReply { filter, top, bottom })
            })
            .collect();
        Ok(to_js(&replies))
    }

    /// The check of the current run's picture (one filter of a layer in the set) against the set: `CheckReply`,
    /// or none where the run is not of one filter of a layer the set has been through, or the set is empty.
    #[wasm_bindgen(js_name = examplesCheck)]
    pub async fn examples_check(&mut self) -> Result<JsValue, JsError> {
        let (Some(index), Some(run), Some(backend)) = (&self.examples, &self.run, self.backend) else {
            return Ok(JsValue::NULL);
        };
        let request = &run.request;
        let (Some(layer), [filter]) = (&request.layer, request.filters.as_slice()) else { return Ok(JsValue::NULL) };
        let Ok(layer) = index.network().layer_index(layer) else { return Ok(JsValue::NULL) };
        if request.model != index.network() || !index.layers().contains(&layer) || index.names().is_empty() {
            return Ok(JsValue::NULL);
        }
        let model = self.backends.model(index.network(), backend).map_err(js_error)?;
        let pixels = run.ascent.pixels().await.map_err(js_error)?;
        let size = run.ascent.config().size;
        let check = examples::check(index, &model, layer, *filter, pixels, size).await.map_err(js_error)?;
        let sentence = check.sentence(&index.network().layers()[layer].name);
        Ok(to_js(&CheckReply { check, sentence }))
    }

    /// Test hook: destroys the page's WebGPU device, as a driver reset would, to exercise the fallback to Flex.
    /// Returns whether there was a device to destroy.
    #[wasm_bindgen(js_name = loseWebGpuDeviceForTesting)]
    pub fn lose_webgpu_device_for_testing() -> bool {
        crate::backends::destroy_gpu_for_testing()
    }
}

impl Visualizer {
    fn on_webgpu(&self) -> bool {
        self.backend == Some(Backend::Wgpu)
    }

    /// What the canvas shows of `run`'s images `pixels`: the picture, with their transparency as alpha when asked.
    async fn picture(&self, run: &Run, pixels: &[f32]) -> Result<Rgba, Error> {
        let captions = run.ascent.objective().captions();
        let mut picture = image::picture(pixels, run.ascent.levels(), &captions, &run.layout);
        if self.transparency {
            image::transparent(&mut picture, &run.ascent.transparency().await?, &run.layout);
        }
        Ok(picture)
    }
}

/// A square picture from its RGBA bytes (the worker sends the picture at the run's size).
fn square_picture(rgba: Vec<u8>) -> Result<Rgba, JsError> {
    let side = ((rgba.len() / 4) as f64).sqrt() as usize;
    if rgba.len() != 4 * side * side || side == 0 {
        return Err(JsError::new(&format!("the starting picture has {} bytes, not RGBA of a square", rgba.len())));
    }
    Ok(Rgba { width: side, height: side, pixels: rgba })
}

fn run_request(value: JsValue) -> Result<RunRequest, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("the run request is malformed: {e}")))
}

/// The deepest layer a run request reads (its `layer`, or the deepest its expressions name): how far its weights
/// must have arrived. Rejects with the request's own refusal (an expression that does not parse, say).
#[wasm_bindgen(js_name = deepestLayer)]
pub fn deepest_layer(request: JsValue) -> Result<String, JsError> {
    let request = run_request(request)?;
    let objective = request.objective().map_err(js_error)?;
    Ok(request.model.layers()[objective.deepest_layer()].name.to_string())
}

fn network(name: &str) -> Result<Network, JsError> {
    name.parse().map_err(|e: String| JsError::new(&e))
}

/// One step and the images after it, read back.
async fn advance(ascent: &mut Ascent) -> Result<(crate::StepReport, Vec<f32>), Error> {
    let report = ascent.step().await?;
    let pixels = ascent.pixels().await?;
    Ok((report, pixels))
}
