// The page: settings (sliders, the URL hash), the worker that computes, the status line and the activation plot.
// All computing happens in worker.js; this thread only moves messages and draws, so the sliders stay responsive.

// VGG16's conv layers and their channel counts (the core's vgg::LAYERS).
const LAYERS = [
  ['conv1_1', 64], ['conv1_2', 64],
  ['conv2_1', 128], ['conv2_2', 128],
  ['conv3_1', 256], ['conv3_2', 256], ['conv3_3', 256],
  ['conv4_1', 512], ['conv4_2', 512], ['conv4_3', 512],
  ['conv5_1', 512], ['conv5_2', 512], ['conv5_3', 512],
];
const SIZES = [64, 128, 224];
const BACKENDS = ['auto', 'wgpu', 'flex', 'ndarray'];
const BACKEND_NAMES = { wgpu: 'WebGPU', flex: 'Flex (CPU)', ndarray: 'ndarray (CPU)' };
// Each mode's steps and image size, taken on when the mode is chosen. Classic is the seed's demo; lucid is Lucid's
// recipe at its usual 128 px, with the lower end of 256–512 steps because the page may run on the CPU.
const MODES = { classic: { steps: 150, size: 224 }, lucid: { steps: 256, size: 128 } };
// How many filters the picture shows: one, or a grid of that many consecutive filters optimised as one batch.
const GRIDS = [1, 6, 16, 64];
// Pixels per step (tiles × size²) the page asks of the browser's memory: 6 tiles at 224 px, 16 at 128, 64 at 64.
const MAX_GRID_PIXELS = 6 * 224 * 224;
// The seed's demo: conv3_2, filter 0, 150 steps of 2/255 on a 224 px image.
const DEFAULTS = {
  mode: 'classic', layer: 'conv3_2', filter: 0, grid: 1, steps: 150, step: 2, lr: 0.05, size: 224, seed: 0, backend: 'auto',
};
const RESTART_DELAY_MS = 250;

const $ = (id) => document.getElementById(id);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const channels = (layer) => LAYERS.find(([name]) => name === layer)[1];
/** The largest image size a grid of `grid` tiles may use. */
const maxSize = (grid) => Math.max(...SIZES.filter((size) => grid * size * size <= MAX_GRID_PIXELS));
/** The filters a picture shows: `grid` consecutive filters from the chosen one (fewer from the layer's end). */
function filtersOf({ layer, filter, grid }) {
  const first = Math.min(filter, channels(layer) - grid);
  return Array.from({ length: grid }, (_, i) => first + i);
}
const describeFilters = (layer, filters) =>
  filters.length === 1 ? `${layer} filter ${filters[0]}` : `${layer} filters ${filters[0]}–${filters.at(-1)}`;

// ---------------------------------------------------------------- settings <-> URL hash

/** Settings from a URL hash such as
 *  `#mode=classic&layer=conv3_2&filter=0&grid=1&steps=150&step=2&size=224&seed=0&backend=auto`; anything missing or
 *  invalid takes its default (the mode's, for steps and size). */
function parseHash(hash) {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const mode = Object.hasOwn(MODES, q.get('mode')) ? q.get('mode') : DEFAULTS.mode;
  const s = { ...DEFAULTS, mode, ...MODES[mode] };
  if (LAYERS.some(([name]) => name === q.get('layer'))) s.layer = q.get('layer');
  if (GRIDS.includes(Number(q.get('grid')))) s.grid = Number(q.get('grid'));
  const int = (key, lo, hi) => {
    const v = Number(q.get(key));
    if (q.has(key) && Number.isInteger(v)) s[key] = clamp(v, lo, hi);
  };
  int('filter', 0, channels(s.layer) - 1);
  int('steps', 1, 2000);
  int('seed', 0, 2 ** 32 - 1);
  const step = Number(q.get('step'));
  if (q.has('step') && Number.isFinite(step) && step > 0) s.step = clamp(step, 0.05, 50);
  const lr = Number(q.get('lr'));
  if (q.has('lr') && Number.isFinite(lr) && lr > 0) s.lr = clamp(lr, 0.001, 1);
  const size = Number(q.get('size'));
  if (SIZES.includes(size)) s.size = size;
  s.size = Math.min(s.size, maxSize(s.grid));
  if (BACKENDS.includes(q.get('backend'))) s.backend = q.get('backend');
  return s;
}

