// The compute worker: owns the wasm Visualizer (and with it the page's one WebGPU device), fetches the weights, and
// runs one ascent at a time, a step per turn of the event loop so that new requests (another filter, Stop) are
// read between steps. The page talks to it with messages; see app.js for the other side.
//
// page -> worker: init {canvas, backend} | backend {backend} | run {id, params} | stop {id} | retry-weights
//                 | start-image {bitmap|null} | export {id} | snapshot {id} | lose-device (test hook)
// worker -> page: weights {phase: progress|ready|error, ...} | backend {backend, adapter, notice} | notice {message}
//                 | started {id, layout} | step {id, ...report} | done {id} | stopped {id} | error {id, message}
//                 | png {id, bytes|error} | snapshot {id, width, height, data}

import init, { Visualizer } from './pkg/filterlens.js';
import { loadWeights } from './weights.js';

const post = (message, transfer) => self.postMessage(message, transfer || []);

let canvas = null;
let visualizer = null;
let weightsPromise = null;
// The user's own starting picture (an ImageBitmap), resized for each run that starts from it.
let startImage = null;

// What the page asked for most recently, and what the visualizer is doing.
const wanted = { backend: 'auto', runId: 0, params: null };
const current = { backend: null, runId: 0, running: false, startedAt: 0, step: 0 };
let driving = false;
const exports = [];

const wasmReady = init().catch((e) => {
  throw new Error(`The WebAssembly module (pkg/filterlens_bg.wasm) failed to load: ${e.message || e}`);
});

/** The centre square of the starting picture, resized by the browser (with its best smoothing, so a large photo
 *  does not alias) to `size`×`size` RGBA bytes. */
function startPixels(size) {
  if (!startImage) throw new Error('There is no starting picture: choose or drop one, or start from noise.');
  const side = Math.min(startImage.width, startImage.height);
  const square = new OffscreenCanvas(size, size);
  const ctx = square.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(startImage, (startImage.width - side) / 2, (startImage.height - side) / 2, side, side, 0, 0, size, size);
  return new Uint8Array(ctx.getImageData(0, 0, size, size).data.buffer);
}

/** Lets the event loop take messages (and the OffscreenCanvas commit its frame) between steps. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

function fetchWeights() {
  let lastPost = 0;
  const started = performance.now();
  return loadWeights(self.location.href, (loaded, total, source) => {
    const now = performance.now();
    if (loaded === total || now - lastPost > 50) {
      lastPost = now;
      post({ type: 'weights', phase: 'progress', loaded, total, source });
    }
  }).then((weights) => {
    post({ type: 'weights', phase: 'ready', source: weights.source, bytes: weights.bytes.length, millis: performance.now() - started });
    return weights.bytes;
  });
}

/** A readable description of the WebGPU adapter, from the browser's own adapter info. */
async function adapterDescription(fromWgpu) {
  const parts = [];
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    const info = adapter?.info;
    if (info) parts.push(...[info.vendor, info.architecture, info.description, info.device].filter(Boolean));
  } catch {
    // The description is a nicety; wgpu's own is below.
  }
  if (fromWgpu && !parts.some((p) => fromWgpu.includes(p))) parts.push(fromWgpu);
  return [...new Set(parts)].join(' · ') || null;
}

async function boot() {
  if (!self.isSecureContext) {
    post({
      type: 'notice',
      message:
        'This page comes over plain http from another host, where browsers offer neither WebGPU nor a cache for ' +
        'the weights: it runs on the CPU and downloads the weights on every visit. Serve it over https (or open it ' +
        'on localhost) for both.',
    });
  }
  try {
    await wasmReady;
    weightsPromise = fetchWeights();
    const bytes = await weightsPromise;
    const requested = wanted.backend;
    visualizer = await Visualizer.create(bytes, requested, canvas);
    const notice = visualizer.takeNotice();
    const detail = visualizer.takeDetail();
    await announceBackend(requested, { backend: visualizer.backend, adapter: visualizer.adapter, notice, detail });
  } catch (e) {
    post({ type: 'weights', phase: 'error', message: e.message || String(e) });
    return;
  }
  drive();
}

