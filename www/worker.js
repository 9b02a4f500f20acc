// @ts-check
// The compute worker: owns the wasm Visualizer (and with it the page's one WebGPU device), fetches the weights, and
// runs one ascent at a time, a step per turn of the event loop so that new requests (another filter, Stop) are
// read between steps. The messages both ways are typed in protocol.js.
//
// Two builds of the program: pkg/ (WebGPU, and Flex on this thread) works everywhere; pkg-threads/ runs Flex on a
// pool of Web Workers (rayon) but has no WebGPU (wgpu's browser types cannot cross threads), and needs shared
// memory, so a cross-origin-isolated page (isolation.js). The worker loads the threaded build where the page is
// isolated and WebGPU would not run anyway: Flex or ndarray asked for, or `auto` on a browser that offers no
// WebGPU adapter or only a software one. A backend that needs the other build asks the page for a new worker
// (`other-build`).

import { SPECTRUM_FILE, Weights, weightsFile } from './weights.js';

/** @typedef {import('./protocol.js').ToWorker} ToWorker */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').StepReply} StepReply */
/** @typedef {import('./protocol.js').Started} Started */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */
/** @typedef {import('./protocol.js').Model} Model */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

let posted = 0;
/** @param {FromWorker} message @param {Transferable[]} [transfer] */
const post = (message, transfer = []) => {
  posted += 1;
  scope.postMessage(message, transfer);
};

/** @type {OffscreenCanvas | null} */
let canvas = null;
/** The program's JS side; the threaded build adds `initThreadPool`.
 *  @typedef {typeof import('./pkg/filterlens.js') & { initThreadPool?: (threads: number) => Promise<unknown> }} Program */
/** @typedef {import('./pkg/filterlens.js').Visualizer} Visualizer */
/** @type {'pkg' | 'pkg-threads'} */
let build = 'pkg';
/** In the threaded build under `auto`, why WebGPU does not run (what the browser offered). @type {Pick<BackendInfo, 'adapter' | 'fallback'> | null} */
let passedOver = null;
/** @type {Program | null} */
let glue = null;
/** @type {Visualizer | null} */
let visualizer = null;
/** The page's `init` message, once it has come: the backend asked for, and Flex's threads. @type {(init: { backend: import('./protocol.js').BackendChoice, threads: number }) => void} */
let initialised = () => {};
const init = /** @type {Promise<{ backend: import('./protocol.js').BackendChoice, threads: number }>} */ (new Promise((resolve) => (initialised = resolve)));

/** What WebGPU the browser offers, asked before a build is chosen (the wasm asks again for its own device). */
async function webgpuOffer() {
  const gpu = /** @type {any} */ (scope.navigator).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (!adapter) return { adapter: null, fallback: /** @type {const} */ ({ kind: 'noAdapter' }) };
  const info = adapter.info ?? {};
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(', ');
  return { adapter: { name, software }, fallback: software ? /** @type {const} */ ({ kind: 'softwareAdapter' }) : null };
}

/** The build for this page and backend (see the top of this file). @param {import('./protocol.js').BackendChoice} backend */
async function chooseBuild(backend) {
  if (!scope.crossOriginIsolated || backend === 'wgpu') return 'pkg';
  if (backend !== 'auto') return 'pkg-threads';
  const offer = await webgpuOffer();
  if (!offer.fallback) return 'pkg';
  passedOver = offer;
  return 'pkg-threads';
}
/** The user's own starting picture, resized for each run that starts from it. @type {ImageBitmap | null} */
let startImage = null;

/** What the page asked for most recently; `model`: the network of its first run (from `init`, before any run);
 *  `paused`: the run `runId` is stopped after its current step (and kept, to go on); `more`: extra steps for the run
 *  `id` (0: a stopped run goes on to its end); `transparency`: pictures shown with their transparency map as alpha.
 *  @type {{ backend: import('./protocol.js').BackendChoice, model: Model, runId: number, run: { request: RunRequest, fromImage: boolean } | null, paused: boolean, more: { id: number, steps: number } | null, transparency: boolean }} */
