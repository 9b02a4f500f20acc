// @ts-check
// The page's entry: the one page state (state.js), made from the catalog and the link, and the wiring of the
// modules beside it, each with one job: the link (link.js), the controls (controls.js), a run's life (runs.js), the
// worker (worker-client.js), the status and notices (status.js), the picture (picture.js), the start picture
// (start-image.js), models of one's own (own-model.js), the site's atlas (atlas.js), natural examples from the
// visitor's pictures (examples.js), the plot (plot.js), the time
// estimates (estimate.js) and the view for tests (view.js). This thread
// only moves messages and draws, so the sliders stay responsive: all computing happens in worker.js.

import * as atlas from './atlas.js';
import { bindControls, fillControls, showLayers, showSettings, switchMode } from './controls.js';
import { $, input } from './dom.js';
import * as examples from './examples.js';
import { isolate } from './isolation.js';
import { readLink, writeLink } from './link.js';
import * as own from './own-model.js';
import { bindPicture, download, fitPicture, showLayout } from './picture.js';
import { bindPlot, drawPlot } from './plot.js';
import { carryOn, onRunEnd, onStep, run, scheduleRun, stop } from './runs.js';
import { channels, fitMaco, isOwn, maxSize, modelOf, parseLink } from './settings.js';
import { bindStartImage, showStartImage, useStartImage } from './start-image.js';
import { newPage } from './state.js';
import * as status from './status.js';
import { megabytes } from './units.js';
import { expose } from './view.js';
import { changeBuild, crashedWorker, post, startWorker } from './worker-client.js';

/** @typedef {import('./protocol.js').FromWorker} FromWorker */

// First visit on a host without isolation headers: the page reloads, isolated (isolation.js), before it does
// anything else, so this module goes no further.
if (await isolate()) await new Promise(() => {});

/** @type {import('./protocol.js').Catalog} */
const catalog = await fetch(new URL('./catalog.json', import.meta.url)).then((r) => {
  if (!r.ok) throw new Error(`catalog.json is missing (HTTP ${r.status})`);
  return r.json();
});
/** A link to a model of one's own with its URL: fetched and opened first, then the link read again (until then the
 *  page shows nothing of it, nor its notices). */
const linked = new URLSearchParams(location.hash.slice(1));
const modelLink = isOwn(linked.get('model') ?? '') && linked.get('modelUrl') ? linked : null;
const page = newPage(catalog, modelLink ? parseLink(catalog, location.hash).settings : readLink(catalog));
let exportId = 0;
/** The model the visitor (or the link) is opening: the worker's answer about it switches the page to it. */
let opening = { name: '', fromLink: false };

/** A setting changed: the controls and the link follow, and the run restarts shortly (drags coalesce); `push` makes
 *  the link a new history entry (it names what changed). Notices about the old link go: they no longer apply. */
function changed({ restart = true, push = '' } = {}) {
  const s = page.settings;
  status.clearNotes('link');
  const fitted = fitMaco(s);
  if (fitted.grid) {
    const { from, to } = fitted.grid;
    status.note(`maco mode shows at most ${to} tiles here: ${from} → ${to}.`, 'info', 'input');
  }
  if (fitted.crops) {
    const { from, to } = fitted.crops;
    const why = `a grid of ${s.grid} takes at most ${to} a step here (each crop is a pass through the network for every tile)`;
    status.note(`crops ${from} → ${to}: ${why}.`, 'info', 'input');
  }
  s.filter = Math.min(s.filter, channels(catalog, s) - 1);
  s.towards = Math.min(s.towards, channels(catalog, s) - 1);
  s.size = Math.min(s.size, maxSize(s.grid));
  status.clearNotes('copy');
  showSettings(page);
  writeLink(page, { push });
  if (restart) {
    atlas.follow(page); // the atlas's picture at once, the run after the drag
    examples.follow(page); // the visitor's pictures re-ranked at once, without another pass
    scheduleRun(page);
  }
}

