// @ts-check
// The page: settings (controls and the link, through settings.js and the catalog), the worker that computes, the
// status line and the activation plot. All computing happens in worker.js; this thread only moves messages and
// draws, so the sliders stay responsive. Messages both ways are typed in protocol.js.

import { isolate } from './isolation.js';
import {
  GRIDS,
  LANDING,
  SIZES,
  appliesTo,
  channels,
  cropSide,
  ignoredNotice,
  layersOf,
  maxCrops,
  maxSize,
  modelOf,
  parseLink,
  preset,
  threadsFor,
  toLink,
  toRequest,
} from './settings.js';

/** @typedef {import('./protocol.js').Catalog} Catalog */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').ToWorker} ToWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').Fallback} Fallback */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */
/** @typedef {import('./protocol.js').Started} Started */
/** @typedef {import('./protocol.js').StepReply} StepReply */
/** @typedef {import('./settings.js').Settings} Settings */

const BACKEND_NAMES = { wgpu: 'WebGPU', flex: 'Flex (CPU)', ndarray: 'ndarray (CPU)' };
const RESTART_DELAY_MS = 250;
/** The worker's last messages kept for diagnostics (and the tests): a ring, so an hour-long run stays bounded. */
const EVENTS_KEPT = 500;
const RUNS_KEPT = 50;

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
/** @param {string} id */
const select = (id) => /** @type {HTMLSelectElement} */ (document.getElementById(id));
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// First visit on a host without isolation headers: the page reloads, isolated (isolation.js), before it does
// anything else, so this module goes no further.
if (await isolate()) await new Promise(() => {});

/** @type {Catalog} */
const catalog = await fetch(new URL('./catalog.json', import.meta.url)).then((r) => {
  if (!r.ok) throw new Error(`catalog.json is missing (HTTP ${r.status})`);
  return r.json();
});

/** Whether a batch is several pictures of one filter (a grid with diversity). @param {number[]} filters */
const onePictured = (filters) => filters.length > 1 && filters.every((f) => f === filters[0]);

/** @param {number[]} values */
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/** How many pictures a run makes. @param {RunRequest} request */
const picturesOf = (request) => request.filters?.length || request.expressions?.length || 0;

/** What a run shows, for the status line: `VGG16 conv3_2 filter 0`, `VGG16 conv4_3:20 + 0.5*conv4_3:33`, or an
 *  interpolation's first and last objectives. @param {RunRequest} request */
const describeRun = ({ model = 'vgg16', layer = '', filters = [], expressions = [] }) => {
  const title = modelOf(catalog, model).title;
  if (!expressions.length) return `${title} ${describeFilters(layer, filters)}`;
  const [first, last] = [expressions[0], /** @type {string} */ (expressions.at(-1))];
  if (first === last) return `${title} ${first}${expressions.length > 1 ? `, ${expressions.length} pictures` : ''}`;
  return `${title} ${expressions.length} pictures from ${first} to ${last}`;
};
/** @param {string} layer @param {number[]} filters */
const describeFilters = (layer, filters) =>
  filters.length === 1
    ? `${layer} filter ${filters[0]}`
    : onePictured(filters)
      ? `${layer} filter ${filters[0]}, ${filters.length} diverse pictures`
      : `${layer} filters ${filters[0]}–${filters.at(-1)}`;

// ---------------------------------------------------------------- settings <-> link

/** @type {Settings} */
let settings;

/** Reads the page's link into `settings` (no link: the landing run). A fresh load and every change of the link on
 *  the page (an example, Back and Forward, a pasted link) come through here, so the controls are rebuilt the same
 *  way. */
function readLink() {
  const { settings: fromLink, ignored } = parseLink(catalog, location.hash.length > 1 ? location.hash : LANDING);
  settings = fromLink;
  clearNotes('link');
  if (ignored.length) note(ignoredNotice(ignored), 'warn', 'link');
}
readLink();

/** The last new history entry: what made it, and when (a drag of the layer slider makes one entry, not one a
 *  layer). */
let pushed = { by: '', at: -Infinity };
const PUSH_COALESCE_MS = 1000;

/** Writes `settings` into the link: a new history entry where the visitor went somewhere (`push` names what took
 *  them: another layer or network, a tile opened), so Back returns there; else in place.
 *  @param {{ push?: string }} [options] */
function writeHash({ push = '' } = {}) {
  const link = toLink(catalog, settings);
  if (link === location.hash) return;
  const now = performance.now();
  if (push && (push !== pushed.by || now - pushed.at > PUSH_COALESCE_MS)) history.pushState(null, '', link);
  else history.replaceState(null, '', link);
  if (push) pushed = { by: push, at: now };
}

// ---------------------------------------------------------------- controls

/** Every control bound to a setting: `data-field` names it (a request field from the catalog, or the page's
 *  `filter`, `grid` and `backend`). */
const controls = /** @type {(HTMLInputElement | HTMLSelectElement)[]} */ ([...document.querySelectorAll('[data-field]')]);
const fieldOf = (name) => catalog.fields.find((f) => f.name === name);

for (const size of SIZES) select('size').add(new Option(`${size} px`, String(size)));
/** What the Show menu offers: with diversity, a grid is that many pictures of the one filter. @param {number} grid */
const showLabel = (grid) => {
  const what = settings?.expressions ? 'this objective' : 'this filter';
  if (grid === 1) return what;
  if (settings?.expressions) return `${grid} ${Number(settings.diversity) > 0 ? 'different ' : ''}pictures of this objective`;
  if (Number(settings?.diversity) > 0) return `${grid} different pictures of this filter`;
  return settings?.towards >= 0 ? `${grid} pictures from this filter to filter ${settings.towards}` : `a grid of ${grid} filters from this one`;
};
for (const grid of GRIDS) select('grid').add(new Option(showLabel(grid), String(grid)));
for (const model of catalog.models) select('model').add(new Option(model.title, model.name));
/** The layer slider's stops and the layer menu: the chosen network's layers. */
function showLayers() {
  const layers = layersOf(catalog, settings);
  select('layer-name').replaceChildren(...layers.map((l) => new Option(`${l.name} (${l.channels})`, l.name)));
  $('layer-stops').replaceChildren(...layers.map((l, i) => new Option(l.name, String(i))));
  input('layer').max = String(layers.length - 1);
}
showLayers();
for (const control of controls) {
  const field = fieldOf(control.dataset.field);
  if (control instanceof HTMLInputElement && control.type === 'number' && field && (field.kind === 'integer' || field.kind === 'number')) {
    control.min = String(field.min);
    control.max = String(field.max);
  }
}

/** A slider whose value is the log10 of its setting's (`data-scale="log"`). @param {HTMLInputElement | HTMLSelectElement} control */
const isLogSlider = (control) => control.type === 'range' && control.dataset.scale === 'log';

/** The value a control shows for its setting. @param {HTMLInputElement | HTMLSelectElement} control */
function shown(control) {
  const name = /** @type {string} */ (control.dataset.field);
  if (name === 'layer' && control.type === 'range') return String(layersOf(catalog, settings).findIndex((l) => l.name === settings.layer));
  if (isLogSlider(control)) return String(Math.log10(Number(settings[name])));
  if (name === 'towards' && settings.towards < 0) return control.type === 'range' ? '0' : '';
  return String(settings[name]);
}

