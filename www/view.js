// @ts-check
// What the page shows to tests and the curious, as `window.filterlens` (read-only views, documented here and nowhere
// else): `settings` (a copy), `runId` (the latest run's id), `run` (the latest run's request, start and layout),
// `events` (the worker's last messages), `metrics`, `catalog`, `snapshot()` (the canvas's exact RGBA pixels,
// `{ width, height, step, run, data }`), `loseDevice()` (destroys the WebGPU device, as a driver reset would, to
// exercise the fallback to Flex), `crashWorker()` (an uncaught trap in the worker, to exercise its restart) and
// `stats()` (the wasm memory's size, the worker's messages posted and requests pending, the events kept: for the
// soak test) and `examples()` (the visitor's picture set: the files in the order they went through the network, the
// skipped, the examples on view, the check's sentence).

import { view as examples } from './examples.js';
import { ask, events, post } from './worker-client.js';

/** @param {import('./state.js').PageState} page */
export function expose(page) {
  Object.assign(window, {
    filterlens: {
      events,
      metrics: page.metrics,
      catalog: page.catalog,
      get settings() {
        return { ...page.settings };
      },
      get runId() {
        return page.runId;
      },
      get run() {
        const { run } = page;
        return run && { id: run.id, request: run.request, fromImage: run.fromImage, layout: run.layout };
      },
      snapshot: () => ask('snapshot'),
      examples,
      loseDevice: () => post({ type: 'lose-device' }),
      crashWorker: () => post({ type: 'crash' }),
      async stats() {
        const m = await ask('stats');
        return { wasmBytes: m.wasmBytes, posted: m.posted, pending: m.pending, events: events.length };
      },
    },
  });
}
