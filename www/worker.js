// @ts-check
// The compute worker: owns the wasm Visualizer (and with it the page's one WebGPU device) and runs one ascent at a
// time, a step per turn of the event loop, so that new requests (another filter, Stop) are read between steps. The
// program and its two builds are worker-program.js's; the weights, worker-weights.js's. The messages both ways are
// typed in protocol.js.

import { chooseBuild, loadProgram, program } from './worker-program.js';
import { WeightsFeed } from './worker-weights.js';

/** @typedef {import('./protocol.js').ToWorker} ToWorker */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendChoice} BackendChoice */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').StepReply} StepReply */
/** @typedef {import('./protocol.js').Started} Started */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */
/** @typedef {import('./protocol.js').NetworkName} NetworkName */
/** @typedef {import('./pkg/filterlens.js').Visualizer} Visualizer */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

let posted = 0;
/** @param {FromWorker} message @param {Transferable[]} [transfer] */
const post = (message, transfer = []) => {
  posted += 1;
  scope.postMessage(message, transfer);
};

const feed = new WeightsFeed(scope.location.href, post);
/** @type {OffscreenCanvas | null} */
let canvas = null;
/** @type {Visualizer | null} */
let visualizer = null;
/** @typedef {{ backend: BackendChoice, threads: number, unthreaded: import('./protocol.js').Unthreaded | null }} Init */
/** The page's `init` message, once it has come: the backend asked for, and Flex's threads (and why not, where the
 *  page knows). @type {(init: Init) => void} */
let initialised = () => {};
const init = /** @type {Promise<Init>} */ (new Promise((resolve) => (initialised = resolve)));
// The program starts loading with the page's `init`, in parallel with the weights: the first picture waits for
// whichever comes last.
let programReady = init.then((asked) => loadProgram(asked, post));
/** The user's own starting picture, resized for each run that starts from it. @type {ImageBitmap | null} */
let startImage = null;

/** What the page asked for most recently; `model`: the network of its first run (from `init`, before any run);
 *  `paused`: the run `runId` is stopped after its current step (and kept, to go on); `more`: extra steps for the run
 *  `id` (0: a stopped run goes on to its end); `transparency`: pictures shown with their transparency map as alpha.
 *  @type {{ backend: BackendChoice, model: NetworkName, runId: number, run: { request: RunRequest, fromImage: boolean } | null,
 *    paused: boolean, more: { id: number, steps: number } | null, transparency: boolean }} */
const wanted = { backend: 'auto', model: 'vgg16', runId: 0, run: null, paused: false, more: null, transparency: false };
/** What the visualizer is doing. */
const current = {
  backend: /** @type {string | null} */ (null),
  runId: 0,
  running: false,
  startedAt: 0,
  step: 0,
  model: /** @type {NetworkName} */ ('vgg16'),
  transparency: false,
};
let driving = false;
/** Requests that use the visualizer, answered between steps (a step in flight holds it); a model to open waits for
 *  the visualizer too.
 *  @type {Extract<ToWorker, { type: 'export' | 'tile' | 'open-model' | 'examples-begin' | 'examples-of' }>[]} */
const betweenSteps = [];

/** The network a request names (VGG16 when it names none). @param {RunRequest} request @returns {NetworkName} */
const modelOf = (request) => request.model ?? 'vgg16';

/** The deepest layer a run of `request` reads: its layer, or the deepest its expressions name (the core parses
 *  them; throws the core's refusal of one that does not parse). Needs the program. @param {RunRequest} request */
const layerOf = (request) =>
  request.layer ?? /** @type {import('./worker-program.js').Glue} */ (program.glue).deepestLayer(request);

/** @param {unknown} e */
const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/** The centre square of `bitmap`, resized by the browser (with its best smoothing, so a large photo does not alias)
 *  to `size`×`size` RGBA bytes. @param {ImageBitmap} bitmap @param {number} size */
function squarePixels(bitmap, size) {
  const side = Math.min(bitmap.width, bitmap.height);
  const square = new OffscreenCanvas(size, size);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (square.getContext('2d'));
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  return new Uint8Array(ctx.getImageData(0, 0, size, size).data.buffer);
}