function toHash(s) {
  const q = new URLSearchParams();
  const rate = s.mode === 'classic' ? 'step' : 'lr';
  for (const key of ['mode', 'layer', 'filter', 'grid', 'steps', rate, 'size', 'seed', 'backend']) q.set(key, String(s[key]));
  return `#${q}`;
}

let settings = parseHash(location.hash);

function writeHash() {
  history.replaceState(null, '', toHash(settings));
}

// ---------------------------------------------------------------- controls

const pairs = {
  filter: [$('filter'), $('filter-n')],
  steps: [$('steps'), $('steps-n')],
  step: [$('step'), $('step-n')],
  lr: [$('lr'), $('lr-n')],
  seed: [$('seed'), $('seed-n')],
};

for (const [i, [name, n]] of LAYERS.entries()) {
  $('layer-name').add(new Option(`${name} (${n})`, name));
  $('layer-stops').append(new Option(name, String(i)));
}

/** Puts `settings` into the controls. */
function showSettings() {
  const index = LAYERS.findIndex(([name]) => name === settings.layer);
  $('layer').value = String(index);
  $('layer-name').value = settings.layer;
  const max = channels(settings.layer) - 1;
  for (const el of pairs.filter) el.max = String(max);
  for (const [key, [range, number]] of Object.entries(pairs)) {
    number.value = String(settings[key]);
    // A number outside the slider's range (a seed of 5000, say) leaves the slider at its end.
    range.value = String(clamp(settings[key], Number(range.min), Number(range.max)));
  }
  $('mode').value = settings.mode;
  $('grid').value = String(settings.grid);
  $('row-step').hidden = settings.mode !== 'classic';
  $('row-lr').hidden = settings.mode !== 'lucid';
  for (const option of $('size').options) option.disabled = Number(option.value) > maxSize(settings.grid);
  $('size').value = String(settings.size);
  $('backend').value = settings.backend;
  $('view').classList.toggle('grid', settings.grid > 1);
}

/** A setting changed: keep the URL in step and restart the run shortly (slider drags coalesce). */
function changed({ restart = true } = {}) {
  showSettings();
  writeHash();
  if (restart) scheduleRun();
}

$('layer').addEventListener('input', () => {
  settings.layer = LAYERS[Number($('layer').value)][0];
  settings.filter = Math.min(settings.filter, channels(settings.layer) - 1);
  changed();
});
$('layer-name').addEventListener('change', () => {
  settings.layer = $('layer-name').value;
  settings.filter = Math.min(settings.filter, channels(settings.layer) - 1);
  changed();
});
for (const [key, [range, number]] of Object.entries(pairs)) {
  const lo = () => Number(number.min);
  const hi = () => (key === 'filter' ? channels(settings.layer) - 1 : Number(number.max));
  range.addEventListener('input', () => {
    settings[key] = Number(range.value);
    changed();
  });
  number.addEventListener('input', () => {
    const v = Number(number.value);
    if (number.value === '' || !Number.isFinite(v)) return; // still typing
    const value = key === 'step' ? v : Math.round(v);
    if (value < lo() || value > hi()) return;
    settings[key] = value;
    range.value = String(clamp(value, Number(range.min), Number(range.max)));
    writeHash();
    scheduleRun();
  });
  number.addEventListener('change', () => changed({ restart: false })); // tidy an out-of-range entry on blur
}
$('size').addEventListener('change', () => {
  settings.size = Number($('size').value);
  changed();
});
$('mode').addEventListener('change', () => {
  settings.mode = $('mode').value;
  Object.assign(settings, MODES[settings.mode]);
  settings.size = Math.min(settings.size, maxSize(settings.grid));
  changed();
});
$('grid').addEventListener('change', () => {
  settings.grid = Number($('grid').value);
  settings.size = Math.min(settings.size, maxSize(settings.grid));
  changed();
});
$('backend').addEventListener('change', () => {
  settings.backend = $('backend').value;
  clearNotes('backend');
  changed({ restart: false });
  worker.postMessage({ type: 'backend', backend: settings.backend });
  scheduleRun();
});
window.addEventListener('hashchange', () => {
  const before = settings.backend;
  settings = parseHash(location.hash);
  changed({ restart: false });
  if (settings.backend !== before) {
    clearNotes('backend');
    worker.postMessage({ type: 'backend', backend: settings.backend });
  }
  run();
});

