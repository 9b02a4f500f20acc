// @ts-check
// What the page says: the status line (what runs, where, how far, how long), the notices under the picture, the
// error box, the weights line and the download bar, and the sentences for a backend's fallback and a link's limits.
// Words only: the state they describe is the page's (state.js).

import { $ } from './dom.js';
import { timeLeft } from './estimate.js';
import { isOwn, modelOf, onePictured, picturesOf } from './settings.js';
import { POOL_START_MS } from './protocol.js';
import { duration, megabytes } from './units.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */

/** The notice for a page that comes over plain http from another host. */
export const INSECURE =
  'This page comes over plain http from another host, where browsers offer neither WebGPU nor a cache for the ' +
  'weights: it runs on the CPU and downloads the weights on every visit. Serve it over https (or open it on ' +
  'localhost) for both.';

const BACKEND_NAMES = { wgpu: 'WebGPU', flex: 'Flex (CPU)', ndarray: 'ndarray (CPU)' };

/** A backend (or `auto`) as the page names it. @param {string} choice */
export const backendName = (choice) => BACKEND_NAMES[/** @type {keyof BACKEND_NAMES} */ (choice)] ?? 'the best backend';

/** What a run shows, for the status line: `VGG16 conv3_2 filter 0`, `VGG16 conv4_3:20 + 0.5*conv4_3:33`, or an
 *  interpolation's first and last objectives. @param {PageState} page @param {RunRequest} request */
export function describeRun(page, { model = 'vgg16', layer = '', filters = [], expressions = [] }) {
  const title = modelOf(page.catalog, model).title;
  if (!expressions.length) return `${title} ${describeFilters(layer, filters)}`;
  const [first, last] = [expressions[0], /** @type {string} */ (expressions.at(-1))];
  if (first === last) return `${title} ${first}${expressions.length > 1 ? `, ${expressions.length} pictures` : ''}`;
  return `${title} ${expressions.length} pictures from ${first} to ${last}`;
}

/** @param {string} layer @param {number[]} filters */
const describeFilters = (layer, filters) =>
  filters.length === 1
    ? `${layer} filter ${filters[0]}`
    : onePictured(filters)
      ? `${layer} filter ${filters[0]}, ${filters.length} diverse pictures`
      : `${layer} filters ${filters[0]}–${filters.at(-1)}`;

/** The backend as the status names it: Flex with its threads, WebGPU with its adapter. @param {PageState} page */
function backendLabel(page) {
  const info = page.backend;
  if (!info) return null;
  if (info.backend === 'flex') return `Flex (CPU, ${page.cpuThreads} thread${page.cpuThreads === 1 ? '' : 's'})`;
  const name = backendName(info.backend);
  const adapter = info.adapter;
  if (!adapter) return name;
  const described = [adapter.name, adapter.software ? 'software' : ''].filter(Boolean).join(', ');
  return described ? `${name} (${described})` : name;
}

/** @param {number} a */
export const formatActivation = (a) =>
  Math.abs(a) >= 100 ? a.toFixed(1) : Math.abs(a) >= 1 ? a.toFixed(3) : a.toPrecision(3);

/** The status before a run's first step: how long it will take, where this page has measured the backend's pace.
 *  @param {PageState} page @param {string} [doing] what happens first */
export function starting(page, doing = 'starting…') {
  const run = page.run;
  const backend = page.backend?.backend ?? (page.settings.backend === 'auto' ? null : page.settings.backend);
  const millis = run && page.rates.millis(backend, run.macs);
  if (!run || millis === null) return doing;
  const steps = run.request.steps ?? 1;
  return `${doing} (${steps} steps take ${duration(millis * steps)} on this backend, roughly)`;
}

/** The status line: the run, the backend, and `message` or the run's progress (a refused run's reason instead).
 *  @param {PageState} page @param {string | null} message @param {string} [suffix] */