/** What the visitor set with a control. @param {string} name @param {string | number | boolean} value */
function onControl(name, value) {
  if (name === 'mode') {
    switchMode(page, String(value));
    return changed();
  }
  page.settings[name] = value;
  if (name === 'model') {
    // Another network: its own first layer, the filter kept where the layer has it (changed() clamps it).
    page.settings.layer = modelOf(catalog, page.settings.model).defaultLayer;
    followOrigin();
    showLayers(page);
  }
  if (name === 'preprocess') {
    // The same file, normalised otherwise: opened again (the worker's answer runs it).
    changed({ restart: false });
    return own.reopen(post, page.settings.model, page.settings.preprocess);
  }
  if (name === 'transparency') {
    changed({ restart: false });
    return post({ type: 'transparency', on: page.settings.transparency });
  }
  if (name === 'backend') {
    changed({ restart: false });
    moveBackend();
    const { run } = page;
    if (run?.last && !run.last.done) {
      status.showStatus(page, `switching to ${status.backendName(page.settings.backend)} after the current step…`);
    }
    return scheduleRun(page);
  }
  changed({ push: name === 'layer' || name === 'model' ? name : '' });
}

/** The settings say where the chosen model came from: its URL and SHA-256 (none for a file from disk, nor for a
 *  built-in network), which its links carry. */
function followOrigin() {
  const s = page.settings;
  const origin = own.originOf(s.model);
  s.modelUrl = origin?.url ?? '';
  s.modelSha256 = origin?.sha256 ?? '';
  s.preprocess = origin?.preprocess ?? s.preprocess;
}

/** Hands a model file to the worker to open (its answer, a `model` message, switches the page to it).
 *  @param {string} fileName @param {ArrayBuffer} bytes @param {{ url?: string, sha256?: string, fromLink?: boolean }} [origin] */
function openModel(fileName, bytes, { url = '', sha256 = '', fromLink = false } = {}) {
  try {
    const name = own.open(post, fileName, bytes, page.settings.preprocess, { url, sha256 });
    opening = { name, fromLink };
    status.hideError('model');
    status.showStatus(page, `opening ${fileName}…`);
  } catch (e) {
    status.showError(`Could not open ${fileName}: ${e instanceof Error ? e.message : e}.`, 'model');
  }
}

/** A model file from the visitor's disk (chosen, or dropped on the page). @param {File} file */
async function openFile(file) {
  openModel(file.name, await file.arrayBuffer());
}

/** A model by URL (the box, or a link's `modelUrl`), with its SHA-256 where a link gives it.
 *  @param {string} url @param {string} sha256 @param {boolean} fromLink */
async function openUrl(url, sha256, fromLink) {
  status.hideError('model');
  try {
    const fetched = await own.fetchModel(url, sha256, (loaded, total) =>
      status.showStatus(page, `fetching the model: ${megabytes(loaded)} / ${megabytes(total)}`),
    );
    openModel(fetched.fileName, fetched.bytes, { url, sha256: fetched.sha256, fromLink });
  } catch (e) {
    status.showError(
      `Could not open the model: ${e instanceof Error ? e.message : e}. The page keeps what it had.`,
      'model',
    );
    if (fromLink) followLink(); // the rest of the link, on what the page has
  }
}

/** The worker opened a model (or could not): it joins the network menu, and the page shows it where it was asked
 *  for; a model opened again (another preprocessing, a new worker) replaces its entry.
 *  @param {Extract<FromWorker, { type: 'model' }>} m */
function onModel(m) {
  if ('error' in m) {
    status.showError(`Could not open ${m.fileName}: ${m.error}. The page keeps what it had.`, 'model');
    if (opening.fromLink) followLink();
    opening = { name: '', fromLink: false };
    return status.showStatus(page, null);
  }
  own.register(page, m.opened);
  const { model, stop } = m.opened;
  status.clearNotes('model');
  if (stop) {
    status.note(
      `${model.title}: the layers before node '${stop.node}' (${stop.op}) are shown; that node cannot run here: ${stop.reason}.`,
      'warn',
      'model',
    );
  }
  const asked = opening;
  opening = { name: '', fromLink: false };
  if (asked.name !== model.name) {
    if (page.settings.model === model.name) showLayers(page);
    return;
  }
  if (asked.fromLink) return followLink();
  const s = page.settings;
  const other = s.model !== model.name;
  s.model = model.name;
  if (other) s.layer = model.defaultLayer;
  followOrigin();
  showLayers(page);
  changed({ push: other ? 'model' : '' });
}

