// @ts-check
// The shapes that cross the page's two seams, written down once: the catalog (www/catalog.json, written by the
// core), the run request and the wasm Visualizer's typed replies (serde structs in src/, camelCase), and every
// message between the page (app.js) and the compute worker (worker.js). Types, which `tsc --noEmit` checks both sides
// against (make typecheck), and the one timing both sides state (POOL_START_MS).

// ---------------------------------------------------------------- the catalog (src/catalog.rs)

/** @typedef {'classic' | 'lucid' | 'maco'} Mode */
/** A network's name (the request's `model`; the core's `Network`): a built-in one ('vgg16', 'alexnet',
 *  'efficientnet-lite0') or a model of one's own, `onnx:` and its file's name. @typedef {string} NetworkName */
/** How a model of one's own normalises its RGB input (src/net/onnx `Preprocess`).
 *  @typedef {'torchvision' | 'signed' | 'unit' | 'caffe'} Preprocess */
/** @typedef {'wgpu' | 'flex' | 'ndarray'} Backend */
/** @typedef {'auto' | Backend} BackendChoice */

/**
 * A layer a visualization can read (src/net/graph.rs `Layer`, src/api/catalog.rs `LayerEntry`).
 * @typedef {object} LayerSpec
 * @property {string} name           conv1_1 … conv5_3 (VGG16), conv1 … conv5 (AlexNet), stem … logits (EfficientNet-Lite0)
 * @property {number} channels
 * @property {string | Record<string, object> | null} activation   read after it unless `preRelu` ('relu', 'relu6',
 *                                   'sigmoid', 'swish', 'hardSwish'; with parameters: { leakyRelu: { alpha } }, …)
 * @property {number} params         how many of the weights file's parts after its header the layer needs
 * @property {number} macsPerPixel   the layer's multiply-adds per pixel of the network's input (time estimates)
 */

/**
 * A network (src/api/catalog.rs `ModelEntry`): what the request's `model` names and the layers it takes. Its weights
 * are `weights/{name}-f16.safetensors`.
 * @typedef {object} ModelEntry
 * @property {NetworkName} name
 * @property {string} title          VGG16, AlexNet, EfficientNet-Lite0
 * @property {string} defaultLayer   the layer shown first, and a request's default
 * @property {number} smallestSize   the smallest image side that reaches the deepest layer
 * @property {{ mean: number[], std: number[], colour: 'rgb' | 'bgr' | 'luminance' }} preprocessing   RGB in [0, 1]
 *                                   made into the model's channels and normalised inside the model
 * @property {LayerSpec[]} layers
 * @property {{ name: string, tensors: [string, number[]][] }[]} weights   the weighted nodes, the file's parts
 * @property {{ layer: string, classes: string[] }} [classifier]   its class logits' layer and the classes' names
 */

/**
 * A field of the run request and what it takes.
 * @typedef {{ name: string, modes?: Mode[] } & (
 *   | { kind: 'choice', choices: string[], default: string }
 *   | { kind: 'integer', min: number, max: number, default: number | null }
 *   | { kind: 'number', min: number, max: number }
 *   | { kind: 'boolean', default: boolean }
 *   | { kind: 'layer' }
 *   | { kind: 'expressions', maxChars: number })} Field   a `layer` is one of the `model`'s layers, its
 *   `defaultLayer` by default; `expressions` are objective expressions, one per image, each at most `maxChars`
 */

/**
 * A mode's defaults: steps, size, jitter, its rate (`stepSize` in grey levels for classic, `lr` for lucid and
 * maco), and maco's crops per step and the side they are resized to.
 * @typedef {{ steps: number, size: number, jitter: number, stepSize?: number, lr?: number, crops?: number, cropSide?: number }} Preset
 */

/**
 * A mode (src/api/catalog.rs `ModeEntry`): its preset, whether a run can start from a picture of one's own, and how
 * much larger than the image a view of it is before the request's jitter (maco's views are `preset.cropSide`).
 * @typedef {{ name: Mode, preset: Preset, startsFromPicture: boolean, viewMargin: number }} ModeEntry
 */

/**
 * @typedef {object} Catalog
 * @property {ModelEntry[]} models
 * @property {ModeEntry[]} modes
 * @property {Field[]} fields
 * @property {Backend[]} backends
 */

// ---------------------------------------------------------------- the wasm surface (src/web/mod.rs)

/**
 * What to visualize (src/request.rs `RunRequest`): unset optional fields take the mode's preset.
 * @typedef {object} RunRequest
 * @property {Mode} mode
 * @property {NetworkName} [model]       vgg16 when absent
 * @property {string} [layer]      one of the model's layers (with `filters`)
 * @property {number[]} [filters]  filters of `layer`, an image each
 * @property {string[]} [expressions]  instead of `layer` and `filters`: an objective expression per image
 *                                 (`conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7`, src/expression.rs's grammar)
 * @property {'channel' | 'neuron' | 'layer'} [objective]
 * @property {boolean} [preRelu]
 * @property {boolean} [minimise]  lower the activation (read before the ReLU) instead of raising it
 * @property {number} [diversity]   weight of Lucid's diversity term, pushing the batch's images apart (0: none)
 * @property {number} [accentuate]  weight of the pull toward the starting picture's own features (0: none; needs one)
 * @property {number} [steps]
 * @property {number} [size]
 * @property {number} [stepSize]   classic only, grey levels (2 means 2/255)
 * @property {number} [lr]         lucid and maco only
 * @property {number} [jitter]     random shift before each step, pixels (classic and lucid)
 * @property {number} [crops]      maco only: random crops per step
 * @property {number} [seed]
 */