const wanted = { backend: 'auto', model: /** @type {Model} */ ('vgg16'), runId: 0, run: null, paused: false, more: null, transparency: false };
/** What the visualizer is doing. */
const current = { backend: /** @type {string | null} */ (null), runId: 0, running: false, startedAt: 0, step: 0, model: /** @type {Model} */ ('vgg16'), transparency: false };
let driving = false;
/** Requests that read the visualizer, answered between steps (a step in flight holds it).
 *  @type {({ type: 'export', id: number, what: import('./protocol.js').Export } | { type: 'tile', x: number, y: number })[]} */
const betweenSteps = [];

/** The program (the wasm module), fetched with progress reports and compiled as it streams in. */
async function program() {
  const response = await fetch(new URL(`./${build}/filterlens_bg.wasm`, import.meta.url));
  if (!response.ok || !response.body) throw new Error(`the server answered HTTP ${response.status}`);
  // A compressed transfer's Content-Length counts compressed bytes: then the total is unknown (0).
  const total = response.headers.get('Content-Encoding') ? 0 : Number(response.headers.get('Content-Length')) || 0;
  let loaded = 0;
  let lastPost = 0;
  const counted = response.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        loaded += chunk.length;
        const now = performance.now();
        if (now - lastPost > 50 || loaded === total) {
          lastPost = now;
          post({ type: 'program', loaded, total });
        }
        controller.enqueue(chunk);
      },
      flush() {
        post({ type: 'program', loaded, total: loaded });
      },
    }),
  );
  return new Response(counted, { headers: { 'Content-Type': 'application/wasm' } });
}

/** The wasm instance's memory, once loaded (for `stats`). @type {WebAssembly.Memory | null} */
let wasmMemory = null;
const loadProgram = async () => {
  const { backend, threads: threadsAsked } = await init;
  build = await chooseBuild(backend);
  try {
    glue = /** @type {Program} */ (await import(new URL(`./${build}/filterlens.js`, import.meta.url).href));
    wasmMemory = (await glue.default({ module_or_path: program() })).memory;
  } catch (e) {
    glue = null;
    throw new Error(`The program (${build}/filterlens_bg.wasm) failed to load: ${e instanceof Error ? e.message : e}. Retry to try again.`);
  }
  let threads = 1;
  if (glue.initThreadPool) {
    threads = threadsAsked;
    await glue.initThreadPool(threads); // rayon's workers, nested in this one: tens of milliseconds
  }
  post({ type: 'cpu', threads, build });
};
// Starts with the page's `init`, in parallel with the weights: the first picture waits for whichever comes last.
let wasmReady = loadProgram();

/** The centre square of the starting picture, resized by the browser (with its best smoothing, so a large photo
 *  does not alias) to `size`×`size` RGBA bytes. @param {number} size */
function startPixels(size) {
  if (!startImage) throw new Error('There is no starting picture: choose or drop one, or start from noise.');
  const side = Math.min(startImage.width, startImage.height);
  const square = new OffscreenCanvas(size, size);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (square.getContext('2d'));
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(startImage, (startImage.width - side) / 2, (startImage.height - side) / 2, side, side, 0, 0, size, size);
  return new Uint8Array(ctx.getImageData(0, 0, size, size).data.buffer);
}

/** Lets the event loop take messages (and the OffscreenCanvas commit its frame) between steps. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Each network's weights file, part by part (weights.js), once its manifest entry is read. @type {Map<Model, Weights>} */
const weightsOf = new Map();
/** The networks whose header the visualizer has (it takes their parts from then on). @type {Set<Model>} */
const given = new Set();
/** The parts a run is waiting for (none: null): their progress is the page's download bar, not background news.
 *  @type {{ model: Model, count: number } | null} */
let waiting = null;
/** Each `bringWeights` under way, by network and count (the page hears of each once). @type {Map<string, Promise<void>>} */
const bringing = new Map();

/** The network a request names (VGG16 when it names none). @param {RunRequest} request @returns {Model} */
const modelOf = (request) => request.model ?? 'vgg16';

/** Each network's manifest read, under way or done: a second ask while the first is under way waits for the same
 *  one (two `Weights` of one network would hand the visualizer its parts twice). @type {Map<Model, Promise<Weights>>} */
const opening = new Map();

/** `model`'s weights, their manifest entry read on first use. @param {Model} model */
function openWeights(model) {
  let weights = opening.get(model);
  if (!weights) {
    weights = Weights.open(scope.location.href, weightsFile(model)).then((w) => (weightsOf.set(model, w), w));
    weights.catch(() => opening.delete(model)); // a failed read is tried again next time
    opening.set(model, weights);
  }
  return weights;
}