/** The starting picture at `size`. @param {number} size */
function startPixels(size) {
  if (!startImage) throw new Error('There is no starting picture: choose or drop one, or start from noise.');
  return squarePixels(startImage, size);
}

/** The visitor's picture set on its way through the network (the `examples-*` messages): the set's id, its network
 *  and picture side, the pictures still to go (by the page's number for each), and a check of the run's picture
 *  asked for (the page's id for it). */
const examples = {
  id: 0,
  model: /** @type {NetworkName} */ ('vgg16'),
  size: 224,
  /** @type {{ picture: number, file: Blob }[]} */
  queue: [],
  /** @type {number | null} */
  check: null,
};

/** Whether the picture set has work for the visualizer. */
const examplesWork = () => examples.queue.length > 0 || examples.check !== null;

/** The set's next piece of work: the check asked for, or the weights its layers need, or its next picture (decoded
 *  and resized here, then through the network). A picture the browser cannot decode is named and skipped.
 *  @param {Visualizer} v */
async function examplesStep(v) {
  const { id } = examples;
  if (examples.check !== null) {
    const asked = examples.check;
    examples.check = null;
    try {
      post({ type: 'examples-check', id: asked, check: await v.examplesCheck() });
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw e;
      post({ type: 'examples-check', id: asked, check: null, error: messageOf(e) });
    }
    return;
  }
  const deepest = v.examplesDeepest();
  if (deepest && !feed.given(examples.model, deepest, false)) {
    try {
      await feed.bringFor(examples.model, deepest, false);
      feed.feed(v);
    } catch (e) {
      examples.queue = [];
      post({ type: 'examples-progress', id, picture: null, error: messageOf(e) });
    }
    return;
  }
  const job = /** @type {{ picture: number, file: Blob }} */ (examples.queue.shift());
  try {
    const bitmap = await createImageBitmap(job.file);
    const pixels = squarePixels(bitmap, examples.size);
    bitmap.close();
    await v.examplesAdd(String(job.picture), pixels);
    if (examples.id === id) post({ type: 'examples-progress', id, picture: job.picture });
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    if (examples.id === id) post({ type: 'examples-progress', id, picture: job.picture, skipped: messageOf(e) });
  }
}

/** Lets the event loop take messages (and the OffscreenCanvas commit its frame) between steps. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Resolves when the page next changes what it wants: a wait for weights gives way to it. */
let wake = () => {};
const pageChanges = () => new Promise((resolve) => (wake = () => resolve(undefined)));

/** The program, the first run's weights and the visualizer; then the loop. */
async function boot() {
  if (!scope.isSecureContext) post({ type: 'insecure' });
  // A retry after a failed program download fetches it again.
  programReady = programReady.catch(() => init.then((asked) => loadProgram(asked, post)));
  try {
    const model = wanted.run ? modelOf(wanted.run.request) : wanted.model;
    // A model of one's own comes with its weights (the page hands it over again): the program is all it waits for.
    if (model.startsWith('onnx:')) {
      await programReady;
      const glue = /** @type {import('./worker-program.js').Glue} */ (program.glue);
      visualizer = new glue.Visualizer(/** @type {OffscreenCanvas} */ (canvas));
      await selectBackend(visualizer);
      drive();
      return;
    }
    const weights = await feed.open(model);
    // The first run's layers start downloading now, beside the program; the visualizer needs only the header. (An
    // expression's layers are known once the program is in, to parse it.)
    const layer = wanted.run?.request.layer;
    const first = layer ? feed.partsFor(model, layer) : 1;
    feed.waiting = { model, count: first };
    feed.bring(model, Math.max(first, 1)).catch(() => {}); // its failure is met below, or by the run that waits for it
    await Promise.all([weights.upTo(1), programReady]);
    const glue = /** @type {import('./worker-program.js').Glue} */ (program.glue);
    visualizer = new glue.Visualizer(/** @type {OffscreenCanvas} */ (canvas));
    feed.feed(visualizer); // the header, and whatever else is in already
    await selectBackend(visualizer);
  } catch (e) {
    visualizer = null;
    feed.forget();
    post({ type: 'weights', phase: 'error', message: messageOf(e) });
    return;
  }
  drive();
}

