// @ts-check
// The page's entry: the one page state (state.js), made from the catalog and the link, and the wiring of the
// modules beside it, each with one job: the link (link.js), the controls (controls.js), a run's life (runs.js), the
// worker (worker-client.js), the status and notices (status.js), the picture (picture.js), the start picture
// (start-image.js), the plot (plot.js), the time estimates (estimate.js) and the view for tests (view.js). This thread
// only moves messages and draws, so the sliders stay responsive: all computing happens in worker.js.

import { bindControls, fillControls, showLayers, showSettings, switchMode } from './controls.js';
import { $ } from './dom.js';
import { isolate } from './isolation.js';
import { readLink, writeLink } from './link.js';
import { bindPicture, download, fitPicture, showLayout } from './picture.js';
import { bindPlot, drawPlot } from './plot.js';
import { carryOn, onRunEnd, onStep, run, scheduleRun, stop } from './runs.js';
import { channels, fitMaco, maxSize, modelOf } from './settings.js';
import { bindStartImage, showStartImage } from './start-image.js';
import { newPage } from './state.js';
import * as status from './status.js';
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
const page = newPage(catalog, readLink(catalog));
let exportId = 0;

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
  if (restart) scheduleRun(page);
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
    showLayers(page);
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
  }
}

/** @type {import('./start-image.js').Hooks} */
const startHooks = { post, run: () => run(page), showSettings: () => showSettings(page) };
/** @type {import('./worker-client.js').Hooks} */
const workerHooks = {
  onMessage: onWorkerMessage,
  restarted: () => run(page),
  showStartImage: () => showStartImage(page, startHooks),
};

// A link changed on the page (an example, Back or Forward, a pasted link): everything follows it as on a fresh
// load, the worker's own settings included.
window.addEventListener('hashchange', () => {
  const { backend, transparency } = page.settings;
  page.settings = readLink(catalog);
  showLayers(page);
  showSettings(page);
  writeLink(page);
  if (page.settings.backend !== backend) moveBackend();
  if (page.settings.transparency !== transparency) post({ type: 'transparency', on: page.settings.transparency });
  run(page);
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
startWorker(page, workerHooks, { crashed: false });
showSettings(page);
showStartImage(page, startHooks);
writeLink(page);
drawPlot(page);
status.showStatus(page, 'loading the weights…');
run(page);
fitPicture(page);