/** The parts a run on `layer` of `model` needs: the header and the layers up to it. @param {Model} model @param {string} layer */
const partsFor = (model, layer) => /** @type {Weights} */ (weightsOf.get(model)).parts.findIndex((p) => p.name === layer) + 1;

/** Brings the first `count` parts of `model`'s weights, telling the page how many of their bytes are in; resolves
 *  once they are in and checked. @param {Model} model @param {number} count */
function bringWeights(model, count) {
  const w = /** @type {Weights} */ (weightsOf.get(model));
  const key = `${model} ${count}`;
  const known = bringing.get(key);
  if (known) return known;
  const layer = w.parts[count - 1].name;
  const started = performance.now();
  const background = () => !(waiting && waiting.model === model && waiting.count >= count);
  const arrival = w
    // upTo reports ten times a second and once at the end: each report goes to the page.
    .upTo(count, (loaded, total, source) => {
      post({ type: 'weights', phase: 'progress', loaded, total, source, model, layer, background: background() });
    })
    .then(({ source, bytes }) => {
      post({ type: 'weights', phase: 'ready', source, bytes, millis: performance.now() - started, model, layer, complete: count === w.parts.length });
    })
    .finally(() => bringing.delete(key));
  bringing.set(key, arrival);
  return arrival;
}

/** `model`'s deeper layers, after a first picture: so that a later move of the layer slider finds them in.
 *  @param {Model} model */
function bringTheRest(model) {
  const weights = /** @type {Weights} */ (weightsOf.get(model));
  const all = weights.parts.length;
  if (!weights.has(all)) bringWeights(model, all).catch((e) => console.warn(`filterlens: ${model}'s deeper layers' weights: ${e.message}`));
}

/** The deepest layer a run of `request` reads: its layer, or the deepest its expressions name (the core parses
 *  them; throws the core's refusal of one that does not parse). Needs the program. @param {RunRequest} request */
const layerOf = (request) => request.layer ?? /** @type {Program} */ (glue).deepestLayer(request);

/** MACO's ImageNet spectrum, fetched on the first maco run (whose wait it is part of): `arrival` while it comes,
 *  `ready` once its parts are in and checked, `given` once the visualizer has it.
 *  @type {{ arrival: Promise<void> | null, ready: Weights | null, given: boolean }} */
const spectrum = { arrival: null, ready: null, given: false };

/** Brings the spectrum's parts; resolves once they are in and checked. */
function bringSpectrum() {
  spectrum.arrival ??= Weights.open(scope.location.href, SPECTRUM_FILE).then(async (file) => {
    await file.upTo(file.parts.length);
    spectrum.ready = file;
  });
  spectrum.arrival.catch(() => (spectrum.arrival = null)); // a failed fetch is tried again by the next maco run
  return spectrum.arrival;
}

/** Whether the visualizer has every weight a run of `request` needs (and, in maco mode, the spectrum).
 *  @param {RunRequest} request */
function weightsIn(request) {
  const [model, layer] = [modelOf(request), layerOf(request)];
  const spectrumIn = request.mode !== 'maco' || spectrum.given;
  return spectrumIn && given.has(model) && /** @type {Weights} */ (weightsOf.get(model)).has(partsFor(model, layer));
}

/** Hands the visualizer the weights that have come in since, each network's header first (between its calls: they
 *  must not overlap). */
function feedWeights() {
  const v = /** @type {Visualizer} */ (visualizer);
  for (const [model, weights] of weightsOf) {
    if (!given.has(model)) {
      const [header] = weights.take(1);
      if (!header) continue;
      v.weightsArriving(model, header, weights.fileLength);
      given.add(model);
    }
    for (const part of weights.take()) v.addWeights(model, part);
  }
  if (spectrum.ready && !spectrum.given) {
    const parts = spectrum.ready.take();
    const npy = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (npy.set(p, at), at + p.length), 0);
    v.setSpectrum(npy);
    spectrum.given = true;
  }
}

/** Resolves when the page next changes what it wants: a wait for weights gives way to it. */
let wake = () => {};
const pageChanges = () => new Promise((resolve) => (wake = () => resolve(undefined)));