/**
 * Reply to `Visualizer.openOnnx` (src/web/mod.rs `OpenedModel`): the model as the catalog describes a network, the
 * input side its file fixes, where the mapping stopped (the layers before that node are shown) and the operators the
 * core does not run, and its weights' size (f32).
 * @typedef {object} OpenedModel
 * @property {ModelEntry} model
 * @property {number | null} inputSide
 * @property {{ node: string, op: string, reason: string } | null} stop
 * @property {[string, string][]} unsupported   (node, operator)
 * @property {number} weightBytes
 */

/**
 * One picture of the visitor's set as a filter's example (src/web/mod.rs `ExampleReply`): its place in the set (the
 * order it went through the network), its mean activation, where it fired most (fractions of its width and height)
 * and its activation map as heat colours, RGBA8 `side`×`side` (opacity in alpha).
 * @typedef {{ picture: number, value: number, peak: [number, number], side: number, heat: number[] }} ExampleReply
 */

/** A filter's examples (`ExamplesReply`): the most activating, most first; the least, least first.
 *  @typedef {{ filter: number, top: ExampleReply[], bottom: ExampleReply[] }} ExamplesReply */

/**
 * The check of a run's picture against the visitor's set (src/examples/check.rs `Check`, `CheckReply`): the
 * picture's mean activation and the best picture's, their ratio (none where no picture fires), the mean cosine of
 * its pattern across the layer with the top pictures' (none where silent), and the sentence that says both.
 * @typedef {{ value: number, best: number, ratio: number | null, cosine: number | null, compared: number, sentence: string }} CheckReply
 */

/** @typedef {{ x: number, y: number, width: number, height: number }} TileRect */

/** Reply to `Visualizer.start`. @typedef {{ width: number, height: number, tiles: TileRect[] }} Started */

/**
 * Why WebGPU, asked for (or `auto`), is not the backend in use (src/device.rs `Fallback`).
 * @typedef {{ kind: 'noAdapter' } | { kind: 'initFailed', reason: string } | { kind: 'deviceLost', reason: string }
 *   | { kind: 'softwareAdapter' }} Fallback
 */

/**
 * Reply to `Visualizer.selectBackend`, and a step's `backendChange` (src/device.rs `BackendInfo`).
 * @typedef {object} BackendInfo
 * @property {BackendChoice} requested
 * @property {Backend} backend
 * @property {{ name: string, software: boolean } | null} adapter
 * @property {Fallback | null} fallback
 */

/**
 * Reply to `Visualizer.step`.
 * @typedef {object} StepReply
 * @property {number} step                 steps taken (1 after the first)
 * @property {number} steps
 * @property {boolean} done
 * @property {number[]} activations        the objective per filter, before this step's update (on the transformed views)
 * @property {number[] | null} wholePicture  where the network sees transformed views: the objective per picture as it
 *                                         is after this step, untransformed (the first and last steps, every 8th between)
 * @property {boolean[]} preRelu           per filter: maximising its pre-ReLU activation now
 * @property {number[]} switchedToPreRelu  images (tiles, by index) found silent on the starting image at this step
 * @property {number} millis               the core's step time
 * @property {number} totalMillis          with read-back, painting and checkpointing
 * @property {Backend} backend
 * @property {BackendInfo | null} backendChange  set when this step moved the run to another backend
 */

// ---------------------------------------------------------------- page -> worker

/** How long the page lets Flex's thread pool take to start, from the worker's `pool` message to its `cpu`, before it
 *  replaces the worker (worker-client.js; the page says so in the same words). Its workers start in tens of
 *  milliseconds (a few hundred on a busy machine); a pool that has not started by then never will: a worker refused
 *  without an error event, say, or the compute worker stuck for good in `new Worker` (Firefox ESR 153, now and then
 *  while the browser runs its start-up tasks), where a timer in the worker never fires. */
export const POOL_START_MS = 10_000;

/** Why Flex runs on one thread where the threaded build was wanted: the browser has no shared memory between threads
 *  (`no-shared-memory`), the page's policy refused the pool's workers (`pool-refused`), they failed to start
 *  (`pool-failed`) or did not start in time (`pool-silent`).
 *  @typedef {'no-shared-memory' | 'pool-refused' | 'pool-failed' | 'pool-silent'} Unthreaded */

/** What an export makes: the picture on the canvas (PNG), or its run as an animated PNG. @typedef {'picture' | 'animation'} Export */