/** Puts `settings` into the controls. */
function showSettings() {
  const maxFilter = channels(catalog, settings) - 1;
  for (const el of [input('filter'), input('filter-n'), input('towards'), input('towards-n')]) el.max = String(maxFilter);
  for (const control of controls) {
    if (control instanceof HTMLInputElement && control.type === 'checkbox') control.checked = Boolean(settings[control.dataset.field]);
    else if (control instanceof HTMLInputElement && control.type === 'range') {
      // A value outside the slider's range (a seed of 5000, say) leaves the slider at its end.
      control.value = String(clamp(Number(shown(control)), Number(control.min), Number(control.max)));
      // What a screen reader says of the slider: the layer's name, not its index; a seed beyond the slider's end.
      const text = control.dataset.field === 'layer' ? settings.layer : isLogSlider(control) ? String(settings[control.dataset.field]) : shown(control);
      if (text === control.value) control.removeAttribute('aria-valuetext');
      else control.setAttribute('aria-valuetext', text);
    } else control.value = shown(control);
    const field = fieldOf(control.dataset.field);
    const row = control.closest('.row');
    // Diversity pushes a grid's pictures apart: there is nothing to push with one.
    // Accentuation pulls toward a picture of your own: there is none to pull toward from noise (nor in maco mode,
    // which starts from noise).
    if (field && row instanceof HTMLElement) {
      row.hidden =
        !appliesTo(field, settings.mode) ||
        (field.name === 'diversity' && settings.grid === 1) ||
        (field.name === 'accentuate' && (!startImage || settings.mode === 'maco'));
    }
  }
  $('row-towards').hidden = settings.grid === 1 || Number(settings.diversity) > 0 || Boolean(settings.expressions);
  // An expression replaces the layer, the filter and the objective's kind (not before ReLU, nor minimise): those
  // stay, out of use.
  for (const id of ['row-layer', 'row-filter', 'objective']) $(id).classList.toggle('unused', Boolean(settings.expressions));
  for (const option of select('size').options) option.disabled = Number(option.value) > maxSize(settings.grid);
  for (const option of select('grid').options) {
    option.text = showLabel(Number(option.value));
    option.disabled = settings.mode === 'maco' && maxCrops(Number(option.value)) < 1;
  }
  $('view').classList.toggle('grid', settings.grid > 1);
  $('frame').classList.toggle('transparent', settings.transparency);
}

/** A setting changed: keep the controls and the link in step and restart the run shortly (drags coalesce); `push`
 *  (what changed) makes the link a new history entry. The notices about earlier input and the link go: they no
 *  longer apply. */
function changed({ restart = true, push = '' } = {}) {
  clearNotes('link');
  if (settings.mode === 'maco') {
    // MACO's crops multiply a step's work by the grid: the page keeps tiles × crops within MAX_VIEWS.
    if (maxCrops(settings.grid) < 1) {
      const grid = Math.max(...GRIDS.filter((g) => maxCrops(g) >= 1));
      note(`maco mode shows at most ${grid} tiles here: ${settings.grid} → ${grid}.`, 'info', 'input');
      settings.grid = grid;
    }
    if (Number(settings.crops) > maxCrops(settings.grid)) {
      const crops = maxCrops(settings.grid);
      note(`crops ${settings.crops} → ${crops}: a grid of ${settings.grid} takes at most ${crops} a step here (each crop is a pass through the network for every tile).`, 'info', 'input');
      settings.crops = crops;
    }
  }
  settings.filter = Math.min(settings.filter, channels(catalog, settings) - 1);
  settings.towards = Math.min(settings.towards, channels(catalog, settings) - 1);
  settings.size = Math.min(settings.size, maxSize(settings.grid));
  clearNotes('copy');
  showSettings();
  writeHash({ push });
  if (restart) scheduleRun();
}

/** The value a control holds for its setting, or why it cannot be used (then the control shows the old value).
 *  @param {HTMLInputElement | HTMLSelectElement} control @returns {{ value: any, note?: string } | null} */
function readControl(control) {
  const name = /** @type {string} */ (control.dataset.field);
  if (control instanceof HTMLInputElement && control.type === 'checkbox') return { value: control.checked };
  if (name === 'layer') {
    return { value: control.type === 'range' ? layersOf(catalog, settings)[Number(control.value)].name : control.value };
  }
  if (name === 'mode' || name === 'model' || name === 'backend' || name === 'objective') return { value: control.value };
  if (name === 'expressions') return { value: control.value.trim() };
  if (name === 'towards' && control.value.trim() === '') return { value: -1 };
  // A logarithmic slider's rate, to two significant digits (10^-1.3 is 0.05, not 0.0501187).
  const v = isLogSlider(control) ? Number((10 ** Number(control.value)).toPrecision(2)) : Number(control.value);
  if (control.value.trim() === '' || !Number.isFinite(v)) return null;
  const field = fieldOf(name);
  const integer = name !== 'stepSize' && name !== 'lr';
  const [lo, hi] =
    name === 'filter' || name === 'towards' ? [0, channels(catalog, settings) - 1] : field && 'min' in field ? [field.min, field.max] : [-Infinity, Infinity];
  const value = clamp(integer ? Math.round(v) : v, lo, hi);
  if (value === v) return { value };
  const why = name === 'filter' || name === 'towards' ? `${settings.layer} has ${hi + 1} filters` : `allowed: ${lo} to ${hi}`;
  return { value, note: `${name} ${control.value} → ${value}: ${why}` };
}

for (const control of controls) {
  const name = /** @type {string} */ (control.dataset.field);
  // Sliders act while they move; number boxes when the value is complete (Enter, or leaving the box), so typing
  // "300" never runs 3 and 30 on the way.
  const event = control instanceof HTMLInputElement && control.type === 'range' ? 'input' : 'change';
  control.addEventListener(event, () => {
    const read = readControl(control);
    if (!read) return showSettings();
    clearNotes('input');
    if (read.note) note(read.note, 'info', 'input');
    if (name === 'mode') return switchMode(read.value);
    settings[name] = read.value;
    if (name === 'model') {
      // Another network: its own first layer, the filter kept where the layer has it (changed() clamps it).
      settings.layer = modelOf(catalog, settings.model).defaultLayer;
      showLayers();
    }
    if (name === 'transparency') {
      changed({ restart: false });
      return post({ type: 'transparency', on: settings.transparency });
    }
    if (name === 'backend') {
      changed({ restart: false });
      moveBackend();
      if (current?.last && !current.last.done) {
        showStatus(`switching to ${BACKEND_NAMES[settings.backend] ?? 'the best backend'} after the current step…`);
      }
      return scheduleRun();
    }
    changed({ push: name === 'layer' || name === 'model' ? name : '' });
  });
}

/** A new mode takes its preset (each mode has its own scale of steps, size and jitter), and says what changed.
 *  @param {string} mode */
function switchMode(mode) {
  const next = { ...preset(catalog, mode) };
  next.size = Math.min(next.size, maxSize(settings.grid));
  const moved = Object.entries(next)
    .filter(([key, value]) => key in settings && settings[key] !== value && fieldOf(key) && appliesTo(fieldOf(key), settings.mode))
    .map(([key, value]) => `${key} ${settings[key]} → ${value}`);
  Object.assign(settings, next, { mode });
  if (moved.length) note(`${mode} mode takes its usual settings: ${moved.join(', ')}.`, 'info', 'input');
  changed();
}