$('start').addEventListener('click', () => run());
$('stop').addEventListener('click', () => stop());
$('copy').addEventListener('click', async () => {
  writeHash();
  const link = $('link');
  link.value = location.href;
  try {
    await navigator.clipboard.writeText(location.href);
    note(`Link copied: it restores these settings (same seed and backend, same picture)${imageCaveat()}.`, 'info', 'copy');
  } catch {
    link.hidden = false;
    link.select();
    note(`Copy the link from the box below the buttons${imageCaveat()}.`, 'info', 'copy');
  }
});
const imageCaveat = () =>
  startImage ? '; it does not carry your starting picture, so opened elsewhere it starts from noise' : '';
$('download').addEventListener('click', () => {
  exportId += 1;
  worker.postMessage({ type: 'export', id: exportId });
});
$('retry').addEventListener('click', retryWeights);

// ---------------------------------------------------------------- the worker

const canvas = $('view');
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const offscreen = canvas.transferControlToOffscreen();
worker.postMessage({ type: 'init', canvas: offscreen, backend: settings.backend }, [offscreen]);

let runId = 0;
let restartTimer = 0;
let backendInfo = null;
let weightsReady = false;
let weightsFailed = false;
const metrics = { firstPaintSinceLoad: null, weights: null, runs: [], exports: [] };
let plot = { activations: [], steps: 1 };
let layout = null; // where the current run's tiles are on the canvas (from the worker)
let exportId = 0;
let startImage = null; // { name, width, height, url } of the user's starting picture, while runs start from it
let recentMillis = [];
let last = null; // the last step report of the current run

function scheduleRun() {
  clearTimeout(restartTimer);
  restartTimer = setTimeout(run, RESTART_DELAY_MS);
}

function run() {
  clearTimeout(restartTimer);
  runId += 1;
  plot = { activations: [], steps: settings.steps };
  recentMillis = [];
  last = null;
  layout = null;
  clearNotes('run');
  if (errorKind === 'run') hideError();
  const params = {
    mode: settings.mode,
    layer: settings.layer,
    filters: filtersOf(settings),
    steps: settings.steps,
    rate: settings.mode === 'classic' ? settings.step / 255 : settings.lr,
    size: settings.size,
    seed: settings.seed,
    fromImage: startImage !== null,
  };
  $('plot-caption').textContent =
    params.filters.length > 1 ? `mean activation of the ${params.filters.length} filters per step` : 'activation per step';
  metrics.runs.push({ id: runId, params, requestedAt: performance.now(), firstStepAt: null, firstStepSinceStart: null });
  worker.postMessage({ type: 'run', id: runId, params });
  drawPlot();
  showStatus(weightsReady ? 'starting…' : weightsFailed ? 'no weights: nothing to run' : 'waiting for the weights…');
}

function stop() {
  clearTimeout(restartTimer);
  runId += 1;
  worker.postMessage({ type: 'stop', id: runId });
  showStatus(last ? `stopped at step ${last.step}/${last.steps}` : 'stopped');
}

const snapshots = new Map();
let snapshotId = 0;

