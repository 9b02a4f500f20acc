// @ts-check
// How long a run takes. A step's work is the multiply-adds of its forward passes, from the catalog's layers (the
// core's numbers: each layer's multiply-adds per input pixel, each mode's view of the image); each backend's rate is
// measured on this page, so nothing is guessed; a run's own pace is smoothed from its second step, and it says how
// long it has left once a few steps are in. Pure: tested in node (tests/e2e/estimate.test.mjs).

import { modelOf, picturesOf } from './settings.js';
import { duration } from './units.js';

/** @typedef {import('./protocol.js').Catalog} Catalog */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */
/** @typedef {import('./protocol.js').Backend} Backend */

/** A run's steps measured (after its first, which also compiles and warms up) before it says how long it has left. */
export const STEPS_BEFORE_ESTIMATE = 3;
/** How much a new step's time moves a run's pace: smooth over about five steps (every 8th step also measures the
 *  whole picture, and a browser's timers jitter). */
export const PACE_SMOOTHING = 0.2;

/** The multiply-adds of one step of `request`: each picture's views (maco's crops, at the preset's crop side; else
 *  the image with the mode's margin, less its jitter) through the network up to the request's layer (an
 *  expression's: the network's last, a bound). @param {Catalog} catalog @param {RunRequest} request */
export function stepMacs(catalog, request) {
  const mode = /** @type {import('./protocol.js').ModeEntry} */ (catalog.modes.find((m) => m.name === request.mode));
  const size = request.size ?? mode.preset.size;
  const side = mode.preset.cropSide ?? size + mode.viewMargin - (request.jitter ?? mode.preset.jitter);
  const layers = modelOf(catalog, request.model ?? 'vgg16').layers;
  const deepest = request.layer ? layers.findIndex((l) => l.name === request.layer) : layers.length - 1;
  const perPixel = layers.slice(0, deepest + 1).reduce((sum, l) => sum + l.macsPerPixel, 0);
  return picturesOf(request) * (request.crops ?? 1) * side * side * perPixel;
}

/** A forward pass alone (natural examples' pass over a picture set) is about a third of a step's work: a step is a
 *  forward pass and a backward one, which costs about twice as much. */
export const FORWARD_SHARE = 1 / 3;

/** The multiply-adds of one picture at `size` through `model` up to the deepest of `layers`, as a step of them
 *  counts them (times FORWARD_SHARE for the forward pass alone).
 *  @param {Catalog} catalog @param {string} model @param {string[]} layers @param {number} size */
export function passMacs(catalog, model, layers, size) {
  const all = modelOf(catalog, model).layers;
  const deepest = Math.max(...layers.map((name) => all.findIndex((l) => l.name === name)));
  return size * size * all.slice(0, deepest + 1).reduce((sum, l) => sum + l.macsPerPixel, 0);
}

/** A run's pace: its milliseconds per step, smoothed, and how many steps went into it.
 *  @typedef {{ msPerStep: number | null, measured: number }} Pace */

/** @returns {Pace} */
export const unmeasured = () => ({ msPerStep: null, measured: 0 });

/** The pace after step `step` took `ms`: the first step only compiles and warms up, so it does not count.
 *  @param {Pace} pace @param {number} step @param {number} ms @returns {Pace} */
export function afterStep(pace, step, ms) {
  if (step <= 1) return pace;
  const msPerStep = pace.msPerStep === null ? ms : pace.msPerStep + PACE_SMOOTHING * (ms - pace.msPerStep);
  return { msPerStep, measured: pace.measured + 1 };
}

/** What the status says of the time left: "estimating" until a few steps are measured.
 *  @param {Pace} pace @param {number} stepsLeft */
export const timeLeft = (pace, stepsLeft) =>
  pace.msPerStep === null || pace.measured < STEPS_BEFORE_ESTIMATE
    ? 'estimating the time left…'
    : `${duration(stepsLeft * pace.msPerStep)} left`;

/** Multiply-adds per millisecond on each backend, as measured on this page (none yet: unknown). */
export class Rates {
  /** @type {Partial<Record<Backend, number>>} */
  #rates = {};

  /** A run's `macs` a step took `ms` on `backend`. @param {Backend} backend @param {number} macs @param {number} ms */
  measured(backend, macs, ms) {
    this.#rates[backend] = macs / ms;
  }

  /** The milliseconds a step of `macs` takes on `backend`, where this page has measured it.
   *  @param {Backend | null} backend @param {number} macs @returns {number | null} */
  millis(backend, macs) {
    const rate = backend ? this.#rates[backend] : undefined;
    return rate ? macs / rate : null;
  }
}