/** Moves the visualizer to the wanted backend and tells the page. @param {Visualizer} v */
async function selectBackend(v) {
  const requested = wanted.backend;
  // The threaded build has no WebGPU: it runs `auto` on Flex, for the reason found when it was chosen. (The page
  // moves a WebGPU request to the other build.)
  const inThisBuild = program.build === 'pkg-threads' && requested === 'auto' ? 'flex' : requested;
  let info = /** @type {BackendInfo} */ (await v.selectBackend(inThisBuild));
  if (inThisBuild !== requested) info = { ...info, requested, ...program.passedOver };
  current.backend = requested;
  if (info.fallback && 'reason' in info.fallback)
    console.warn(`filterlens: WebGPU unavailable: ${info.fallback.reason}`);
  post({ type: 'backend', info });
}

/** The loop: applies the latest request (backend, weights, run), then steps the run until it is done, stopped or
 *  replaced. */
async function drive() {
  if (driving || !visualizer) return;
  driving = true;
  const v = visualizer;
  try {
    for (;;) {
      answerRequests();
      if (wanted.backend !== current.backend) {
        await selectBackend(v);
        current.running = false;
        current.runId = -1; // the run, if any, restarts on the new backend
      }
      feed.feed(v);
      const waited = await awaitWeights();
      if (waited === 'again') continue;
      if (waited === 'failed') break; // until a retry, or another request
      if (!startWanted(v)) continue;
      carryOnOrPause(v);
      if (wanted.transparency !== current.transparency) {
        current.transparency = wanted.transparency;
        await v.showTransparency(current.transparency); // repaints the picture on the canvas
      }
      if (!current.running && !examplesWork()) break;
      // The picture set goes through the network a picture at a time, between the run's steps.
      if (examplesWork()) await examplesStep(v);
      if (current.running) await step(v);
      await nextTurn();
    }
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError)
      post({ type: 'crashed', message: `${e.message} in the WebAssembly module` });
    else post({ type: 'error', id: current.runId, message: messageOf(e) });
  } finally {
    driving = false;
    answerRequests();
  }
}

/** Before a new run starts: its weights (and maco's spectrum) in the visualizer, or the wait for them (which gives
 *  way when the page wants something else). 'again': go round (something changed); 'failed': the download failed;
 *  'in': go on. A run stopped before it started is dropped here, and one the core refuses (an expression that does
 *  not parse) is said to the page with the field it is about. @returns {Promise<'again' | 'failed' | 'in'>} */
async function awaitWeights() {
  const run = wanted.run;
  if (wanted.runId === current.runId) return 'in';
  if (wanted.paused) {
    // Stopped before it started: there is nothing to keep.
    current.runId = wanted.runId;
    current.running = false;
    wanted.run = null;
    visualizer?.stop();
    post({ type: 'stopped', id: current.runId });
    return 'again';
  }
  if (!run) return 'in';
  const [model, maco] = [modelOf(run.request), run.request.mode === 'maco'];
  let layer;
  try {
    layer = layerOf(run.request);
  } catch (e) {
    current.runId = wanted.runId;
    current.running = false;
    wanted.run = null;
    post({
      type: 'error',
      id: current.runId,
      message: messageOf(e),
      field: run.request.expressions ? 'expressions' : undefined,
    });
    return 'again';
  }
  if (feed.given(model, layer, maco)) return 'in';
  try {
    await Promise.race([feed.bringFor(model, layer, maco), pageChanges()]);
  } catch (e) {
    post({ type: 'weights', phase: 'error', message: messageOf(e) });
    return 'failed';
  } finally {
    feed.waiting = null;
  }
  return 'again';
}

/** Starts the wanted run where it is new (false: it could not start, and the page was told why).
 *  @param {Visualizer} v */