/**
 * @typedef {(
 *   | { type: 'init', canvas: OffscreenCanvas, backend: BackendChoice, threads: number, unthreaded: Unthreaded | null, model: NetworkName, transparency: boolean }
 *   | { type: 'transparency', on: boolean }
 *   | { type: 'backend', backend: BackendChoice }
 *   | { type: 'run', id: number, request: RunRequest, fromImage: boolean }
 *   | { type: 'stop', id: number }
 *   | { type: 'continue', id: number, steps: number }
 *   | { type: 'retry-weights' }
 *   | { type: 'start-image', bitmap: ImageBitmap | null }
 *   | { type: 'export', id: number, what: Export }
 *   | { type: 'tile', x: number, y: number }
 *   | { type: 'snapshot', id: number }
 *   | { type: 'lose-device' }
 *   | { type: 'crash' }
 *   | { type: 'stats', id: number }
 *   | { type: 'open-model', fileName: string, bytes: ArrayBuffer, preprocess: string }
 *   | { type: 'examples-begin', id: number, model: NetworkName, layers: string[], size: number }
 *   | { type: 'examples-picture', id: number, picture: number, file: Blob }
 *   | { type: 'examples-stop', id: number }
 *   | { type: 'examples-of', id: number, layer: string, filters: number[] }
 *   | { type: 'examples-check', id: number }
 * )} ToWorker
 */

// ---------------------------------------------------------------- worker -> page

/**
 * `pool`: the worker starts Flex's pool of `threads` workers now; its `cpu` says how that went (and which build runs).
 * A run's `error` names the request `field` it is about, where it is about one (an expression that does not parse).
 * The visitor's picture set (`examples-*`): `examples-progress` for each picture put through the network (its page
 * number; `skipped` with the reason where it could not be), or `error` (no picture) where the set cannot go on.
 * The weights come by layer (weights.js): `progress` counts the bytes of the layers up to `layer` (the header
 * included), `background` when no run waits for them (the deeper layers, fetched after a first picture); `ready`
 * says those `bytes` are in and checked, `complete` once every layer is.
 * @typedef {(
 *   | { type: 'program', loaded: number, total: number }
 *   | { type: 'pool', threads: number }
 *   | { type: 'cpu', threads: number, build: 'pkg' | 'pkg-threads', unthreaded: Unthreaded | null }
 *   | { type: 'other-build' }
 *   | { type: 'weights', phase: 'progress', loaded: number, total: number, source: 'cache' | 'network', model: NetworkName, layer: string, background: boolean }
 *   | { type: 'weights', phase: 'ready', source: 'cache' | 'network', bytes: number, millis: number, model: NetworkName, layer: string, complete: boolean }
 *   | { type: 'weights', phase: 'error', message: string }
 *   | { type: 'insecure' }
 *   | { type: 'backend', info: BackendInfo }
 *   | { type: 'started', id: number, layout: Started }
 *   | ({ type: 'step', id: number, sinceStart: number } & StepReply)
 *   | { type: 'done', id: number }
 *   | { type: 'stopped', id: number }
 *   | { type: 'error', id: number, message: string, field?: string }
 *   | { type: 'png', id: number, what: Export, bytes: Uint8Array }
 *   | { type: 'png', id: number, what: Export, error: string }
 *   | { type: 'tile', filter: number | null }
 *   | { type: 'snapshot', id: number, width: number, height: number, step: number, run: number, data: Uint8ClampedArray | null }
 *   | { type: 'lost', destroyed: boolean }
 *   | { type: 'crashed', message: string }
 *   | { type: 'stats', id: number, wasmBytes: number, posted: number, pending: number }
 *   | { type: 'model', fileName: string, opened: OpenedModel }
 *   | { type: 'model', fileName: string, error: string }
 *   | { type: 'examples-progress', id: number, picture: number | null, skipped?: string, error?: string }
 *   | { type: 'examples', id: number, layer: string, filters: ExamplesReply[] }
 *   | { type: 'examples-check', id: number, check: CheckReply | null, error?: string }
 * )} FromWorker
 */

// ---------------------------------------------------------------- the page's view for tests (app.js)

/**
 * `window.filterlens`: read-only views of the page for the tests and the curious.
 * @typedef {object} PageView
 * @property {Record<string, any>} settings   a copy of the page's settings (the link's fields)
 * @property {number} runId                   the latest run's id
 * @property {{ id: number, request: RunRequest, fromImage: boolean, layout: Started | null } | null} run
 * @property {any[]} events                   the worker's last messages (a bounded ring)
 * @property {{ firstPaintSinceLoad: number | null, weights: { source: string, millis: number, bytes: number } | null,
 *   runs: { id: number, request: RunRequest, fromImage: boolean, requestedAt: number, firstStepAt: number | null,
 *   firstStepSinceStart: number | null }[], exports: { name: string, bytes: number }[] }} metrics
 * @property {Catalog} catalog
 * @property {() => Promise<{ width: number, height: number, step: number, run: number, data: Uint8ClampedArray | null }>} snapshot
 * @property {() => void} loseDevice
 * @property {() => void} crashWorker
 * @property {() => Promise<{ wasmBytes: number, posted: number, pending: number, events: number }>} stats
 * @property {() => { indexed: string[], skipped: string[], running: boolean, layer: string, shown: ExamplesReply[], check: string | null }} examples
 */