// A link changed on the page: everything follows it as on a fresh load, the worker's own settings included.
window.addEventListener('hashchange', () => {
  const { backend, transparency } = settings;
  readLink();
  showLayers();
  showSettings();
  writeHash();
  if (settings.backend !== backend) moveBackend();
  if (settings.transparency !== transparency) post({ type: 'transparency', on: settings.transparency });
  run();
});

// The controls never submit (Enter in a number box applies it); no inline handler, as the page's policy has none.
$('controls').addEventListener('submit', (e) => e.preventDefault());
$('start').addEventListener('click', () => run());
$('stop').addEventListener('click', () => stop());
$('continue').addEventListener('click', () => {
  const last = current?.last;
  if (!current || !last || !(last.done || current.stopped)) return;
  // A stopped run goes on to its end; a finished one takes as many steps again, and the link says the new total:
  // the same picture as a run of that many steps (src/ascent.rs `extend`).
  const more = last.done ? current.chunk : 0;
  post({ type: 'continue', id: current.id, steps: more });
  current.stopped = false;
  if (more) {
    current.continued = true;
    settings.steps = last.steps + more;
    showSettings();
    writeHash();
  }
  showContinue();
  showStatus(more ? `continuing for ${more} more steps…` : `continuing from step ${last.step}…`);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !e.defaultPrevented) stop();
});
$('copy').addEventListener('click', async () => {
  writeHash();
  const link = input('link');
  link.value = location.href;
  try {
    await navigator.clipboard.writeText(location.href);
    note(`Link copied: it restores these settings (same seed and backend, same picture)${linkCaveats()}.`, 'info', 'copy');
  } catch {
    link.hidden = false;
    link.select();
    note(`Copy the link from the box below the buttons${linkCaveats()}.`, 'info', 'copy');
  }
});
/** What a link cannot carry of the picture on screen. */
const linkCaveats = () =>
  [
    startImage ? 'it does not carry your starting picture, so opened elsewhere it starts from noise' : '',
    // Maco's crops shrink over the run's length (src/transform.rs), so steps taken before a Continue saw others.
    current?.continued && current.request.mode === 'maco'
      ? `this maco run was continued, and a run of ${settings.steps} steps shrinks its crops over all of them: a similar picture, not the same`
      : '',
  ]
    .filter(Boolean)
    .map((caveat) => `; ${caveat}`)
    .join('');
/** @param {import('./protocol.js').Export} what */
const exportPicture = (what) => {
  exportId += 1;
  post({ type: 'export', id: exportId, what });
};
$('download').addEventListener('click', () => exportPicture('picture'));
$('download-animation').addEventListener('click', () => exportPicture('animation'));
$('retry').addEventListener('click', retryWeights);

// ---------------------------------------------------------------- the worker

/** The picture's canvas: its drawing belongs to the worker, so a new worker gets a new canvas. */
let canvas = /** @type {HTMLCanvasElement} */ ($('view'));
/** @type {Worker} */
let worker;
/** @param {ToWorker} message @param {Transferable[]} [transfer] */
const post = (message, transfer = []) => worker.postMessage(message, transfer);
/** When the worker was restarted after a crash, for the limit on restarts. @type {number[]} */
const crashRestarts = [];

/** Starts the compute worker and hands it the canvas (a fresh one after the first: a canvas's drawing can be handed
 *  over only once). @param {{ crashed: boolean }} why */
function startWorker({ crashed }) {
  if (worker) {
    worker.terminate();
    const fresh = /** @type {HTMLCanvasElement} */ (canvas.cloneNode(false));
    canvas.replaceWith(fresh);
    canvas = fresh;
  }
  if (crashed) crashRestarts.push(performance.now());
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (e) => workerCrashed(e.message || 'an error the worker did not catch');
  const offscreen = canvas.transferControlToOffscreen();
  const threads = threadsFor(settings, navigator.hardwareConcurrency || 1);
  post({ type: 'init', canvas: offscreen, backend: settings.backend, threads, model: settings.model, transparency: settings.transparency }, [offscreen]);
}

/** Moves the computation to `settings.backend`; the run starts again there. */
function moveBackend() {
  clearNotes('backend');
  post({ type: 'backend', backend: settings.backend });
}

/** The backend asked for runs in the other build of the program (WebGPU, or Flex on every core: worker.js): a fresh
 *  worker loads it, with the starting picture if there is one, and the run starts again. */
async function changeBuild() {
  weightsReady = false;
  weightsIn = null;
  backendInfo = null;
  startWorker({ crashed: false });
  if (startImage) {
    const bitmap = await createImageBitmap(await (await fetch(startImage.url)).blob());
    post({ type: 'start-image', bitmap }, [bitmap]);
  }
  run();
}

/** The worker died or its WebAssembly can no longer be trusted (a trap): start a new one (the weights come from
 *  Cache Storage) and the current run again, and say so. Three crashes within a minute end the retries. */
function workerCrashed(reason) {
  const recent = crashRestarts.filter((t) => performance.now() - t < 60_000);
  if (recent.length >= 2) {
    showError(`The computation keeps stopping unexpectedly (${reason}). Reload the page to try again.`, { kind: 'worker' });
    return;
  }
  weightsReady = false;
  weightsIn = null;
  backendInfo = null;
  startWorker({ crashed: true });
  if (startImage) {
    // The starting picture went with the old worker: start from noise, and say so.
    URL.revokeObjectURL(startImage.url);
    startImage = null;
    showStartImage();
  }
  note(`The computation stopped unexpectedly (${reason}); it was restarted, and the run started again.`, 'warn', 'page');
  run();
}

/**
 * The run on screen: what was asked, where its tiles are, and what it reported. Replaced by each new run.
 * @typedef {object} Run
 * @property {number} id
 * @property {RunRequest} request
 * @property {boolean} fromImage
 * @property {number} requestedAt
 * @property {number | null} firstStepAt
 * @property {number | null} firstStepSinceStart
 * @property {Started | null} layout
 * @property {(StepReply & { activation: number }) | null} last
 * @property {number[]} activations   the objective per step, on the step's (transformed) views
 * @property {{ step: number, value: number }[]} yardstick  where the steps see transformed views: the pictures'
 *                                    own activation, untransformed, on the steps where the worker measures it
 * @property {number[]} recentMillis  the last ten steps' times, for the ms/step shown
 * @property {number | null} msPerStep  the run's pace, smoothed, from its second step
 * @property {number} measured        steps that went into it
 * @property {number} chunk           the steps Continue adds to a finished run: the run's own count
 * @property {boolean} stopped        stopped before its end (Continue resumes it)
 * @property {boolean} continued      carried on past its first end
 * @property {string | null} error    why the run was refused or failed, as the status says it
 */