export function showStatus(page, message, suffix = '') {
  const run = page.run;
  // A refused run's reason stays until the next run: the weights arriving, say, do not cover it.
  if (run?.error) [message, suffix] = [run.error, ''];
  const status = $('status');
  status.classList.toggle('failed', Boolean(run?.error));
  const last = run?.last;
  const parts = [last && run ? describeRun(page, run.request) : null, backendLabel(page)];
  if (message) {
    parts.push(message);
  } else if (last && run) {
    const ms = run.recentMillis.reduce((a, b) => a + b, 0) / run.recentMillis.length;
    parts.push(`step ${last.step}/${last.steps}`);
    parts.push(`${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms/step`);
    if (!suffix && last.step < last.steps) parts.push(timeLeft(run.pace, last.steps - last.step));
    const grid = last.activations.length > 1;
    const preRelu = last.preRelu.length === 1 && last.preRelu[0] ? ' (pre-ReLU)' : '';
    const minimised = run.request.minimise ? ', minimised' : '';
    // Where the steps see transformed views, the picture's own activation: the value that means the same each step.
    const whole = run.yardstick.at(-1);
    const value = whole ? `${formatActivation(whole.value)} (whole picture)` : formatActivation(last.activation);
    parts.push(`${grid ? 'mean activation' : 'activation'} ${value}${preRelu}${minimised}${suffix}`);
  }
  status.textContent = parts.filter(Boolean).join(' · ');
  // The status is a live region, and a run rewrites it at every step: while steps come in it is busy, so a screen
  // reader is not made to read ten lines a second; it speaks again when the run starts, ends, stops or waits.
  status.setAttribute('aria-busy', String(!message && !suffix && Boolean(last && !last.done)));
  // While a run goes on, Stop is the main action.
  const running = Boolean(run && !run.error && !run.stopped && !page.stopping && !page.weights.failed && !last?.done);
  $('controls').classList.toggle('running', running);
}

/** A notice under the picture; `group` lets what it is about clear it (a new run, a change of the link).
 *  @param {string} text @param {'info' | 'warn'} kind @param {string} group */