async function boot() {
  if (!scope.isSecureContext) post({ type: 'insecure' });
  wasmReady = wasmReady.catch(loadProgram); // a retry after a failed program download fetches it again
  try {
    const model = wanted.run ? modelOf(wanted.run.request) : wanted.model;
    const weights = await openWeights(model);
    // The first run's layers start downloading now, beside the program; the visualizer needs only the header. (An
    // expression's layers are known once the program is in, to parse it.)
    const layer = wanted.run?.request.layer;
    const first = layer ? partsFor(model, layer) : 1;
    waiting = { model, count: first };
    bringWeights(model, Math.max(first, 1)).catch(() => {}); // its failure is met below, or by the run that waits for it
    await Promise.all([weights.upTo(1), wasmReady]);
    visualizer = new (/** @type {Program} */ (glue).Visualizer)(/** @type {OffscreenCanvas} */ (canvas));
    feedWeights(); // the header, and whatever else is in already
    await selectBackend();
  } catch (e) {
    visualizer = null;
    // A retry reads the manifest again (the site may have been fixed).
    weightsOf.clear();
    opening.clear();
    given.clear();
    post({ type: 'weights', phase: 'error', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  drive();
}

/** Moves the visualizer to the wanted backend and tells the page. */
async function selectBackend() {
  const requested = wanted.backend;
  // The threaded build has no WebGPU: it runs `auto` on Flex, for the reason found when it was chosen. (The page
  // moves a WebGPU request to the other build.)
  const inThisBuild = build === 'pkg-threads' && requested === 'auto' ? 'flex' : requested;
  let info = /** @type {BackendInfo} */ (await /** @type {Visualizer} */ (visualizer).selectBackend(inThisBuild));
  if (inThisBuild !== requested) info = { ...info, requested, ...passedOver };
  current.backend = requested;
  if (info.fallback && 'reason' in info.fallback) console.warn(`filterlens: WebGPU unavailable: ${info.fallback.reason}`);
  post({ type: 'backend', info });
}

/** The loop: applies the latest request, then steps the run until it is done, stopped or replaced. */
async function drive() {
  if (driving || !visualizer) return;
  driving = true;
  try {
    for (;;) {
      answerRequests();
      if (wanted.backend !== current.backend) {
        await selectBackend();
        current.running = false;
        current.runId = -1; // the run, if any, restarts on the new backend
      }
      feedWeights();
      if (wanted.paused && wanted.runId !== current.runId) {
        // Stopped before it started: there is nothing to keep.
        current.runId = wanted.runId;
        current.running = false;
        wanted.run = null;
        visualizer.stop();
        post({ type: 'stopped', id: current.runId });
        continue;
      }
      let ready = true;
      if (wanted.run && wanted.runId !== current.runId) {
        try {
          ready = weightsIn(wanted.run.request);
        } catch (e) {
          // An expression the core refuses: the run's error, said as the core says it, and the field it is about.
          current.runId = wanted.runId;
          current.running = false;
          const field = wanted.run.request.expressions ? 'expressions' : undefined;
          wanted.run = null;
          post({ type: 'error', id: current.runId, message: e instanceof Error ? e.message : String(e), field });
          continue;
        }
      }
      if (wanted.run && !ready) {
        // The run's network or layers are not in yet: wait for them (or for the page to want something else).
        const layer = layerOf(wanted.run.request);
        const model = modelOf(wanted.run.request);
        const arrival = Promise.all([
          openWeights(model).then(() => {
            waiting = { model, count: partsFor(model, layer) };
            return bringWeights(model, waiting.count);
          }),
          wanted.run.request.mode === 'maco' ? bringSpectrum() : null,
        ]);
        try {
          await Promise.race([arrival, pageChanges()]);
        } catch (e) {
          post({ type: 'weights', phase: 'error', message: e instanceof Error ? e.message : String(e) });
          break; // until a retry, or another request
        } finally {
          waiting = null;
        }
        continue;
      }
      if (wanted.runId !== current.runId) {
        current.runId = wanted.runId;
        if (wanted.run) {
          const { request, fromImage } = wanted.run;
          /** @type {Started} */
          let layout;
          try {
            const size = request.size ?? 0;
            layout = visualizer.start(request, fromImage ? startPixels(size) : null);
          } catch (e) {
            current.running = false;
            post({ type: 'error', id: current.runId, message: e instanceof Error ? e.message : String(e) });
            continue;
          }
          current.running = true;
          current.startedAt = performance.now();
          current.step = 0;
          current.model = modelOf(request);
          post({ type: 'started', id: current.runId, layout });
        }
      }
      if (wanted.more && wanted.more.id === current.runId) {
        try {
          visualizer.extend(wanted.more.steps);
          current.running = true;
        } catch (e) {
          post({ type: 'error', id: current.runId, message: e instanceof Error ? e.message : String(e) });
        }
        wanted.more = null;
      }
      if (wanted.paused && current.running) {
        current.running = false;
        post({ type: 'stopped', id: current.runId });
      }
      if (wanted.transparency !== current.transparency) {
        current.transparency = wanted.transparency;
        await visualizer.showTransparency(current.transparency); // repaints the picture on the canvas
      }
      if (!current.running) break;

      const id = current.runId;
      /** @type {StepReply} */
      let reply;
      try {
        reply = await visualizer.step();
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) throw e; // a trap: the instance is no longer sound
        current.running = false;
        if (wanted.runId === id) wanted.run = null;
        post({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
        continue;
      }
      current.step = reply.step;
      if (reply.backendChange) {
        const { fallback } = reply.backendChange;
        if (fallback && 'reason' in fallback) console.warn(`filterlens: WebGPU failed mid-run: ${fallback.reason}`);
        post({ type: 'backend', info: reply.backendChange }); // it stays on Flex for the rest of the page's life
      }
      post({ type: 'step', id, ...reply, sinceStart: performance.now() - current.startedAt });
      if (reply.step === 1) bringTheRest(current.model);
      if (reply.done) {
        current.running = false;
        if (wanted.runId === id) wanted.run = null;
        post({ type: 'done', id });
      }
      await nextTurn();
    }
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) post({ type: 'crashed', message: `${e.message} in the WebAssembly module` });
    else post({ type: 'error', id: current.runId, message: e instanceof Error ? e.message : String(e) });
  } finally {
    driving = false;
    answerRequests();
  }
}

/** Answers the export and tile requests that came in. Only between calls into the visualizer: a step in flight
 *  holds it. */
function answerRequests() {
  for (const request of betweenSteps.splice(0)) {
    if (request.type === 'tile') {
      post({ type: 'tile', filter: visualizer?.filterAt(request.x, request.y) ?? null });
      continue;
    }
    try {
      if (!visualizer) throw new Error('there is no picture yet: the weights are still loading');
      const bytes = request.what === 'animation' ? visualizer.animation() : visualizer.png();
      post({ type: 'png', id: request.id, what: request.what, bytes }, [bytes.buffer]);
    } catch (e) {
      post({ type: 'png', id: request.id, what: request.what, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

/** @param {number} id */
function snapshot(id) {
  if (!canvas || canvas.width === 0) {
    post({ type: 'snapshot', id, width: 0, height: 0, step: 0, run: current.runId, data: null });
    return;
  }
  const { width, height } = canvas;
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const data = ctx.getImageData(0, 0, width, height).data;
  post({ type: 'snapshot', id, width, height, step: current.step, run: current.runId, data }, [data.buffer]);
}

/** @param {MessageEvent<ToWorker>} event */
scope.onmessage = ({ data: message }) => {
  switch (message.type) {
    case 'init':
      canvas = message.canvas;
      wanted.backend = message.backend;
      wanted.model = message.model;
      wanted.transparency = message.transparency;
      initialised({ backend: message.backend, threads: message.threads });
      boot();
      break;
    case 'retry-weights':
      if (!visualizer) boot();
      else drive();
      break;
    case 'backend':
      wanted.backend = message.backend;
      wake();
      chooseBuild(message.backend).then((needed) => (glue && needed !== build ? post({ type: 'other-build' }) : drive()));
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
    case 'export':
    case 'tile':
      betweenSteps.push(message);
      if (!driving) answerRequests();
      break;
    case 'snapshot':
      snapshot(message.id);
      break;
    case 'stats':
      post({
        type: 'stats',
        id: message.id,
        wasmBytes: wasmMemory?.buffer.byteLength ?? 0,
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
      post({ type: 'lost', destroyed: glue?.Visualizer.loseWebGpuDeviceForTesting() ?? false });
      break;
  }
};
