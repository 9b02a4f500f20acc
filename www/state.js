// @ts-check
// The page's one state: what the link says (the settings), the run on screen, and what the worker has told of the
// backend, its threads and the weights. app.js makes it; every module of the page reads it and changes its own part.

import { Rates, unmeasured } from './estimate.js';

/** @typedef {import('./protocol.js').Catalog} Catalog */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */
/** @typedef {import('./protocol.js').Started} Started */
/** @typedef {import('./protocol.js').StepReply} StepReply */
/** @typedef {import('./settings.js').Settings} Settings */

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
 * @property {import('./estimate.js').Pace} pace  the run's own pace, smoothed, from its second step
 * @property {number} macs            a step's multiply-adds (estimate.js `stepMacs`)
 * @property {number} chunk           the steps Continue adds to a finished run: the run's own count
 * @property {boolean} stopped        stopped before its end (Continue resumes it)
 * @property {boolean} continued      carried on past its first end
 * @property {string | null} error    why the run was refused or failed, as the status says it
 */

/**
 * The weights as far as the page knows: in for the current run (`ready`), failed, the latest arrival, the deeper
 * layers coming in the background, and the one download bar's counts (the program and the weights).
 * @typedef {object} WeightsState
 * @property {boolean} ready
 * @property {boolean} failed
 * @property {Extract<FromWorker, { type: 'weights', phase: 'ready' }> | null} arrived
 * @property {{ loaded: number, total: number } | null} deeper
 * @property {{ program: { loaded: number, total: number }, weights: { loaded: number, total: number, source: string, layer: string, title: string } }} download
 */

/** The visitor's own starting picture, while runs start from it.
 *  @typedef {{ name: string, width: number, height: number, url: string }} StartImage */

/**
 * @typedef {object} PageState
 * @property {Catalog} catalog
 * @property {Settings} settings         what the link says
 * @property {Run | null} run            the run on screen
 * @property {number} runId              the latest run's id
 * @property {BackendInfo | null} backend  the worker's backend, once it has said
 * @property {number} cpuThreads         Flex's threads (more than one in the threaded build)
 * @property {import('./protocol.js').Unthreaded | null} unthreaded  why Flex runs on one thread where more were wanted
 * @property {WeightsState} weights
 * @property {boolean} stopping          a Stop was asked for and the worker has not confirmed it yet
 * @property {StartImage | null} startImage
 * @property {Rates} rates               each backend's pace on this page
 * @property {Metrics} metrics            timings for the tests and the benchmarks
 */

/**
 * Timings for the tests and the benchmarks (window.filterlens.metrics): the first painted step since the page
 * loaded, the first weights' arrival, the last RUNS_KEPT runs, the exports saved.
 * @typedef {object} Metrics
 * @property {number | null} firstPaintSinceLoad
 * @property {{ source: string, millis: number, bytes: number } | null} weights
 * @property {Run[]} runs
 * @property {{ name: string, bytes: number }[]} exports
 */

/** The state of a page that has read its link and started nothing. @param {Catalog} catalog @param {Settings} settings
 *  @returns {PageState} */
export const newPage = (catalog, settings) => ({
  catalog,
  settings,
  run: null,
  runId: 0,
  backend: null,
  cpuThreads: 1,
  unthreaded: null,
  weights: {
    ready: false,
    failed: false,
    arrived: null,
    deeper: null,
    download: {
      program: { loaded: 0, total: 0 },
      weights: { loaded: 0, total: 0, source: 'network', layer: '', title: '' },
    },
  },
  stopping: false,
  startImage: null,
  rates: new Rates(),
  metrics: { firstPaintSinceLoad: null, weights: null, runs: [], exports: [] },
});

/** A new run of `request`. @param {number} id @param {RunRequest} request @param {boolean} fromImage @param {number} macs
 *  @returns {Run} */
export const newRun = (id, request, fromImage, macs) => ({
  id,
  request,
  fromImage,
  requestedAt: performance.now(),
  firstStepAt: null,
  firstStepSinceStart: null,
  layout: null,
  last: null,
  activations: [],
  yardstick: [],
  recentMillis: [],
  pace: unmeasured(),
  macs,
  chunk: request.steps ?? 1,
  stopped: false,
  continued: false,
  error: null,
});