worker.onmessage = ({ data: m }) => {
  events.push(m.type === 'snapshot' ? { type: 'snapshot', id: m.id } : m);
  switch (m.type) {
    case 'weights':
      return onWeights(m);
    case 'backend':
      backendInfo = m;
      if (m.notice) note(m.notice, 'warn', 'backend');
      return showStatus(last ? null : weightsReady ? 'starting…' : 'loading the weights…');
    case 'notice':
      return note(m.message, 'warn', 'page');
    case 'started':
      if (m.id === runId) onStarted(m);
      return;
    case 'step':
      return onStep(m);
    case 'done':
      if (m.id === runId) showStatus(null, ' · done');
      return;
    case 'stopped':
      return;
    case 'error':
      return showError(m.message, { kind: 'run' });
    case 'png':
      return onPng(m);
    case 'snapshot': {
      const resolve = snapshots.get(m.id);
      snapshots.delete(m.id);
      return resolve?.(m);
    }
    default:
      return;
  }
};
worker.onerror = (e) => showError(`The compute worker failed: ${e.message || 'unknown error'}`, { kind: 'worker' });

function onWeights(m) {
  const bar = $('weights-progress');
  if (m.phase === 'progress') {
    bar.max = m.total;
    bar.value = m.loaded;
    $('weights-text').textContent =
      m.source === 'cache'
        ? `from the browser's cache (${mb(m.total)})`
        : `${mb(m.loaded)} / ${mb(m.total)}`;
  } else if (m.phase === 'ready') {
    weightsReady = true;
    metrics.weights = { source: m.source, millis: m.millis, bytes: m.bytes };
    bar.max = 1;
    bar.value = 1;
    $('weights-text').textContent = `${mb(m.bytes)} ${m.source === 'cache' ? 'from cache' : 'downloaded'}, SHA-256 checked`;
    $('weights').classList.add('ready');
  } else if (m.phase === 'error') {
    weightsFailed = true;
    $('weights-text').textContent = 'not loaded';
    $('weights').classList.add('failed');
    showError(m.message, { retry: true, kind: 'weights' });
    showStatus('no weights: nothing to run');
  }
}

/** The run's picture has its size: shape the frame to it (a grid is wider than tall). */
function onStarted(m) {
  layout = m.layout;
  $('frame').style.aspectRatio = `${layout.width} / ${layout.height}`;
}

/** Clicking a tile of a grid opens that filter on its own. */
canvas.addEventListener('click', (e) => {
  if (!layout || layout.tiles.length < 2) return;
  const box = canvas.getBoundingClientRect();
  const x = ((e.clientX - box.left) * layout.width) / box.width;
  const y = ((e.clientY - box.top) * layout.height) / box.height;
  const index = layout.tiles.findIndex(([tx, ty, w, h]) => x >= tx && x < tx + w && y >= ty && y < ty + h);
  if (index < 0) return;
  settings.filter = metrics.runs.at(-1).params.filters[index];
  settings.grid = 1; // same seed and size: the single run paints exactly the tile that was clicked
  changed();
});

// ---------------------------------------------------------------- starting from your own picture

/** Decodes `file` (here, so a bad file is refused at once) and hands the picture to the worker, which resizes it
 *  for every run until the user goes back to noise. */
async function useStartImage(file) {
  if (!file) return;
  let bitmap;
  try {
    if (file.type && !file.type.startsWith('image/')) throw new Error(`it is ${file.type}, not an image`);
    bitmap = await createImageBitmap(file);
  } catch (e) {
    showError(`Could not use "${file.name}" as a starting picture: ${e.message || e}. Nothing else changed.`, { kind: 'image' });
    return;
  }
  if (errorKind === 'image') hideError();
  if (startImage) URL.revokeObjectURL(startImage.url);
  startImage = { name: file.name, width: bitmap.width, height: bitmap.height, url: URL.createObjectURL(file) };
  worker.postMessage({ type: 'start-image', bitmap }, [bitmap]);
  showStartImage();
  run();
}

function useNoise() {
  if (!startImage) return;
  URL.revokeObjectURL(startImage.url);
  startImage = null;
  worker.postMessage({ type: 'start-image', bitmap: null });
  showStartImage();
  run();
}

function showStartImage() {
  $('start-thumb').hidden = !startImage;
  $('noise').hidden = !startImage;
  if (startImage) $('start-thumb').src = startImage.url;
  $('start-name').textContent = startImage
    ? `${startImage.name} (${startImage.width}×${startImage.height}, centre square)`
    : 'noise (from the seed)';
}