/** @type {Run | null} */
let current = null;
let runId = 0;
let restartTimer = 0;
/** @type {BackendInfo | null} */
let backendInfo = null;
/** How many threads Flex runs on (the worker's `cpu` message: more than one in the threaded build). */
let cpuThreads = 1;
let weightsReady = false;
let weightsFailed = false;
/** The latest weights in: how many bytes, from where, up to which layer. @type {Extract<FromWorker, { type: 'weights', phase: 'ready' }> | null} */
let weightsIn = null;
/** The deeper layers downloading in the background, once the first ones are in. @type {{ loaded: number, total: number } | null} */
let deeper = null;
/** A Stop was asked for and the worker has not confirmed it yet. */
let stopping = false;
/** Bytes of the program (wasm) and the weights so far, for the one download bar. */
const download = { program: { loaded: 0, total: 0 }, weights: { loaded: 0, total: 0, source: 'network', layer: '', title: '' } };
let exportId = 0;
/** The user's starting picture, while runs start from it. @type {{ name: string, width: number, height: number, url: string } | null} */
let startImage = null;
/** Timings for the tests and the benchmarks; `runs` keeps the last RUNS_KEPT runs' requests and first steps. */
const metrics = {
  firstPaintSinceLoad: /** @type {number | null} */ (null),
  weights: /** @type {{ source: string, millis: number, bytes: number } | null} */ (null),
  /** @type {Pick<Run, 'id' | 'request' | 'fromImage' | 'requestedAt' | 'firstStepAt' | 'firstStepSinceStart'>[]} */
  runs: [],
  /** @type {{ name: string, bytes: number }[]} */
  exports: [],
};
/** @type {FromWorker[]} */
const events = [];

function scheduleRun() {
  clearTimeout(restartTimer);
  restartTimer = window.setTimeout(run, RESTART_DELAY_MS);
}

function run() {
  clearTimeout(restartTimer);
  runId += 1;
  const request = toRequest(catalog, settings);
  // MACO's phase cannot hold a picture with another spectrum: maco mode starts from noise, the picture kept.
  const fromImage = startImage !== null && request.mode !== 'maco';
  // Accentuation pulls toward a starting picture: from noise there is none (the link keeps the setting).
  if (!fromImage) request.accentuate = 0;
  current = {
    id: runId, request, fromImage, requestedAt: performance.now(), firstStepAt: null,
    firstStepSinceStart: null, layout: null, last: null, activations: [], yardstick: [], recentMillis: [], msPerStep: null, measured: 0,
    chunk: request.steps ?? 1, stopped: false, continued: false, error: null,
  };
  metrics.runs.push(current);
  if (metrics.runs.length > RUNS_KEPT) metrics.runs.shift();
  clearNotes('run');
  hideError(); // a picture or export error belongs to what came before
  markInvalid(null);
  if (startImage && !fromImage) note('maco mode starts from noise (its phase keeps ImageNet\'s spectrum, which your picture does not have); your picture is kept for classic and lucid.', 'info', 'run');
  stopping = false;
  showContinue();
  $('plot-value').textContent = '';
  post({ type: 'run', id: runId, request, fromImage: current.fromImage });
  drawPlot();
  showStatus(weightsReady ? starting(request) : weightsFailed ? 'no weights: nothing to run' : 'waiting for the download…');
}

/** The status before a run's first step: how long it will take, where that is known. @param {RunRequest} request
 *  @param {string} [doing] what happens first */
function starting(request, doing = 'starting…') {
  const estimate = estimateMillis(request);
  return estimate === null ? doing : `${doing} (${request.steps} steps take ${duration(estimate * (request.steps ?? 1))} on this backend, roughly)`;
}

/** Stops the run after its current step (on a slow backend that takes a while: the status says so until the
 *  worker confirms); Continue resumes it. */
function stop() {
  clearTimeout(restartTimer);
  if (!current || current.last?.done || current.stopped) return;
  stopping = true;
  post({ type: 'stop', id: runId });
  showStatus('stopping: finishing the current step…');
}

/** Continue, where the run can go on: a finished run by as many steps again, a stopped one to its end. */
function showContinue() {
  const last = current?.last;
  const button = $('continue');
  button.hidden = !current || !last || !(last.done || current.stopped);
  if (button.hidden || !current || !last) return;
  button.textContent = last.done ? `Continue (+${current.chunk} steps)` : `Continue (to step ${last.steps})`;
}

/** Answers the page is waiting for (snapshots, stats), by request id. @type {Map<number, (m: any) => void>} */
const waiting = new Map();
let askId = 0;

/** Asks the worker for something it answers by id. @param {'snapshot' | 'stats'} type */
function ask(type) {
  askId += 1;
  const id = askId;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    post({ type, id });
  });
}

/** @param {Extract<FromWorker, { type: 'stats' }>} m */
function onStats(m) {
  const resolve = waiting.get(m.id);
  waiting.delete(m.id);
  resolve?.({ wasmBytes: m.wasmBytes, posted: m.posted, pending: m.pending, events: events.length });
}

/** @param {MessageEvent<FromWorker>} event */
function onWorkerMessage({ data: m }) {
  if (m.type === 'stats') return onStats(m);
  events.push(m.type === 'snapshot' ? { ...m, data: null } : m);
  if (events.length > EVENTS_KEPT) events.shift();
  switch (m.type) {
    case 'weights':
      return onWeights(m);
    case 'insecure':
      return note(
        'This page comes over plain http from another host, where browsers offer neither WebGPU nor a cache for ' +
          'the weights: it runs on the CPU and downloads the weights on every visit. Serve it over https (or open it ' +
          'on localhost) for both.',
        'warn',
        'page',
      );
    case 'backend':
      backendInfo = m.info;
      if (m.info.fallback) note(fallbackSentence(m.info), m.info.fallback.kind === 'softwareAdapter' ? 'info' : 'warn', 'backend');
      // A backend chosen before the first step (a link's, say) keeps the run's estimate, now for this backend.
      return showStatus(current?.last ? null : weightsReady && current ? starting(current.request) : 'loading the weights…');
    case 'program':
      return onProgram(m);
    case 'cpu':
      cpuThreads = m.threads;
      return;
    case 'other-build':
      return changeBuild();
    case 'started':
      if (current && m.id === current.id) {
        current.layout = m.layout;
        focusedTile = Math.min(focusedTile, m.layout.tiles.length - 1);
        fitPicture();
        describePicture();
      }
      return;
    case 'step':
      return onStep(m);
    case 'done':
      if (m.id === runId) {
        showStatus(null, ' · done');
        showContinue();
      }
      return;
    case 'stopped':
      if (current && m.id === runId && stopping) {
        stopping = false;
        current.stopped = Boolean(current.last);
        const last = current.last;
        showStatus(last ? `stopped at step ${last.step}/${last.steps}` : 'stopped');
        showContinue();
      }
      return;
    case 'error':
      return onRunError(m);
    case 'png':
      return onPng(m);
    case 'tile':
      if (m.filter !== null) {
        settings.filter = m.filter;
        settings.grid = 1; // same seed and size: the single run paints exactly the tile that was clicked
        changed({ push: 'tile' });
      }
      return;
    case 'snapshot': {
      const resolve = waiting.get(m.id);
      waiting.delete(m.id);
      return resolve?.(m);
    }
    case 'crashed':
      return workerCrashed(m.message);
    default:
      return;
  }
}
startWorker({ crashed: false });

