// @ts-check
// Browser benchmark (not a test): each engine side by side in one sitting, on the CPU path it offers here (none
// offers WebGPU on Linux without a GPU): a first visit to the landing link (a lucid grid of six at 64 px, 64 steps)
// to its first picture and to its end, and classic steps at conv3_1, 128 px. Rounds alternate the engines, so a
// machine's slow moment falls on all of them; medians over the rounds.
//
//   node tests/e2e/bench-engines.mjs [rounds]   (after make dist; writes tests/e2e/artifacts/bench-engines.json)

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tabIn } from './engines.mjs';
import { ARTIFACTS, ROOT } from './helpers.mjs';
import { serve } from './server.mjs';

const rounds = Number(process.argv[2] || 3);
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const site = await serve(ROOT);
const links = {
  landing: `${site.url}dist/`,
  classic: `${site.url}dist/?bench#layer=conv3_1&filter=0&steps=12&stepSize=2&size=128&seed=0&mode=classic`,
};

/** One visit to `url` in `tab` to the run's end: when its first picture and its last came (ms since navigation),
 *  its median ms/step after two (steps in the core, and with painting), and the build.
 *  @param {import('./engines.mjs').Tab} tab @param {string} url */
async function visit(tab, url) {
  await tab.goto(url);
  await tab.waitFor(
    () => window.filterlens.events.some((e) => e.type === 'done' && e.id === window.filterlens.runId),
    undefined,
    1_200_000,
  );
  const m = await tab.evaluate(() => {
    const run = /** @type {import('../../www/state.js').Run} */ (
      window.filterlens.metrics.runs.find((r) => r.id === window.filterlens.runId)
    );
    const steps = window.filterlens.events.filter((e) => e.type === 'step' && e.id === run.id);
    return {
      firstStepAt: /** @type {number} */ (run.firstStepAt),
      lastStepAt: run.requestedAt + /** @type {any} */ (steps.at(-1)).sinceStart,
      millis: steps.map((s) => /** @type {any} */ (s).totalMillis),
      core: steps.map((s) => /** @type {any} */ (s).millis),
      cpu: window.filterlens.events.find((e) => e.type === 'cpu'),
    };
  });
  return {
    first_picture_s: Number((m.firstStepAt / 1000).toFixed(1)),
    done_s: Number((m.lastStepAt / 1000).toFixed(1)),
    ms_per_step: Math.round(median(m.millis.slice(2))),
    core_ms_per_step: Math.round(median(m.core.slice(2))),
    build: /** @type {any} */ (m.cpu).build,
    threads: /** @type {any} */ (m.cpu).threads,
  };
}

/** @type {Record<string, any[]>} */
const results = { chromium: [], firefox: [], webkit: [] };
for (let round = 0; round < rounds; round++) {
  for (const engine of /** @type {const} */ (['chromium', 'firefox', 'webkit'])) {
    /** @type {(() => unknown)[]} */
    const closing = [];
    try {
      const tab = await tabIn(engine, (close) => closing.push(close));
      const landing = await visit(tab, links.landing);
      const classic = await visit(tab, links.classic);
      results[engine].push({ landing, classic });
      console.log(JSON.stringify({ round, engine, landing, classic }));
    } finally {
      for (const close of closing.reverse()) await close();
    }
  }
}
await site.close();
/** @param {any[]} rows @param {(r: any) => number} f */
const mid = (rows, f) => median(rows.map(f));
const summary = Object.entries(results).map(([engine, rows]) => ({
  engine,
  build: `${rows[0].landing.build}, ${rows[0].landing.threads} thread${rows[0].landing.threads > 1 ? 's' : ''}`,
  landing_first_picture_s: mid(rows, (r) => r.landing.first_picture_s),
  landing_done_s: mid(rows, (r) => r.landing.done_s),
  landing_ms_per_step: mid(rows, (r) => r.landing.ms_per_step),
  classic_conv3_1_128_ms_per_step: mid(rows, (r) => r.classic.ms_per_step),
  classic_conv3_1_128_core_ms: mid(rows, (r) => r.classic.core_ms_per_step),
}));
console.table(summary);
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(path.join(ARTIFACTS, 'bench-engines.json'), `${JSON.stringify({ rounds, results, summary }, null, 2)}\n`);