export function note(text, kind, group) {
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
export function clearNotes(group) {
  for (const li of $('notices').querySelectorAll(`li[data-group="${group}"]`)) li.remove();
}

/** What the error box is about ('image', 'export', 'worker'), while it shows. @type {string | null} */
let errorKind = null;

/** An error about the picture, an export or the worker (a refused run speaks in the status; the weights have their
 *  own box, with Retry). @param {string} message @param {string} kind */
export function showError(message, kind) {
  errorKind = kind;
  $('error-text').textContent = message;
  $('error').hidden = false;
  $('status').setAttribute('aria-busy', 'false');
}

/** Hides the error box, or only an error of `kind` where one is given. @param {string} [kind] */
export function hideError(kind) {
  if (kind && kind !== errorKind) return;
  errorKind = null;
  $('error').hidden = true;
}

/** What the page says when the backend is not WebGPU although WebGPU (or auto) was asked for.
 *  @param {PageState} page @param {BackendInfo} info */
export function fallbackSentence(page, info) {
  const fallback = /** @type {import('./protocol.js').Fallback} */ (info.fallback);
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
  const last = page.run?.last;
  if (fallback.kind === 'deviceLost' && last) {
    return `WebGPU stopped working (${why}, or a result could not be read back); carrying on with Flex (CPU) from step ${last.step}, the last picture painted.`;
  }
  return info.requested === 'auto'
    ? `Running on Flex (CPU): ${why}.`
    : `WebGPU was asked for, but ${why}; running on Flex (CPU) instead.`;
}

/** What the page says when Flex runs on one thread although the page could have used every core (README,
 *  "Hosting" has the site owner's side). @param {import('./protocol.js').Unthreaded} why */
export function unthreadedSentence(why) {
  const reason = {
    'no-shared-memory': 'this browser does not share memory between threads (SharedArrayBuffer)',
    'pool-refused': "this site's security policy does not let the page start its helper threads (blob: workers)",
    'pool-failed': 'the helper threads failed to start',
    'pool-silent': `the helper threads did not start within ${POOL_START_MS / 1000} seconds`,
  }[why];
  return `Running on one CPU thread, which is slower than on all cores: ${reason}.`;
}

/** What a link cannot carry of the picture on screen, for the Copy link notice. @param {PageState} page */
export const linkCaveats = (page) =>
  [
    page.startImage ? 'it does not carry your starting picture, so opened elsewhere it starts from noise' : '',
    // A model from disk: the link names it, and elsewhere asks for the file; one fetched from a URL travels.
    isOwn(page.settings.model) && !page.settings.modelUrl
      ? `it does not carry ${modelOf(page.catalog, page.settings.model).title}, opened from your disk: opened elsewhere it asks for the file (a model opened by URL travels with its link)`
      : '',
    // Maco's crops shrink over the run's length (src/optvis/transform.rs), so steps taken before a Continue saw others.
    page.run?.continued && page.run.request.mode === 'maco'
      ? `this maco run was continued, and a run of ${page.settings.steps} steps shrinks its crops over all of them: a similar picture, not the same`
      : '',
  ]
    .filter(Boolean)
    .map((caveat) => `; ${caveat}`)
    .join('');

/** One bar for everything the first picture needs: the program (wasm) and the weights. @param {PageState} page */
export function showDownload(page) {
  const bar = /** @type {HTMLProgressElement} */ ($('weights-progress'));
  const { program, weights } = page.weights.download;
  const total = program.total + weights.total;
  bar.max = Math.max(total, 1);
  bar.value = program.loaded + weights.loaded;
  /** @param {string} name @param {{ loaded: number, total: number }} p */
  const part = (name, p) =>
    p.total
      ? `${name} ${megabytes(p.loaded)} / ${megabytes(p.total)}`
      : p.loaded
        ? `${name} ${megabytes(p.loaded)}`
        : `${name} …`;
  const weightsPart =
    weights.source === 'cache'
      ? `weights from the browser's cache (${megabytes(weights.total)})`
      : part('weights', weights);
  // After a first picture the program is in: a deeper layer's wait is for its weights alone.
  $('weights-text').textContent = page.weights.arrived
    ? `${weights.title} weights up to ${weights.layer}: ${weightsPart}`
    : `${part('program', program)} · ${weightsPart}`;
}

/** What the weights line says once weights are in: how many, from where, and what else is coming. @param {PageState} page */
function weightsLine(page) {
  const { arrived, deeper } = page.weights;
  if (!arrived) return '';
  const { bytes, source, model, layer, complete } = arrived;
  const which = `${modelOf(page.catalog, model).title} weights${complete ? '' : ` up to ${layer}`}`;
  const rest = deeper
    ? ` · all layers ${megabytes(deeper.loaded)} / ${megabytes(deeper.total)}`
    : complete
      ? ''
      : ' · the deeper layers follow';
  return `${which} ${megabytes(bytes)} ${source === 'cache' ? 'from cache' : 'downloaded'}, SHA-256 checked${rest}`;
}

/** The weights' news: the bar while a run waits for them, the line once they are in, the box when they fail.
 *  @param {PageState} page @param {Extract<FromWorker, { type: 'weights' }>} m */
export function showWeights(page, m) {
  const bar = /** @type {HTMLProgressElement} */ ($('weights-progress'));
  const weights = page.weights;
  if (m.phase === 'progress' && m.background) {
    // The deeper layers, after the first picture: news in the weights line, not a wait.
    weights.deeper = m.loaded < m.total ? { loaded: m.loaded, total: m.total } : null;
    $('weights-text').textContent = weightsLine(page);
  } else if (m.phase === 'progress') {
    weights.download.weights = {
      loaded: m.loaded,
      total: m.total,
      source: m.source,
      layer: m.layer,
      title: modelOf(page.catalog, m.model).title,
    };
    if (weights.ready) {
      // A run on a deeper layer waits for its weights: the bar counts them.
      weights.ready = false;
      weights.download.program = { loaded: 0, total: 0 };
      $('weights').classList.remove('ready');
      showStatus(page, starting(page, `loading the weights up to ${m.layer}…`));
    }
    showDownload(page);
  } else if (m.phase === 'ready') {
    weights.ready = true;
    weights.deeper = null;
    weights.arrived = m;
    bar.max = 1;
    bar.value = 1;
    $('weights-text').textContent = weightsLine(page);
    $('weights').classList.add('ready');
    if (page.run && !page.run.last) showStatus(page, starting(page));
  } else {
    weights.failed = true;
    $('weights-text').textContent = 'not loaded';
    $('weights').classList.add('failed');
    $('weights-error-text').textContent = m.message;
    $('weights-error').hidden = false;
    showStatus(page, 'no weights: nothing to run');
  }
}

/** The weights' Retry: the box goes, the line says so. @param {PageState} page */
export function showRetry(page) {
  $('weights-error').hidden = true;
  page.weights.failed = false;
  $('weights').classList.remove('failed');
  $('weights-text').textContent = 'retrying…';
}

/** The notice for the images a step found silent on their start (a dead filter), which now read their value before
 *  the ReLU. @param {PageState} page @param {number[]} switched the images' indices */
export function noteSilent(page, switched) {
  const run = /** @type {import('./state.js').Run} */ (page.run);
  const start = run.fromImage ? 'starting picture' : 'starting noise';
  const { layer, filters = [] } = run.request;
  if (!filters.length) {
    const n = switched.length;
    note(
      `The objective is silent on the ${start} ${n === 1 && picturesOf(run.request) === 1 ? '' : `for ${n} of its pictures `}` +
        `(zero after the ReLU, so no gradient): ${n === 1 ? 'it maximises' : 'they maximise'} the activations before the ReLU instead.`,
      'warn',
      'run',
    );
    return;
  }
  const silent = switched.map((i) => filters[i]);
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
