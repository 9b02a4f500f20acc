// @ts-check
// The compute worker: owns the wasm Visualizer (and with it the page's one WebGPU device), fetches the weights, and
// runs one ascent at a time, a step per turn of the event loop so that new requests (another filter, Stop) are
// read between steps. The messages both ways are typed in protocol.js.

import init, { Visualizer } from './pkg/filterlens.js';
import { loadWeights } from './weights.js';

/** @typedef {import('./protocol.js').ToWorker} ToWorker */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').StepReply} StepReply */
/** @typedef {import('./protocol.js').Started} Started */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

let posted = 0;
/** @param {FromWorker} message @param {Transferable[]} [transfer] */
const post = (message, transfer = []) => {
  posted += 1;
  scope.postMessage(message, transfer);
};

/** @type {OffscreenCanvas | null} */
let canvas = null;
/** @type {Visualizer | null} */
let visualizer = null;
/** The user's own starting picture, resized for each run that starts from it. @type {ImageBitmap | null} */
let startImage = null;

/** What the page asked for most recently; `more`: extra steps for the run `id`.
 *  @type {{ backend: import('./protocol.js').BackendChoice, runId: number, run: { request: RunRequest, fromImage: boolean } | null, more: { id: number, steps: number } | null }} */
const wanted = { backend: 'auto', runId: 0, run: null, more: null };
/** What the visualizer is doing. */
const current = { backend: /** @type {string | null} */ (null), runId: 0, running: false, startedAt: 0, step: 0 };
let driving = false;
/** Requests that read the visualizer, answered between steps (a step in flight holds it).
 *  @type {({ type: 'export', id: number } | { type: 'tile', x: number, y: number })[]} */
const betweenSteps = [];

/** The program (the wasm module), fetched with progress reports and compiled as it streams in. */
async function program() {
  const response = await fetch(new URL('./pkg/filterlens_bg.wasm', import.meta.url));
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
const loadProgram = () =>
  init({ module_or_path: program() })
    .then((output) => {
      wasmMemory = output.memory;
    })
    .catch((e) => {
      throw new Error(`The program (pkg/filterlens_bg.wasm) failed to load: ${e.message || e}. Retry to try again.`);
    });
// Starts at once, in parallel with the weights: the first picture waits for whichever comes last.
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

async function fetchWeights() {
  let lastPost = 0;
  const started = performance.now();
  const weights = await loadWeights(scope.location.href, (loaded, total, source) => {
    const now = performance.now();
    if (loaded === total || now - lastPost > 50) {
      lastPost = now;
      post({ type: 'weights', phase: 'progress', loaded, total, source });
    }
  });
  post({ type: 'weights', phase: 'ready', source: weights.source, bytes: weights.bytes.length, millis: performance.now() - started });
  return weights.bytes;
}

async function boot() {
  if (!scope.isSecureContext) post({ type: 'insecure' });
  wasmReady = wasmReady.catch(loadProgram); // a retry after a failed program download fetches it again
  try {
    const [bytes] = await Promise.all([fetchWeights(), wasmReady]);
    visualizer = new Visualizer(bytes, /** @type {OffscreenCanvas} */ (canvas));
    await selectBackend();
  } catch (e) {
    visualizer = null;
    post({ type: 'weights', phase: 'error', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  drive();
}

/** Moves the visualizer to the wanted backend and tells the page. */
async function selectBackend() {
  const requested = wanted.backend;
  const info = /** @type {BackendInfo} */ (await /** @type {Visualizer} */ (visualizer).selectBackend(requested));
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
          post({ type: 'started', id: current.runId, layout });
        } else {
          visualizer.stop();
          post({ type: 'stopped', id: current.runId });
          current.running = false;
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
      const bytes = visualizer.png();
      post({ type: 'png', id: request.id, bytes }, [bytes.buffer]);
    } catch (e) {
      post({ type: 'png', id: request.id, error: e instanceof Error ? e.message : String(e) });
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
      boot();
      break;
    case 'retry-weights':
      if (!visualizer) boot();
      break;
    case 'backend':
      wanted.backend = message.backend;
      drive();
      break;
    case 'run':
      wanted.runId = message.id;
      wanted.run = { request: message.request, fromImage: message.fromImage };
      drive();
      break;
    case 'stop':
      wanted.runId = message.id;
      wanted.run = null;
      drive();
      break;
    case 'continue':
      wanted.more = { id: message.id, steps: message.steps };
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
      post({ type: 'lost', destroyed: Visualizer.loseWebGpuDeviceForTesting() });
      break;
  }
};