function startWanted(v) {
  if (wanted.runId === current.runId) return true;
  current.runId = wanted.runId;
  if (!wanted.run) return true;
  const { request, fromImage } = wanted.run;
  /** @type {Started} */
  let layout;
  try {
    layout = v.start(request, fromImage ? startPixels(request.size ?? 0) : null);
  } catch (e) {
    current.running = false;
    post({ type: 'error', id: current.runId, message: messageOf(e) });
    return false;
  }
  current.running = true;
  current.startedAt = performance.now();
  current.step = 0;
  current.model = modelOf(request);
  post({ type: 'started', id: current.runId, layout });
  return true;
}

/** Continue's extra steps for the current run, or Stop's pause after the step in flight. @param {Visualizer} v */
function carryOnOrPause(v) {
  if (wanted.more && wanted.more.id === current.runId) {
    try {
      v.extend(wanted.more.steps);
      current.running = true;
    } catch (e) {
      post({ type: 'error', id: current.runId, message: messageOf(e) });
    }
    wanted.more = null;
  }
  if (wanted.paused && current.running) {
    current.running = false;
    post({ type: 'stopped', id: current.runId });
  }
}

/** One step of the current run, reported to the page (a step the core refuses ends the run with its error; a trap
 *  ends the worker). @param {Visualizer} v */
async function step(v) {
  const id = current.runId;
  /** @type {StepReply} */
  let reply;
  try {
    reply = await v.step();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e; // a trap: the instance is no longer sound
    current.running = false;
    if (wanted.runId === id) wanted.run = null;
    post({ type: 'error', id, message: messageOf(e) });
    return;
  }
  current.step = reply.step;
  if (reply.backendChange) {
    const { fallback } = reply.backendChange;
    if (fallback && 'reason' in fallback) console.warn(`filterlens: WebGPU failed mid-run: ${fallback.reason}`);
    post({ type: 'backend', info: reply.backendChange }); // it stays on Flex for the rest of the page's life
  }
  post({ type: 'step', id, ...reply, sinceStart: performance.now() - current.startedAt });
  if (reply.step === 1) feed.bringTheRest(current.model);
  if (reply.done) {
    current.running = false;
    if (wanted.runId === id) wanted.run = null;
    post({ type: 'done', id });
  }
}

/** Answers the export, tile and open requests that came in. Only between calls into the visualizer: a step in
 *  flight holds it. */
function answerRequests() {
  for (const request of betweenSteps.splice(0)) {
    if (request.type === 'open-model') {
      openModel(request);
      continue;
    }
    if (request.type === 'tile') {
      post({ type: 'tile', filter: visualizer?.filterAt(request.x, request.y) ?? null });
      continue;
    }
    if (request.type === 'examples-begin' || request.type === 'examples-of') {
      examplesRequest(request);
      continue;
    }
    try {
      if (!visualizer) throw new Error('there is no picture yet: the weights are still loading');
      const bytes = request.what === 'animation' ? visualizer.animation() : visualizer.png();
      post({ type: 'png', id: request.id, what: request.what, bytes }, [bytes.buffer]);
    } catch (e) {
      post({ type: 'png', id: request.id, what: request.what, error: messageOf(e) });
    }
  }
}

/** Starts a picture set's index, or answers which pictures are a filter's examples; either waits for the
 *  visualizer. @param {Extract<ToWorker, { type: 'examples-begin' | 'examples-of' }>} request */
function examplesRequest(request) {
  if (!visualizer) {
    betweenSteps.push(request);
    return;
  }
  try {
    if (request.type === 'examples-begin') {
      visualizer.examplesBegin(request.model, request.layers, request.size);
      drive();
    } else {
      const filters = /** @type {import('./protocol.js').ExamplesReply[]} */ (
        visualizer.examplesOf(request.layer, Uint32Array.from(request.filters))
      );
      post({ type: 'examples', id: request.id, layer: request.layer, filters });
    }
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    if (request.type === 'examples-begin') examples.queue = [];
    post({ type: 'examples-progress', id: request.id, picture: null, error: messageOf(e) });
  }
}

/** Opens a model of one's own (the core reads the file), or says why it cannot; one that comes before the
 *  visualizer waits for it. @param {Extract<ToWorker, { type: 'open-model' }>} request */