/** Moves the computation to the settings' backend; the run starts again there. */
function moveBackend() {
  status.clearNotes('backend');
  post({ type: 'backend', backend: page.settings.backend });
}

/** What the worker's messages change. @param {FromWorker} m */
function onWorkerMessage(m) {
  const { run, weights } = page;
  switch (m.type) {
    case 'weights':
      if (m.phase === 'ready') page.metrics.weights ??= { source: m.source, millis: m.millis, bytes: m.bytes };
      return status.showWeights(page, m);
    case 'program':
      weights.download.program = { loaded: m.loaded, total: m.total };
      if (!weights.ready && !weights.failed) status.showDownload(page);
      return;
    case 'insecure':
      return status.note(status.INSECURE, 'warn', 'page');
    case 'backend':
      page.backend = m.info;
      if (m.info.fallback) {
        status.note(
          status.fallbackSentence(page, m.info),
          m.info.fallback.kind === 'softwareAdapter' ? 'info' : 'warn',
          'backend',
        );
      }
      // A backend chosen before the first step (a link's, say) keeps the run's estimate, now for this backend.
      return status.showStatus(
        page,
        run?.last ? null : weights.ready && run ? status.starting(page) : 'loading the weights…',
      );
    case 'cpu':
      page.cpuThreads = m.threads;
      page.unthreaded = m.unthreaded;
      if (m.unthreaded) status.note(status.unthreadedSentence(m.unthreaded), 'warn', 'backend');
      return;
    case 'other-build':
      return changeBuild(page, workerHooks);
    case 'started':
      if (run && m.id === run.id) {
        run.layout = m.layout;
        showLayout(page);
      }
      return;
    case 'step':
      return onStep(page, m);
    case 'done':
    case 'stopped':
    case 'error':
      return onRunEnd(page, m);
    case 'png':
      if (m.id !== exportId) return;
      if ('error' in m) return status.showError(`Could not export the ${m.what}: ${m.error}`, 'export');
      status.hideError('export');
      page.metrics.exports.push(download(page, m));
      return;
    case 'tile':
      if (m.filter !== null) {
        page.settings.filter = m.filter;
        page.settings.grid = 1; // same seed and size: the single run paints exactly the tile that was clicked
        changed({ push: 'tile' });
      }
      return;
    case 'crashed':
      return crashedWorker(page, workerHooks, m.message);
    case 'model':
      return onModel(m);
    case 'examples-progress':
    case 'examples':
    case 'examples-check':
      return examples.onMessage(page, m);
  }
}

/** @type {import('./start-image.js').Hooks} */
const startHooks = { post, run: () => run(page), showSettings: () => showSettings(page) };
/** @type {import('./worker-client.js').Hooks} */
const workerHooks = {
  onMessage: onWorkerMessage,
  restarted: () => {
    own.resend(post); // the new worker has none of the models opened so far
    examples.forget(page); // nor the picture set's pass
    run(page);
  },
  showStartImage: () => showStartImage(page, startHooks),
};

/** The page follows its link as on a fresh load, the worker's own settings included. */
function followLink() {
  const { backend, transparency, preprocess } = page.settings;
  page.settings = readLink(catalog);
  // A model opened from a URL: its link carries the URL and the file's SHA-256, found when it was fetched.
  const origin = own.originOf(page.settings.model);
  if (origin) Object.assign(page.settings, { modelUrl: origin.url, modelSha256: origin.sha256 });
  showLayers(page);
  showSettings(page);
  writeLink(page);
  if (page.settings.backend !== backend) moveBackend();
  if (page.settings.transparency !== transparency) post({ type: 'transparency', on: page.settings.transparency });
  if (isOwn(page.settings.model) && page.settings.preprocess !== preprocess)
    own.reopen(post, page.settings.model, page.settings.preprocess);
  run(page);
}