/** What the page says when the backend is not WebGPU although WebGPU (or auto) was asked for. @param {BackendInfo} info */
function fallbackSentence(info) {
  const fallback = /** @type {Fallback} */ (info.fallback);
  if (fallback.kind === 'softwareAdapter') {
    const name = info.adapter?.name ? ` (${info.adapter.name})` : '';
    return `Running on Flex (CPU): this browser's WebGPU${name} draws in software, which is slower than the CPU path. Choose WebGPU under Backend to use it anyway.`;
  }
  const why =
    fallback.kind === 'noAdapter'
      ? 'this browser offers no WebGPU adapter'
      : fallback.kind === 'initFailed'
        ? `WebGPU did not start (${fallback.reason})`
        : 'the WebGPU device was lost';
  if (fallback.kind === 'deviceLost' && current?.last) {
    return `WebGPU stopped working (${why}, or a result could not be read back); carrying on with Flex (CPU) from step ${current.last.step}, the last picture painted.`;
  }
  return info.requested === 'auto'
    ? `Running on Flex (CPU): ${why}.`
    : `WebGPU was asked for, but ${why}; running on Flex (CPU) instead.`;
}

/** One bar for everything the first picture needs: the program (wasm) and the weights. */
function showDownload() {
  const bar = /** @type {HTMLProgressElement} */ ($('weights-progress'));
  const { program, weights } = download;
  const total = program.total + weights.total;
  bar.max = Math.max(total, 1);
  bar.value = program.loaded + weights.loaded;
  const part = (name, p) => (p.total ? `${name} ${mb(p.loaded)} / ${mb(p.total)}` : p.loaded ? `${name} ${mb(p.loaded)}` : `${name} …`);
  const weightsPart = weights.source === 'cache' ? `weights from the browser's cache (${mb(weights.total)})` : part('weights', weights);
  // After a first picture the program is in: a deeper layer's wait is for its weights alone.
  $('weights-text').textContent = weightsIn ? `${weights.title} weights up to ${weights.layer}: ${weightsPart}` : `${part('program', program)} · ${weightsPart}`;
}

/** @param {Extract<FromWorker, { type: 'program' }>} m */
function onProgram(m) {
  download.program = { loaded: m.loaded, total: m.total };
  if (!weightsReady && !weightsFailed) showDownload();
}

/** What the weights line says once weights are in: how many, from where, and what else is coming. */
const weightsLine = () => {
  if (!weightsIn) return '';
  const { bytes, source, model, layer, complete } = weightsIn;
  const which = `${modelOf(catalog, model).title} weights${complete ? '' : ` up to ${layer}`}`;
  const rest = deeper ? ` · all layers ${mb(deeper.loaded)} / ${mb(deeper.total)}` : complete ? '' : ' · the deeper layers follow';
  return `${which} ${mb(bytes)} ${source === 'cache' ? 'from cache' : 'downloaded'}, SHA-256 checked${rest}`;
};

/** @param {Extract<FromWorker, { type: 'weights' }>} m */
function onWeights(m) {
  const bar = /** @type {HTMLProgressElement} */ ($('weights-progress'));
  if (m.phase === 'progress' && m.background) {
    // The deeper layers, after the first picture: news in the weights line, not a wait.
    deeper = m.loaded < m.total ? { loaded: m.loaded, total: m.total } : null;
    $('weights-text').textContent = weightsLine();
  } else if (m.phase === 'progress') {
    download.weights = { loaded: m.loaded, total: m.total, source: m.source, layer: m.layer, title: modelOf(catalog, m.model).title };
    if (weightsReady) {
      // A run on a deeper layer waits for its weights: the bar counts them.
      weightsReady = false;
      download.program = { loaded: 0, total: 0 };
      $('weights').classList.remove('ready');
      showStatus(current ? starting(current.request, `loading the weights up to ${m.layer}…`) : `loading the weights up to ${m.layer}…`);
    }
    showDownload();
  } else if (m.phase === 'ready') {
    weightsReady = true;
    deeper = null;
    weightsIn = m;
    metrics.weights ??= { source: m.source, millis: m.millis, bytes: m.bytes };
    bar.max = 1;
    bar.value = 1;
    $('weights-text').textContent = weightsLine();
    $('weights').classList.add('ready');
    if (current && !current.last) showStatus(starting(current.request));
  } else {
    weightsFailed = true;
    $('weights-text').textContent = 'not loaded';
    $('weights').classList.add('failed');
    showWeightsError(m.message);
    showStatus('no weights: nothing to run');
  }
}

// ---------------------------------------------------------------- how long a run takes

/** Multiply-adds of one forward pass of a `size`-pixel image through `model` up to `layer` (the backward pass
 *  costs about twice). @param {string} model @param {string} layer @param {number} size */
function forwardCost(model, layer, size) {
  let cost = 0;
  let side = size;
  for (const l of modelOf(catalog, model).layers) {
    if (l.poolBefore) side = Math.floor((side - l.poolBefore.kernel) / l.poolBefore.stride) + 1;
    side = Math.floor((side + 2 * l.padding - l.kernel) / l.stride) + 1;
    cost += l.inChannels * l.channels * l.kernel * l.kernel * side * side;
    if (l.name === layer) break;
  }
  return cost;
}

/** The work of one step of `request`: its images, through the layers, at the size the transforms make (lucid
 *  pads by 12 px and crops 8 to 12; maco sees `crops` crops of its preset's side). @param {RunRequest} request */
function stepCost(request) {
  const size = request.size ?? 128;
  const views = request.crops ?? 1;
  const transformed = request.mode === 'lucid' ? size + 16 : cropSide(catalog, request.mode) ?? size;
  const model = request.model ?? 'vgg16';
  // An expression's deepest layer is the core's to find: the network's last layer bounds it.
  const layer = request.layer ?? /** @type {import('./protocol.js').LayerSpec} */ (modelOf(catalog, model).layers.at(-1)).name;
  return picturesOf(request) * views * forwardCost(model, layer, transformed);
}

/** Steps' work per millisecond, per backend, as measured on this page (0: not yet; a guess made the first
 *  estimates swing by 3×). */
const pace = { flex: 0, ndarray: 0, wgpu: 0 };
/** A run's steps measured (after its first, which also compiles and warms up) before it says how long it has left. */
const STEPS_BEFORE_ESTIMATE = 3;
/** How much a new step's time moves the run's pace: smooth over about five steps (every 8th step also measures the
 *  whole picture, and a browser's timers jitter). */
const PACE_SMOOTHING = 0.2;

/** The expected milliseconds per step of `request` on the current backend, or null where nothing is known yet.
 *  @param {RunRequest} request */
function estimateMillis(request) {
  const backend = backendInfo?.backend ?? (settings.backend === 'auto' ? null : settings.backend);
  const rate = backend ? pace[backend] : 0;
  return rate ? stepCost(request) / rate : null;
}

/** "about 3 min": a duration as the status says it (a grid on the CPU can take an hour). @param {number} ms */
function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `about ${Math.max(s, 1)} s`;
  return s < 5400 ? `about ${Math.round(s / 60)} min` : `about ${(s / 3600).toFixed(1)} h`;
}

// ---------------------------------------------------------------- the picture on screen

/** Whether a grid too wide for its column shows at 1:1 (scrolling in its frame) rather than scaled down to fit. */
let actualSize = false;

/** Sizes the picture on screen. A grid that fits shows at a whole multiple of its size (pixelated scaling at other
 *  sizes drops pixel rows, and with them strokes of the captions); one too wide is scaled down smoothly to the
 *  column, or shown 1:1 (scrolling) on request; one image fills the column. On a narrow screen the picture stays on
 *  screen while the controls scroll under it, so it takes at most 42% of the height. Before a run's layout is known
 *  the picture takes the room one image of the run's size would, so the page does not jump when it comes. */