$('choose-image').addEventListener('click', () => $('image-file').click());
$('image-file').addEventListener('change', () => {
  useStartImage($('image-file').files[0]);
  $('image-file').value = ''; // choosing the same file again still counts
});
$('noise').addEventListener('click', useNoise);
const frame = $('frame');
frame.addEventListener('dragover', (e) => {
  e.preventDefault();
  frame.classList.add('dropping');
});
frame.addEventListener('dragleave', () => frame.classList.remove('dropping'));
frame.addEventListener('drop', (e) => {
  e.preventDefault();
  frame.classList.remove('dropping');
  const file = e.dataTransfer?.files?.[0];
  if (file) useStartImage(file);
  else note('Drop an image file (PNG, JPEG, …) here to start from it.', 'info', 'image');
});

// ---------------------------------------------------------------- export

function onPng(m) {
  if (m.id !== exportId) return;
  if (m.error) return showError(`Could not export the picture: ${m.error}`, { kind: 'export' });
  if (errorKind === 'export') hideError();
  const p = metrics.runs.at(-1).params;
  const filters = p.filters.length === 1 ? p.filters[0] : `${p.filters[0]}-${p.filters.at(-1)}`;
  const name = `filterlens-${p.layer}-${filters}-${p.mode}-seed${p.seed}${p.fromImage ? '-own-image' : ''}-step${last?.step ?? 0}.png`;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([m.bytes], { type: 'image/png' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  metrics.exports.push({ name, bytes: m.bytes.byteLength });
}

function onStep(m) {
  if (m.id !== runId) return; // a report from a run the user has since replaced
  m.activation = m.activations.reduce((a, b) => a + b, 0) / m.activations.length;
  const record = metrics.runs.at(-1);
  if (record && record.firstStepAt === null) {
    record.firstStepAt = performance.now();
    record.firstStepSinceStart = m.sinceStart;
    if (metrics.firstPaintSinceLoad === null) metrics.firstPaintSinceLoad = record.firstStepAt;
  }
  last = m;
  plot.activations.push(m.activation);
  plot.steps = m.steps;
  recentMillis.push(m.totalMillis);
  if (recentMillis.length > 10) recentMillis.shift();
  if (m.switchedToPreRelu.length > 0) {
    const { layer } = record.params;
    const silent = m.switchedToPreRelu;
    const start = record.params.fromImage ? 'starting picture' : 'starting noise';
    note(
      silent.length === 1 && record.params.filters.length === 1
        ? `Filter ${silent[0]} of ${layer} is silent on the ${start} (its output after the ReLU is zero everywhere, so ` +
            'there is no gradient): this run maximises its activation before the ReLU instead.'
        : `Filter${silent.length > 1 ? 's' : ''} ${silent.join(', ')} of ${layer} ${silent.length > 1 ? 'are' : 'is'} silent ` +
            `on the ${start} (zero after the ReLU, so no gradient): ${silent.length > 1 ? 'those tiles maximise their' : 'that tile maximises its'} ` +
            'activation before the ReLU instead.',
      'warn',
      'run',
    );
  }
  if (m.notice) note(m.notice, 'warn', 'backend');
  showStatus(null);
  drawPlot();
}

// ---------------------------------------------------------------- status, notices, errors

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

function backendLabel() {
  if (!backendInfo) return null;
  const name = BACKEND_NAMES[backendInfo.backend] || backendInfo.backend;
  return backendInfo.adapter ? `${name} (${backendInfo.adapter})` : name;
}

function showStatus(message, suffix = '') {
  const shown = last ? metrics.runs.at(-1)?.params : null;
  const parts = [shown ? describeFilters(shown.layer, shown.filters) : null, backendLabel()];
  if (message) {
    parts.push(message);
  } else if (last) {
    const ms = recentMillis.reduce((a, b) => a + b, 0) / recentMillis.length;
    parts.push(`step ${last.step}/${last.steps}`);
    parts.push(`${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms/step`);
    if (!suffix && last.step < last.steps) parts.push(timeLeft((last.steps - last.step) * ms));
    const grid = last.activations.length > 1;
    const preRelu = last.preRelu.length === 1 && last.preRelu[0] ? ' (pre-ReLU)' : '';
    parts.push(`${grid ? 'mean activation' : 'activation'} ${formatActivation(last.activation)}${preRelu}${suffix}`);
  }
  $('status').textContent = parts.filter(Boolean).join(' · ');
}

/** "about 3 min left": the remaining steps at the recent pace (a grid on the CPU can take an hour). */
function timeLeft(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s left`;
  return s < 5400 ? `about ${Math.round(s / 60)} min left` : `about ${(s / 3600).toFixed(1)} h left`;
}

const formatActivation = (a) => (Math.abs(a) >= 100 ? a.toFixed(1) : Math.abs(a) >= 1 ? a.toFixed(3) : a.toPrecision(3));

/** A notice under the picture; `group` lets a new run clear its predecessor's notices. */
function note(text, kind, group) {
  const list = $('notices');
  for (const li of list.querySelectorAll(`li[data-group="${group}"]`)) if (li.textContent === text) return;
  if (group === 'copy') for (const li of list.querySelectorAll('li[data-group="copy"]')) li.remove();
  const li = document.createElement('li');
  li.className = kind;
  li.dataset.group = group;
  li.textContent = text;
  list.append(li);
}

function clearNotes(group) {
  for (const li of $('notices').querySelectorAll(`li[data-group="${group}"]`)) li.remove();
}

let errorKind = null;

function showError(message, { retry = false, kind = 'page' } = {}) {
  errorKind = kind;
  $('error-text').textContent = message;
  $('retry').hidden = !retry;
  $('error').hidden = false;
}

function hideError() {
  errorKind = null;
  $('error').hidden = true;
}

function retryWeights() {
  hideError();
  weightsFailed = false;
  $('weights').classList.remove('failed');
  $('weights-text').textContent = 'retrying…';
  worker.postMessage({ type: 'retry-weights' });
}

// ---------------------------------------------------------------- the plot

function drawPlot() {
  const c = $('plot');
  const ctx = c.getContext('2d');
  const { width, height } = c;
  const pad = 6;
  ctx.clearRect(0, 0, width, height);
  const a = plot.activations;
  // The range always includes zero (a pre-ReLU objective can be negative); the grey line is zero.
  const lo = Math.min(0, ...a);
  let hi = Math.max(0, ...a);
  if (hi - lo < 1e-9) hi = lo + 1;
  const x = (i) => pad + ((width - 2 * pad) * (i + 1)) / Math.max(plot.steps, 1);
  const y = (v) => height - pad - ((height - 2 * pad) * (v - lo)) / (hi - lo);
  ctx.strokeStyle = '#d8d8d8';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad, Math.round(y(0)) + 0.5);
  ctx.lineTo(width - pad, Math.round(y(0)) + 0.5);
  ctx.stroke();
  if (a.length === 0) return;
  ctx.strokeStyle = '#c2410c';
  ctx.lineWidth = 2;
  ctx.beginPath();
  a.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
  ctx.stroke();
  ctx.fillStyle = '#555';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(formatActivation(hi), pad + 2, pad + 10);
  if (lo < 0) ctx.fillText(formatActivation(lo), pad + 2, height - pad - 2);
}

// ---------------------------------------------------------------- start

const events = [];

// For the end-to-end tests and the curious: the worker's messages, timings, and the canvas's exact pixels.
window.filterlens = {
  events,
  metrics,
  get settings() {
    return { ...settings };
  },
  get runId() {
    return runId;
  },
  /** The picture's RGBA pixels as the worker holds them: `{ width, height, data: Uint8ClampedArray }`. */
  snapshot() {
    snapshotId += 1;
    const id = snapshotId;
    return new Promise((resolve) => {
      snapshots.set(id, resolve);
      worker.postMessage({ type: 'snapshot', id });
    });
  },
  /** Destroys the WebGPU device (as a driver reset would) to exercise the fallback to Flex. */
  loseDevice() {
    worker.postMessage({ type: 'lose-device' });
  },
};

showSettings();
showStartImage();
writeHash();
drawPlot();
showStatus('loading the weights…');
run();