async function announceBackend(requested, info) {
  current.backend = requested;
  if (info.detail) console.warn(`filterlens: ${info.notice}\n${info.detail}`);
  const adapter = info.backend === 'wgpu' ? await adapterDescription(info.adapter) : null;
  post({ type: 'backend', requested, backend: info.backend, adapter, notice: info.notice || null });
}

/** The loop: applies the latest request, then steps the run until it is done, stopped or replaced. */
async function drive() {
  if (driving || !visualizer) return;
  driving = true;
  try {
    for (;;) {
      exportPngs();
      if (wanted.backend !== current.backend) {
        const requested = wanted.backend;
        const info = await visualizer.useBackend(requested);
        await announceBackend(requested, info);
        current.running = false;
        current.runId = -1; // the run, if any, restarts on the new backend
      }
      if (wanted.runId !== current.runId) {
        current.runId = wanted.runId;
        if (wanted.params) {
          const p = wanted.params;
          let layout;
          try {
            const init = p.fromImage ? startPixels(p.size) : null;
            layout = visualizer.start(p.mode, p.layer, Uint32Array.from(p.filters), p.steps, p.rate, p.size, p.seed, init);
          } catch (e) {
            current.running = false;
            post({ type: 'error', id: current.runId, message: e.message || String(e) });
            continue;
          }
          current.running = true;
          current.startedAt = performance.now();
          current.step = 0;
          post({ type: 'started', id: current.runId, backend: visualizer.backend, layout });
        } else {
          visualizer.stop();
          if (current.running) post({ type: 'stopped', id: current.runId });
          current.running = false;
        }
      }
      if (!current.running) break;

      const id = current.runId;
      let report;
      try {
        report = await visualizer.step();
      } catch (e) {
        current.running = false;
        if (wanted.runId === id) wanted.params = null;
        post({ type: 'error', id, message: e.message || String(e) });
        continue;
      }
      current.step = report.step;
      post({ type: 'step', id, ...report, sinceStart: performance.now() - current.startedAt });
      if (report.detail) console.warn(`filterlens: ${report.notice}\n${report.detail}`);
      if (report.notice && report.backend !== 'wgpu') {
        current.backend = wanted.backend; // it stays on Flex for the rest of the page's life
        post({ type: 'backend', requested: wanted.backend, backend: report.backend, adapter: null, notice: report.notice });
      }
      if (report.done) {
        current.running = false;
        if (wanted.runId === id) wanted.params = null;
        post({ type: 'done', id });
      }
      await nextTurn();
    }
  } catch (e) {
    post({ type: 'error', id: current.runId, message: e.message || String(e) });
  } finally {
    driving = false;
    exportPngs();
  }
}

/** Answers the export requests that came in. Only between calls into the visualizer: a step in flight holds it. */
function exportPngs() {
  for (const id of exports.splice(0)) {
    try {
      if (!visualizer) throw new Error('there is no picture yet: the weights are still loading');
      const bytes = visualizer.png();
      post({ type: 'png', id, bytes }, [bytes.buffer]);
    } catch (e) {
      post({ type: 'png', id, error: e.message || String(e) });
    }
  }
}

function snapshot(id) {
  if (!canvas || canvas.width === 0) {
    post({ type: 'snapshot', id, width: 0, height: 0, step: 0, data: null });
    return;
  }
  const { width, height } = canvas;
  const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  post({ type: 'snapshot', id, width, height, step: current.step, run: current.runId, data }, [data.buffer]);
}

self.onmessage = ({ data: message }) => {
  switch (message.type) {
    case 'init':
      canvas = message.canvas;
      wanted.backend = message.backend || 'auto';
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
      wanted.params = message.params;
      drive();
      break;
    case 'stop':
      wanted.runId = message.id;
      wanted.params = null;
      drive();
      break;
    case 'start-image':
      startImage?.close();
      startImage = message.bitmap;
      break;
    case 'export':
      exports.push(message.id);
      if (!driving) exportPngs();
      break;
    case 'snapshot':
      snapshot(message.id);
      break;
    case 'lose-device':
      post({ type: 'lost', destroyed: Visualizer.loseWebGpuDeviceForTesting() });
      break;
    default:
      console.warn('filterlens worker: unknown message', message);
  }
};
