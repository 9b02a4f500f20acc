// @ts-check
// A run's life on the page: started (shortly after the last change: drags coalesce), stopped after its current step
// and carried on (a stopped run to its end, a finished one by as many steps again), its steps recorded, and the
// worker's word that it is done, stopped or refused.

import * as atlas from './atlas.js';
import { markInvalid, labelOf, showSettings } from './controls.js';
import { $ } from './dom.js';
import * as examples from './examples.js';
import { afterStep, stepMacs } from './estimate.js';
import { writeLink } from './link.js';
import { describePicture } from './picture.js';
import { drawPlot } from './plot.js';
import { startsFromPicture, toRequest } from './settings.js';
import { newRun } from './state.js';
import * as status from './status.js';
import { mean } from './units.js';
import { post } from './worker-client.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */

const RESTART_DELAY_MS = 250;
const RUNS_KEPT = 50;
let restartTimer = 0;

/** Runs the settings shortly: a slider's drag becomes one run. @param {PageState} page */
export function scheduleRun(page) {
  clearTimeout(restartTimer);
  restartTimer = window.setTimeout(() => run(page), RESTART_DELAY_MS);
}

/** Runs the page's settings now, in place of the run before. @param {PageState} page */
export function run(page) {
  clearTimeout(restartTimer);
  const { catalog, metrics } = page;
  page.runId += 1;
  const request = toRequest(catalog, page.settings);
  // Maco's phase cannot hold a picture with another spectrum: maco mode starts from noise, the picture kept.
  const fromImage = page.startImage !== null && startsFromPicture(catalog, request.mode);
  // Accentuation pulls toward a starting picture: from noise there is none (the link keeps the setting).
  if (!fromImage) request.accentuate = 0;
  page.run = newRun(page.runId, request, fromImage, stepMacs(catalog, request));
  metrics.runs.push(page.run);
  if (metrics.runs.length > RUNS_KEPT) metrics.runs.shift();
  status.clearNotes('run');
  status.hideError(); // a picture or export error belongs to what came before
  markInvalid(null);
  if (page.startImage && !fromImage) {
    const why = "maco mode starts from noise (its phase keeps ImageNet's spectrum, which your picture does not have)";
    status.note(`${why}; your picture is kept for classic and lucid.`, 'info', 'run');
  }
  page.stopping = false;
  showContinue(page);
  $('plot-value').textContent = '';
  post({ type: 'run', id: page.runId, request, fromImage });
  atlas.follow(page);
  drawPlot(page);
  const { ready, failed } = page.weights;
  status.showStatus(
    page,
    ready ? status.starting(page) : failed ? 'no weights: nothing to run' : 'waiting for the download…',
  );
}

/** Stops the run after its current step (the status says so until the worker confirms); Continue resumes it.
 *  @param {PageState} page */
export function stop(page) {
  clearTimeout(restartTimer);
  if (!page.run || page.run.last?.done || page.run.stopped) return;
  page.stopping = true;
  post({ type: 'stop', id: page.runId });
  status.showStatus(page, 'stopping: finishing the current step…');
}

/** Continue, where the run can go on: a finished run by as many steps again, a stopped one to its end.
 *  @param {PageState} page */
function showContinue(page) {
  const { run } = page;
  const last = run?.last;
  const button = $('continue');
  button.hidden = !run || !last || !(last.done || run.stopped);
  if (run && last && !button.hidden) {
    button.textContent = last.done ? `Continue (+${run.chunk} steps)` : `Continue (to step ${last.steps})`;
  }
}

/** A stopped run goes on to its end; a finished one takes as many steps again, and the link says the new total: the
 *  same picture as a run of that many steps (src/optvis/ascent.rs `extend`). @param {PageState} page */
export function carryOn(page) {
  const { run } = page;
  const last = run?.last;
  if (!run || !last || !(last.done || run.stopped)) return;
  const more = last.done ? run.chunk : 0;
  post({ type: 'continue', id: run.id, steps: more });
  run.stopped = false;
  if (more) {
    run.continued = true;
    page.settings.steps = last.steps + more;
    showSettings(page);
    writeLink(page);
  }
  showContinue(page);
  status.showStatus(page, more ? `continuing for ${more} more steps…` : `continuing from step ${last.step}…`);
}

/** A step of the run: its values, pace and picture's description, the plot and the status.
 *  @param {PageState} page @param {Extract<FromWorker, { type: 'step' }>} m */
export function onStep(page, m) {
  const { run } = page;
  if (!run || m.id !== page.runId) return; // a report from a run the visitor has since replaced
  const activation = mean(m.activations);
  if (run.firstStepAt === null) {
    run.firstStepAt = performance.now();
    run.firstStepSinceStart = m.sinceStart;
    page.metrics.firstPaintSinceLoad ??= run.firstStepAt;
  }
  run.last = { ...m, activation };
  run.activations.push(activation);
  if (m.wholePicture) run.yardstick.push({ step: m.step, value: mean(m.wholePicture) });
  run.recentMillis.push(m.totalMillis);
  if (run.recentMillis.length > 10) run.recentMillis.shift();
  run.pace = afterStep(run.pace, m.step, m.totalMillis);
  if (run.pace.msPerStep !== null) page.rates.measured(m.backend, run.macs, run.pace.msPerStep);
  if (m.step === 1 || m.step % 10 === 0 || m.done) describePicture(page);
  if (m.switchedToPreRelu.length > 0) status.noteSilent(page, m.switchedToPreRelu);
  status.showStatus(page, null);
  drawPlot(page);
}

/** The worker's word on the run: done, stopped (as asked), or refused (an expression that does not parse, say:
 *  the status says why, and the control of the field it is about is marked).
 *  @param {PageState} page @param {Extract<FromWorker, { type: 'done' | 'stopped' | 'error' }>} m */
export function onRunEnd(page, m) {
  const { run } = page;
  if (!run || m.id !== page.runId) return; // a run the visitor has since replaced
  if (m.type === 'done') {
    atlas.onRunEnd(page);
    examples.onRunEnd(page);
    status.showStatus(page, null, ' · done');
  } else if (m.type === 'stopped') {
    if (!page.stopping) return;
    page.stopping = false;
    run.stopped = Boolean(run.last);
    status.showStatus(page, run.last ? `stopped at step ${run.last.step}/${run.last.steps}` : 'stopped');
  } else {
    const label = m.field ? labelOf(m.field) : null;
    run.error = label ? `${label} refused: ${m.message}` : `could not run: ${m.message}`;
    status.showStatus(page, null);
    markInvalid(m.field ?? null);
  }
  showContinue(page);
}