function fitPicture() {
  const size = settings.size;
  const layout = current?.layout ?? { width: size, height: size, tiles: [] };
  const column = /** @type {HTMLElement} */ ($('frame').parentElement).clientWidth || layout.width;
  const narrow = window.matchMedia('(max-width: 820px)').matches;
  const room = narrow ? Math.min(column, (window.innerHeight * 0.42 * layout.width) / layout.height) : column;
  const grid = layout.tiles.length > 1;
  const fits = layout.width <= room;
  const width = !grid
    ? Math.min(room, 4 * layout.width)
    : fits
      ? layout.width * Math.floor(room / layout.width)
      : actualSize
        ? layout.width
        : room;
  canvas.style.width = `${Math.floor(width)}px`;
  canvas.style.height = `${Math.floor((width * layout.height) / layout.width)}px`;
  $('frame').classList.toggle('smooth', width < layout.width);
  const toggle = $('actual-size');
  toggle.hidden = !grid || fits;
  toggle.setAttribute('aria-pressed', String(actualSize));
  placeTileFocus();
}
window.addEventListener('resize', fitPicture);
$('actual-size').addEventListener('click', () => {
  actualSize = !actualSize;
  fitPicture();
});

// On a narrow screen the picture and its status stay at the top while the controls scroll under them: the page
// keeps that much room at the top when it scrolls a control into view (Tab, Shift+Tab), so focus is never hidden,
// and a little at the bottom, so a control scrolled up from below is wholly on screen (not cut by a fraction of a
// pixel).
const sticky = /** @type {HTMLElement} */ (document.querySelector('.sticky'));
new ResizeObserver(() => {
  const stuck = getComputedStyle(sticky).position === 'sticky';
  document.documentElement.style.scrollPaddingTop = stuck ? `${Math.ceil(sticky.getBoundingClientRect().height) + 8}px` : '';
  document.documentElement.style.scrollPaddingBottom = stuck ? '8px' : '';
}).observe(sticky);

/** The tile the keyboard is on (arrow keys move it, Enter opens it). */
let focusedTile = 0;

function placeTileFocus() {
  const ring = $('tile-focus');
  const layout = current?.layout;
  const grid = layout && layout.tiles.length > 1;
  ring.hidden = !grid || document.activeElement !== canvas;
  if (!grid) return;
  const tile = layout.tiles[Math.min(focusedTile, layout.tiles.length - 1)];
  const scale = canvas.clientWidth / layout.width;
  Object.assign(ring.style, {
    left: `${tile.x * scale}px`, top: `${tile.y * scale}px`, width: `${tile.width * scale}px`, height: `${tile.height * scale}px`,
  });
}

// The canvas is replaced when the worker restarts: its events are heard on the frame around it.
$('frame').addEventListener('focusin', placeTileFocus);
$('frame').addEventListener('focusout', placeTileFocus);
$('frame').addEventListener('keydown', (e) => {
  const layout = current?.layout;
  if (!layout || layout.tiles.length < 2) return;
  const columns = layout.tiles.filter((t) => t.y === layout.tiles[0].y).length;
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
  if (e.key in moves) {
    focusedTile = clamp(focusedTile + moves[e.key], 0, layout.tiles.length - 1);
    placeTileFocus();
    describePicture();
    e.preventDefault();
  } else if (e.key === 'Enter' || e.key === ' ') {
    const tile = layout.tiles[focusedTile];
    post({ type: 'tile', x: tile.x + 1, y: tile.y + 1 });
    e.preventDefault();
  }
});

/** The canvas's text alternative: what it shows, and for a grid how to open a tile. */
function describePicture() {
  const run = current;
  if (!run) return;
  const { layer, filters = [], mode } = run.request;
  const step = run.last ? `, step ${run.last.step} of ${run.last.steps}` : '';
  const what = !filters.length
    ? `What ${describeRun(run.request)} responds to (${mode} mode${step})`
    : filters.length === 1
      ? `What filter ${filters[0]} of ${layer} responds to (${mode} mode${step})`
      : onePictured(filters)
        ? `${filters.length} different pictures of what filter ${filters[0]} of ${layer} responds to (${mode} mode${step})`
        : `A grid of what filters ${filters[0]} to ${filters.at(-1)} of ${layer} respond to (${mode} mode${step}); ` +
        `arrow keys choose a tile (now filter ${filters[Math.min(focusedTile, filters.length - 1)]}), Enter opens it`;
  canvas.setAttribute('aria-label', what);
}

/** Clicking a tile of a grid opens that filter on its own (the worker knows the tiles). */
$('frame').addEventListener('click', (e) => {
  const layout = current?.layout;
  if (!layout || layout.tiles.length < 2) return;
  const box = canvas.getBoundingClientRect();
  post({
    type: 'tile',
    x: ((e.clientX - box.left) * layout.width) / box.width,
    y: ((e.clientY - box.top) * layout.height) / box.height,
  });
});

// ---------------------------------------------------------------- starting from your own picture

/** Decodes `file` (here, so a bad file is refused at once) and hands the picture to the worker, which resizes it
 *  for every run until the user goes back to noise. @param {File | undefined} file */
async function useStartImage(file) {
  if (!file) return;
  let bitmap;
  try {
    if (file.type && !file.type.startsWith('image/')) throw new Error(`it is ${file.type}, not an image`);
    bitmap = await createImageBitmap(file);
  } catch (e) {
    const reason = String(e instanceof Error ? e.message : e).replace(/\.+$/, '');
    showError(`Could not use "${file.name}" as a starting picture: ${reason}. Nothing else changed.`, { kind: 'image' });
    return;
  }
  if (errorKind === 'image') hideError();
  if (startImage) URL.revokeObjectURL(startImage.url);
  startImage = { name: file.name, width: bitmap.width, height: bitmap.height, url: URL.createObjectURL(file) };
  post({ type: 'start-image', bitmap }, [bitmap]);
  showStartImage();
  run();
}

function useNoise() {
  if (!startImage) return;
  URL.revokeObjectURL(startImage.url);
  startImage = null;
  post({ type: 'start-image', bitmap: null });
  showStartImage();
  run();
}

function showStartImage() {
  const thumb = /** @type {HTMLImageElement} */ ($('start-thumb'));
  thumb.hidden = !startImage;
  $('noise').hidden = !startImage;
  showSettings();
  if (startImage) thumb.src = startImage.url;
  $('start-name').textContent = startImage
    ? `${startImage.name} (${startImage.width}×${startImage.height}, centre square)`
    : 'noise (from the seed)';
}