function openModel(request) {
  if (!visualizer) {
    betweenSteps.push(request);
    return;
  }
  const { fileName, bytes, preprocess } = request;
  try {
    /** @type {import('./protocol.js').OpenedModel} */
    const opened = visualizer.openOnnx(fileName, new Uint8Array(bytes), preprocess);
    feed.opened(opened.model.name);
    post({ type: 'model', fileName, opened });
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    post({ type: 'model', fileName, error: messageOf(e) });
  }
}

/** The picture's pixels as the canvas shows them, for `ask('snapshot')`. Read through a copy: Firefox (ESR 153)
 *  answers a second getContext on a transferred canvas with "Cannot update created context to different thread", and
 *  the program holds the first. @param {number} id */
async function snapshot(id) {
  if (!canvas || canvas.width === 0) {
    post({ type: 'snapshot', id, width: 0, height: 0, step: 0, run: current.runId, data: null });
    return;
  }
  const [step, run] = [current.step, current.runId];
  const bitmap = await createImageBitmap(canvas);
  const { width, height } = bitmap;
  const copy = new OffscreenCanvas(width, height);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (copy.getContext('2d'));
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const data = ctx.getImageData(0, 0, width, height).data;
  post({ type: 'snapshot', id, width, height, step, run, data }, [data.buffer]);
}

/** @param {MessageEvent<ToWorker>} event */
scope.onmessage = ({ data: message }) => {
  switch (message.type) {
    case 'init':
      canvas = message.canvas;
      wanted.backend = message.backend;
      wanted.model = message.model;
      wanted.transparency = message.transparency;
      initialised({ backend: message.backend, threads: message.threads, unthreaded: message.unthreaded });
      boot();
      break;
    case 'retry-weights':
      if (!visualizer) boot();
      else drive();
      break;
    case 'backend':
      wanted.backend = message.backend;
      wake();
      chooseBuild(message.backend).then(({ build }) =>
        program.glue && build !== program.build ? post({ type: 'other-build' }) : drive(),
      );
      break;
    case 'run':
      wanted.runId = message.id;
      wanted.run = { request: message.request, fromImage: message.fromImage };
      wanted.paused = false;
      wake();
      drive();
      break;
    case 'stop':
      if (message.id !== wanted.runId) break;
      wanted.paused = true;
      wake();
      drive();
      break;
    case 'transparency':
      wanted.transparency = message.on;
      drive();
      break;
    case 'continue':
      wanted.more = { id: message.id, steps: message.steps };
      wanted.paused = false;
      drive();
      break;
    case 'start-image':
      startImage?.close();
      startImage = message.bitmap;
      break;
    case 'examples-begin':
      // The set's pictures follow at once: they queue for it while the visualizer is busy.
      Object.assign(examples, { id: message.id, model: message.model, size: message.size, queue: [] });
      betweenSteps.push(message);
      if (!driving) answerRequests();
      break;
    case 'export':
    case 'tile':
    case 'open-model':
    case 'examples-of':
      betweenSteps.push(message);
      if (!driving) answerRequests();
      break;
    case 'examples-picture':
      if (message.id !== examples.id) break;
      examples.queue.push({ picture: message.picture, file: message.file });
      drive();
      break;
    case 'examples-stop':
      if (message.id === examples.id) examples.queue = [];
      break;
    case 'examples-check':
      examples.check = message.id;
      drive();
      break;
    case 'snapshot':
      snapshot(message.id);
      break;
    case 'stats':
      post({
        type: 'stats',
        id: message.id,
        wasmBytes: program.memory?.buffer.byteLength ?? 0,
        posted,
        pending: betweenSteps.length,
      });
      break;
    case 'crash':
      setTimeout(() => {
        throw new WebAssembly.RuntimeError('unreachable (a crash asked for by a test)');
      });
      break;
    case 'lose-device':
      post({ type: 'lost', destroyed: program.glue?.Visualizer.loseWebGpuDeviceForTesting() ?? false });
      break;
  }
};
