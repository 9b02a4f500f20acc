// @ts-check
// The page's side of the compute worker: starting it (with the picture's canvas, the backend and Flex's threads),
// posting to it, asking it what it answers by id, and starting a new one when it crashes, when its thread pool does
// not start, or when the backend asked for lives in the other build of the program. What its messages mean is
// app.js's to say.

import { canvasForWorker } from './picture.js';
import { POOL_START_MS } from './protocol.js';
import { threadsFor } from './settings.js';
import { forgetStartImage } from './start-image.js';
import { note, showError } from './status.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').ToWorker} ToWorker */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */

/** The worker's last messages kept for diagnostics (and the tests): a ring, so an hour-long run stays bounded. */
const EVENTS_KEPT = 500;
/** @type {FromWorker[]} */
export const events = [];
/** @type {Worker | null} */
let worker = null;
/** When the worker was restarted after a crash, for the limit on restarts. @type {number[]} */
const crashRestarts = [];
/** Flex's pool starting in the current worker: the timer that gives up on it (POOL_START_MS), and whether the page
 *  has replaced a worker for a silent pool before. */
const pool = { timer: /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined), replaced: false };
/** Answers the page is waiting for (snapshots, stats), by request id. @type {Map<number, (m: any) => void>} */
const waiting = new Map();
let askId = 0;

/** @param {ToWorker} message @param {Transferable[]} [transfer] */
export const post = (message, transfer = []) => /** @type {Worker} */ (worker).postMessage(message, transfer);

/** What the page does when the worker speaks or has to start again: `onMessage` for each of its messages (the
 *  answers to `ask` aside), `restarted` after a new worker has taken over (the run starts again there), and
 *  `showStartImage` when the visitor's picture went with a crashed worker.
 *  @typedef {{ onMessage: (m: FromWorker) => void, restarted: () => void, showStartImage: () => void }} Hooks */

/** Starts a compute worker for the page's settings, in place of the one before (a new worker takes a new canvas).
 *  @param {PageState} page @param {Hooks} hooks @param {{ crashed: boolean }} why */
export function startWorker(page, hooks, { crashed }) {
  const replacing = worker !== null;
  worker?.terminate();
  clearTimeout(pool.timer);
  if (crashed) crashRestarts.push(performance.now());
  // The new worker knows no backend and has no weights yet.
  page.weights.ready = false;
  page.weights.arrived = null;
  page.backend = null;
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (answer(data)) return;
    if (data.type === 'pool') pool.timer = setTimeout(() => poolSilent(page, hooks), POOL_START_MS);
    if (data.type === 'cpu') clearTimeout(pool.timer);
    events.push(data.type === 'snapshot' ? { ...data, data: null } : data);
    if (events.length > EVENTS_KEPT) events.shift();
    hooks.onMessage(data);
  };
  worker.onerror = (e) => crashedWorker(page, hooks, e.message || 'an error the worker did not catch');
  const canvas = canvasForWorker(replacing);
  const { settings: s } = page;
  const threads = threadsFor(s, navigator.hardwareConcurrency || 1);
  const { unthreaded } = page;
  post(
    { type: 'init', canvas, backend: s.backend, threads, unthreaded, model: s.model, transparency: s.transparency },
    [canvas],
  );
}

/** The answer to an `ask`, if `m` is one (it goes to the asker alone). @param {FromWorker} m */
function answer(m) {
  if (m.type !== 'stats' && m.type !== 'snapshot') return false;
  const resolve = waiting.get(m.id);
  waiting.delete(m.id);
  resolve?.(m);
  return m.type === 'stats';
}

/** Asks the worker for something it answers by id (a snapshot of the picture, its statistics).
 *  @param {'snapshot' | 'stats'} type @returns {Promise<any>} */
export function ask(type) {
  askId += 1;
  const id = askId;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    post({ type, id });
  });
}

/** The backend asked for runs in the other build of the program (WebGPU, or Flex on every core: worker.js): a fresh
 *  worker loads it, with the starting picture if there is one, and the run starts again.
 *  @param {PageState} page @param {Hooks} hooks */
export async function changeBuild(page, hooks) {
  startWorker(page, hooks, { crashed: false });
  if (page.startImage) {
    const bitmap = await createImageBitmap(await (await fetch(page.startImage.url)).blob());
    post({ type: 'start-image', bitmap }, [bitmap]);
  }
  hooks.restarted();
}

/** Flex's pool did not start in POOL_START_MS. The worker may be stuck for good, deaf to its own timers (Firefox ESR
 *  153 now and then never returns from a worker's `new Worker` while the browser runs its start-up tasks; a worker
 *  started a moment later is not): a fresh worker tries the threaded build once more, and the next silent pool leaves
 *  the page on the single-threaded build, which the page says (`cpu`). @param {PageState} page @param {Hooks} hooks */
function poolSilent(page, hooks) {
  if (pool.replaced) page.unthreaded = 'pool-silent';
  pool.replaced = true;
  changeBuild(page, hooks);
}

/** The worker died or its WebAssembly can no longer be trusted (a trap): start a new one (the weights come from
 *  Cache Storage) and the current run again, and say so. Three crashes within a minute end the retries.
 *  @param {PageState} page @param {Hooks} hooks @param {string} reason */
export function crashedWorker(page, hooks, reason) {
  const recent = crashRestarts.filter((t) => performance.now() - t < 60_000);
  if (recent.length >= 2) {
    showError(`The computation keeps stopping unexpectedly (${reason}). Reload the page to try again.`, 'worker');
    return;
  }
  startWorker(page, hooks, { crashed: true });
  if (page.startImage) {
    // The starting picture went with the old worker: start from noise, and say so.
    forgetStartImage(page);
    hooks.showStartImage();
  }
  note(
    `The computation stopped unexpectedly (${reason}); it was restarted, and the run started again.`,
    'warn',
    'page',
  );
  hooks.restarted();
}