$('choose-image').addEventListener('click', () => input('image-file').click());
input('image-file').addEventListener('change', () => {
  useStartImage(input('image-file').files?.[0]);
  input('image-file').value = ''; // choosing the same file again still counts
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

/** @param {Extract<FromWorker, { type: 'png' }>} m */
function onPng(m) {
  if (m.id !== exportId) return;
  if ('error' in m) return showError(`Could not export the ${m.what}: ${m.error}`, { kind: 'export' });
  if (errorKind === 'export') hideError();
  const run = /** @type {Run} */ (current);
  const { model = 'vgg16', layer, filters = [], mode, seed } = run.request;
  const shownFilters = filters.length === 1 ? filters[0] : `${filters[0]}-${filters.at(-1)}`;
  const what = filters.length ? `${layer}-${shownFilters}` : 'objective';
  const stem = `filterlens-${model}-${what}-${mode}-seed${seed}${run.fromImage ? '-own-image' : ''}`;
  const name = m.what === 'animation' ? `${stem}-animation.png` : `${stem}-step${run.last?.step ?? 0}.png`;
  const a = document.createElement('a');
  // The bytes arrive in a transferred (never shared) buffer.
  a.href = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (m.bytes)], { type: 'image/png' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  metrics.exports.push({ name, bytes: m.bytes.byteLength });
}

/** @param {Extract<FromWorker, { type: 'step' }>} m */
function onStep(m) {
  if (!current || m.id !== runId) return; // a report from a run the user has since replaced or stopped
  const run = current;
  const activation = mean(m.activations);
  if (run.firstStepAt === null) {
    run.firstStepAt = performance.now();
    run.firstStepSinceStart = m.sinceStart;
    if (metrics.firstPaintSinceLoad === null) metrics.firstPaintSinceLoad = run.firstStepAt;
  }
  run.last = { ...m, activation };
  run.activations.push(activation);
  if (m.wholePicture) run.yardstick.push({ step: m.step, value: mean(m.wholePicture) });
  run.recentMillis.push(m.totalMillis);
  if (run.recentMillis.length > 10) run.recentMillis.shift();
  if (m.step > 1) {
    // The first step also compiles and warms up: the pace starts from the second.
    run.msPerStep = run.msPerStep === null ? m.totalMillis : run.msPerStep + PACE_SMOOTHING * (m.totalMillis - run.msPerStep);
    run.measured += 1;
    pace[m.backend] = stepCost(run.request) / run.msPerStep;
  }
  if (m.step === 1 || m.step % 10 === 0 || m.done) describePicture();
  if (m.switchedToPreRelu.length > 0 && !run.request.filters?.length) {
    const [n, start] = [m.switchedToPreRelu.length, run.fromImage ? 'starting picture' : 'starting noise'];
    note(
      `The objective is silent on the ${start} ${n === 1 && picturesOf(run.request) === 1 ? '' : `for ${n} of its pictures `}` +
        `(zero after the ReLU, so no gradient): ${n === 1 ? 'it maximises' : 'they maximise'} the activations before the ReLU instead.`,
      'warn',
      'run',
    );
  } else if (m.switchedToPreRelu.length > 0) {
    const { layer, filters = [] } = run.request;
    const silent = m.switchedToPreRelu.map((i) => filters[i]);
    const start = run.fromImage ? 'starting picture' : 'starting noise';
    note(
      silent.length === 1 && filters.length === 1
        ? `Filter ${silent[0]} of ${layer} is silent on the ${start} (its output after the ReLU is zero everywhere, so ` +
            'there is no gradient): this run maximises its activation before the ReLU instead.'
        : `Filter${silent.length > 1 ? 's' : ''} ${silent.join(', ')} of ${layer} ${silent.length > 1 ? 'are' : 'is'} silent ` +
            `on the ${start} (zero after the ReLU, so no gradient): ${silent.length > 1 ? 'those tiles maximise their' : 'that tile maximises its'} ` +
            'activation before the ReLU instead.',
      'warn',
      'run',
    );
  }
  showStatus(null);
  drawPlot();
}

// ---------------------------------------------------------------- status, notices, errors

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

function backendLabel() {
  if (!backendInfo) return null;
  if (backendInfo.backend === 'flex') return `Flex (CPU, ${cpuThreads} thread${cpuThreads === 1 ? '' : 's'})`;
  const name = BACKEND_NAMES[backendInfo.backend];
  const adapter = backendInfo.adapter;
  if (!adapter) return name;
  const described = [adapter.name, adapter.software ? 'software' : ''].filter(Boolean).join(', ');
  return described ? `${name} (${described})` : name;
}

/** A run the core refused (an expression that does not parse, say) or that failed: the status line says why, and
 *  the control of the field it is about is marked. @param {Extract<FromWorker, { type: 'error' }>} m */
function onRunError(m) {
  if (m.id !== runId) return; // a run the visitor has since replaced
  const control = controls.find((c) => c.dataset.field === m.field);
  const label = control && document.querySelector(`label[for="${control.id}"]`)?.textContent;
  if (current) current.error = label ? `${label} refused: ${m.message}` : `could not run: ${m.message}`;
  showStatus(null);
  markInvalid(m.field ?? null);
}

/** Marks the controls of `field` as holding what was refused (aria-invalid, an outline), and no other.
 *  @param {string | null} field */
function markInvalid(field) {
  for (const control of controls) {
    if (control.dataset.field === field) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-errormessage', 'status');
    } else {
      control.removeAttribute('aria-invalid');
      control.removeAttribute('aria-errormessage');
    }
  }
}

/** @param {string | null} message @param {string} [suffix] */
function showStatus(message, suffix = '') {
  // A refused run's reason stays until the next run: the weights arriving, say, do not cover it.
  if (current?.error) [message, suffix] = [current.error, ''];
  $('status').classList.toggle('failed', Boolean(current?.error));
  const last = current?.last;
  const parts = [last && current ? describeRun(current.request) : null, backendLabel()];
  if (message) {
    parts.push(message);
  } else if (last && current) {
    const ms = current.recentMillis.reduce((a, b) => a + b, 0) / current.recentMillis.length;
    parts.push(`step ${last.step}/${last.steps}`);
    parts.push(`${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms/step`);
    if (!suffix && last.step < last.steps) {
      const { msPerStep, measured } = current;
      parts.push(msPerStep === null || measured < STEPS_BEFORE_ESTIMATE ? 'estimating the time left…' : `${duration((last.steps - last.step) * msPerStep)} left`);
    }
    const grid = last.activations.length > 1;
    const preRelu = last.preRelu.length === 1 && last.preRelu[0] ? ' (pre-ReLU)' : '';
    const minimised = current.request.minimise ? ', minimised' : '';
    // Where the steps see transformed views, the picture's own activation: the value that means the same at every step.
    const whole = current.yardstick.at(-1);
    const value = whole ? `${formatActivation(whole.value)} (whole picture)` : formatActivation(last.activation);
    parts.push(`${grid ? 'mean activation' : 'activation'} ${value}${preRelu}${minimised}${suffix}`);
  }
  $('status').textContent = parts.filter(Boolean).join(' · ');
  // The status is a live region, and a run rewrites it at every step: while steps come in it is busy, so a screen
  // reader is not made to read ten lines a second; it speaks again when the run starts, ends, stops or waits.
  $('status').setAttribute('aria-busy', String(!message && !suffix && Boolean(last && !last.done)));
  // While a run goes on, Stop is the main action.
  const running = Boolean(current && !current.error && !current.stopped && !stopping && !weightsFailed && !current.last?.done);
  $('controls').classList.toggle('running', running);
}


/** @param {number} a */
const formatActivation = (a) => (Math.abs(a) >= 100 ? a.toFixed(1) : Math.abs(a) >= 1 ? a.toFixed(3) : a.toPrecision(3));

/** A notice under the picture; `group` lets a new run clear its predecessor's notices.
 *  @param {string} text @param {'info' | 'warn'} kind @param {string} group */
function note(text, kind, group) {
  const list = $('notices');
  for (const li of list.querySelectorAll(`li[data-group="${group}"]`)) if (li.textContent === text) return;
  if (group === 'copy' || group === 'input') clearNotes(group);
  const li = document.createElement('li');
  li.className = kind;
  li.dataset.group = group;
  li.textContent = text;
  list.append(li);
}

/** @param {string} group */
function clearNotes(group) {
  for (const li of $('notices').querySelectorAll(`li[data-group="${group}"]`)) li.remove();
}

/** @type {string | null} */
let errorKind = null;

/** An error about the picture, a run or an export (the weights have their own, with Retry).
 *  @param {string} message @param {{ kind?: string }} [options] */
function showError(message, { kind = 'page' } = {}) {
  errorKind = kind;
  $('error-text').textContent = message;
  $('error').hidden = false;
  $('status').setAttribute('aria-busy', 'false');
}

function hideError() {
  errorKind = null;
  $('error').hidden = true;
}

/** @param {string} message */
function showWeightsError(message) {
  $('weights-error-text').textContent = message;
  $('weights-error').hidden = false;
}

function retryWeights() {
  $('weights-error').hidden = true;
  weightsFailed = false;
  $('weights').classList.remove('failed');
  $('weights-text').textContent = 'retrying…';
  post({ type: 'retry-weights' });
}

// ---------------------------------------------------------------- the plot

/** The step under the pointer on the plot, or null. @type {number | null} */
let plotCursor = null;
const PLOT = { left: 46, right: 10, top: 8, bottom: 20 };
/** The least room between two labels of the value axis, pixels (11 px type). */
const LABEL_ROOM = 13;

/** What the plot shows of `run`: where the steps see transformed views, the pictures' own (untransformed)
 *  activation as the worker measured it; else each step's objective. @param {Run | null} run
 *  @returns {{ points: [number, number][], caption: string }} */
function plotted(run) {
  if (!run) return { points: [], caption: 'activation per step' };
  const pictures = picturesOf(run.request);
  const what = pictures > 1 ? `mean activation of the ${pictures} pictures` : 'activation';
  if (run.yardstick.length) {
    return {
      points: run.yardstick.map((p) => [p.step, p.value]),
      caption: `${what} as they are (untransformed), measured every few steps`,
    };
  }
  return { points: run.activations.map((v, i) => [i + 1, v]), caption: `${what} per step` };
}

/** The activation over the steps, with both axes ticked, zero marked, and the value at the pointer. */
function drawPlot() {
  const c = /** @type {HTMLCanvasElement} */ ($('plot'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
  const { width, height } = c;
  ctx.clearRect(0, 0, width, height);
  const { points, caption } = plotted(current);
  $('plot-caption').textContent = caption;
  const values = points.map(([, v]) => v);
  const steps = Math.max(current?.last?.steps ?? current?.request.steps ?? 1, 1);
  // The range always includes zero (a pre-ReLU objective can be negative).
  const lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (hi - lo < 1e-9) hi = lo + 1;
  const x = (step) => PLOT.left + ((width - PLOT.left - PLOT.right) * step) / steps;
  const y = (v) => height - PLOT.bottom - ((height - PLOT.top - PLOT.bottom) * (v - lo)) / (hi - lo);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#555';
  ctx.strokeStyle = '#d8d8d8';
  ctx.lineWidth = 1;
  // Axes: activation on the left (its range, and zero where it is apart from them), steps below.
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const ticks = lo < 0 ? [lo, hi, 0].filter((v, i) => i < 2 || Math.min(y(v) - y(hi), y(lo) - y(v)) >= LABEL_ROOM) : [0, hi];
  for (const v of ticks) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PLOT.left - 3, yy);
    ctx.lineTo(width - PLOT.right, yy);
    ctx.stroke();
    ctx.fillText(formatActivation(v), PLOT.left - 5, yy);
  }
  ctx.textBaseline = 'top';
  for (const step of [0, Math.round(steps / 2), steps]) {
    const xx = Math.round(x(step)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(xx, height - PLOT.bottom);
    ctx.lineTo(xx, height - PLOT.bottom + 3);
    ctx.stroke();
    // The last tick's label ends at its tick, inside the canvas.
    ctx.textAlign = step === steps ? 'right' : 'center';
    ctx.fillText(step === steps ? `${step} steps` : String(step), step === steps ? xx + 0.5 : xx, height - PLOT.bottom + 4);
  }
  const [first, last] = [points[0], points.at(-1)];
  c.setAttribute(
    'aria-label',
    first && last ? `${caption}: ${formatActivation(first[1])} at step ${first[0]}, ${formatActivation(last[1])} at step ${last[0]} of ${steps}` : caption,
  );
  if (!first || !last) return;
  ctx.strokeStyle = '#c2410c';
  ctx.lineWidth = 2;
  ctx.beginPath();
  points.forEach(([step, v], i) => (i === 0 ? ctx.moveTo(x(step), y(v)) : ctx.lineTo(x(step), y(v))));
  ctx.stroke();
  // The point at the pointer: the last one measured at or before its step.
  const atCursor = plotCursor === null ? null : points.filter(([step]) => step <= /** @type {number} */ (plotCursor)).at(-1);
  const shown = atCursor ?? last;
  if (atCursor) {
    ctx.fillStyle = '#c2410c';
    ctx.beginPath();
    ctx.arc(x(atCursor[0]), y(atCursor[1]), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  $('plot-value').textContent = ` · step ${shown[0]}: ${formatActivation(shown[1])}`;
}

const plotCanvas = /** @type {HTMLCanvasElement} */ ($('plot'));
plotCanvas.addEventListener('mousemove', (e) => {
  const box = plotCanvas.getBoundingClientRect();
  const steps = Math.max(current?.last?.steps ?? 1, 1);
  const px = ((e.clientX - box.left) * plotCanvas.width) / box.width;
  const step = Math.round(((px - PLOT.left) * steps) / (plotCanvas.width - PLOT.left - PLOT.right));
  plotCursor = clamp(step, 1, steps);
  drawPlot();
});
plotCanvas.addEventListener('mouseleave', () => {
  plotCursor = null;
  drawPlot();
});

// ---------------------------------------------------------------- start

/**
 * What the page shows to tests and the curious (read-only views, documented here and nowhere else):
 * `settings` (a copy), `runId` (the latest run's id), `run` (the latest run's request and first-step timing),
 * `events` (the worker's last EVENTS_KEPT messages), `metrics`, `catalog`, `snapshot()` (the canvas's exact RGBA
 * pixels, `{ width, height, step, run, data }`), `loseDevice()` (destroys the WebGPU device, as a driver reset
 * would, to exercise the fallback to Flex), `crashWorker()` (an uncaught trap in the worker, to exercise its
 * restart) and `stats()` (the wasm memory's size, the worker's messages posted and requests pending, the events
 * kept: for the soak test).
 */
Object.assign(window, {
  filterlens: {
    events,
    metrics,
    catalog,
    get settings() {
      return { ...settings };
    },
    get runId() {
      return runId;
    },
    get run() {
      return current && { id: current.id, request: current.request, fromImage: current.fromImage, layout: current.layout };
    },
    snapshot() {
      return ask('snapshot');
    },
    loseDevice() {
      post({ type: 'lose-device' });
    },
    crashWorker() {
      post({ type: 'crash' });
    },
    stats() {
      return ask('stats');
    },
  },
});

showSettings();
showStartImage();
writeHash();
drawPlot();
showStatus('loading the weights…');
run();
fitPicture();
