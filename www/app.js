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
// The seed's demo: conv3_2, filter 0, 150 steps of 2/255 on a 224 px image.
const DEFAULTS = { layer: 'conv3_2', filter: 0, steps: 150, step: 2, size: 224, seed: 0, backend: 'auto' };
const RESTART_DELAY_MS = 250;

const $ = (id) => document.getElementById(id);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const channels = (layer) => LAYERS.find(([name]) => name === layer)[1];

// ---------------------------------------------------------------- settings <-> URL hash

/** Settings from a URL hash such as `#layer=conv3_2&filter=0&steps=150&step=2&size=224&seed=0&backend=auto`;
 *  anything missing or invalid takes its default. */
function parseHash(hash) {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const s = { ...DEFAULTS };
  if (LAYERS.some(([name]) => name === q.get('layer'))) s.layer = q.get('layer');
  const int = (key, lo, hi) => {
    const v = Number(q.get(key));
    if (q.has(key) && Number.isInteger(v)) s[key] = clamp(v, lo, hi);
  };
  int('filter', 0, channels(s.layer) - 1);
  int('steps', 1, 2000);
  int('seed', 0, 2 ** 32 - 1);
  const step = Number(q.get('step'));
  if (q.has('step') && Number.isFinite(step) && step > 0) s.step = clamp(step, 0.05, 50);
  const size = Number(q.get('size'));
  if (SIZES.includes(size)) s.size = size;
  if (BACKENDS.includes(q.get('backend'))) s.backend = q.get('backend');
  return s;
}

function toHash(s) {
  const q = new URLSearchParams();
  for (const key of ['layer', 'filter', 'steps', 'step', 'size', 'seed', 'backend']) q.set(key, String(s[key]));
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
  $('size').value = String(settings.size);
  $('backend').value = settings.backend;
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
    note('Link copied: it restores these settings (same seed and backend, same picture).', 'info', 'copy');
  } catch {
    link.hidden = false;
    link.select();
    note('Copy the link from the box below the buttons.', 'info', 'copy');
  }
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
const metrics = { firstPaintSinceLoad: null, weights: null, runs: [] };
let plot = { activations: [], steps: 1 };
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
  clearNotes('run');
  if (errorKind === 'run') hideError();
  const params = {
    layer: settings.layer,
    filter: settings.filter,
    steps: settings.steps,
    stepSize: settings.step / 255,
    size: settings.size,
    seed: settings.seed,
  };
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

function onStep(m) {
  if (m.id !== runId) return; // a report from a run the user has since replaced
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
  if (m.switchedToPreRelu) {
    note(
      `Filter ${settings.filter} of ${settings.layer} is silent on the starting noise (its output after the ReLU is ` +
        'zero everywhere, so there is no gradient): this run maximises its activation before the ReLU instead.',
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
  const parts = [shown ? `${shown.layer} filter ${shown.filter}` : null, backendLabel()];
  if (message) {
    parts.push(message);
  } else if (last) {
    const ms = recentMillis.reduce((a, b) => a + b, 0) / recentMillis.length;
    parts.push(`step ${last.step}/${last.steps}`);
    parts.push(`${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms/step`);
    parts.push(`activation ${formatActivation(last.activation)}${last.preRelu ? ' (pre-ReLU)' : ''}${suffix}`);
  }
  $('status').textContent = parts.filter(Boolean).join(' · ');
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
writeHash();
drawPlot();
showStatus('loading the weights…');
run();