// A link changed on the page (an example, Back or Forward, a pasted link): everything follows it. One naming a model
// by URL that the page has not opened opens it first.
window.addEventListener('hashchange', () => {
  const q = new URLSearchParams(location.hash.slice(1));
  const model = q.get('model') ?? '';
  const url = q.get('modelUrl');
  if (isOwn(model) && url && !catalog.models.some((m) => m.name === model)) {
    page.settings.preprocess = q.get('preprocess') ?? page.settings.preprocess;
    return void openUrl(url, q.get('modelSha256') ?? '', true);
  }
  followLink();
});
// The controls never submit (Enter in a number box applies it); no inline handler, as the page's policy has none.
$('controls').addEventListener('submit', (e) => e.preventDefault());
$('start').addEventListener('click', () => run(page));
$('stop').addEventListener('click', () => stop(page));
$('continue').addEventListener('click', () => carryOn(page));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !e.defaultPrevented) stop(page);
});
$('copy').addEventListener('click', async () => {
  writeLink(page);
  const link = /** @type {HTMLInputElement} */ ($('link'));
  link.value = location.href;
  try {
    await navigator.clipboard.writeText(location.href);
    status.note(
      `Link copied: it restores these settings (same seed and backend, same picture)${status.linkCaveats(page)}.`,
      'info',
      'copy',
    );
  } catch {
    link.hidden = false;
    link.select();
    status.note(`Copy the link from the box below the buttons${status.linkCaveats(page)}.`, 'info', 'copy');
  }
});
/** @param {import('./protocol.js').Export} what */
const exportPicture = (what) => {
  exportId += 1;
  post({ type: 'export', id: exportId, what });
};
$('download').addEventListener('click', () => exportPicture('picture'));
$('download-animation').addEventListener('click', () => exportPicture('animation'));
$('open-model').addEventListener('click', () => input('model-file').click());
input('model-file').addEventListener('change', () => {
  const file = input('model-file').files?.[0];
  if (file) openFile(file);
  input('model-file').value = ''; // choosing the same file again still counts
});
input('model-url').addEventListener('change', () => {
  const url = input('model-url').value.trim();
  if (url) openUrl(url, '', false);
});
// An .onnx file dropped anywhere on the page opens as a model (a picture dropped on the picture is a starting one).
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files?.[0];
  if (file && /\.onnx$/i.test(file.name)) openFile(file);
});
// The atlas: a live run from its picture instead of noise; the live run shown now; the layer's contact sheet, whose
// tiles open their filter as a grid's do.
$('atlas-refine').addEventListener('click', () => {
  const png = atlas.pictureOnView();
  const { layer, filter } = page.settings;
  if (png) useStartImage(page, startHooks, new File([png], `atlas ${layer}:${filter}.png`, { type: 'image/png' }));
});
$('atlas-show-live').addEventListener('click', atlas.hidePicture);
$('atlas-open-layer').addEventListener('click', () =>
  $('atlas-layer').hidden ? atlas.openLayerView(page) : atlas.closeLayerView(),
);
$('atlas-close-layer').addEventListener('click', atlas.closeLayerView);
$('atlas-sheet').addEventListener('click', (e) => {
  const hit = atlas.filterAt(e);
  if (!hit) return;
  Object.assign(page.settings, { layer: hit.layer, filter: hit.filter, grid: 1 });
  changed({ push: 'tile' });
});
$('retry').addEventListener('click', () => {
  status.showRetry(page);
  post({ type: 'retry-weights' });
});

expose(page);
fillControls(page);
showLayers(page);
bindControls(page, onControl);
bindPicture(page, post);
bindPlot(page);
bindStartImage(page, startHooks);
examples.bindExamples(page, { startFrom: (file) => useStartImage(page, startHooks, file) });
startWorker(page, workerHooks, { crashed: false });
showSettings(page);
showStartImage(page, startHooks);
if (!modelLink) writeLink(page); // a link to a model by URL stays as it is until the model is in and it is read
drawPlot(page);
status.showStatus(page, 'loading the weights…');
if (modelLink) openUrl(/** @type {string} */ (modelLink.get('modelUrl')), modelLink.get('modelSha256') ?? '', true);
else run(page);
fitPicture(page);
