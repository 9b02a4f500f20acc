// @ts-check
// The page over time: many steps, many restarts by slider, then a 64-tile grid. The wasm memory, the page's JS
// heap and the worker's queues are sampled; after warm-up they stay flat. `make soak` runs the long version
// (FILTERLENS_SOAK=long: 2,000 steps, 200 restarts, 3 minutes of grid) and writes docs/soak.svg; make test runs a
// short one.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, DIST, ROOT, browserFor, open, soakPlot, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

const LONG = process.env.FILTERLENS_SOAK === 'long';
const PLAN = LONG ? { steps: 2000, restarts: 200, gridSeconds: 180 } : { steps: 200, restarts: 25, gridSeconds: 15 };
/** Growth allowed between a phase's warm-up and its end. */
const BOUND = 0.1;

test(
  `soak: ${PLAN.steps} steps, ${PLAN.restarts} restarts, ${PLAN.gridSeconds} s of a 64-tile grid; memory stays flat`,
  { timeout: LONG ? 3_600_000 : 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const served = await serve(DIST);
    t.after(() => served.close());
    const page = await open(browser, `${served.url}#layer=conv1_2&filter=3&steps=${PLAN.steps}&size=64&backend=flex`);
    const cdp = await page.context().newCDPSession(page);
    /** @type {{ phase: string, at: number, wasm: number, heap: number, events: number, pending: number }[]} */
    const samples = [];
    const started = Date.now();
    /** @param {string} phase */
    const sample = async (phase) => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      const stats = await page.evaluate(() => window.filterlens.stats());
      samples.push({
        phase,
        at: (Date.now() - started) / 1000,
        wasm: stats.wasmBytes,
        heap: usedSize,
        events: stats.events,
        pending: stats.pending,
      });
    };
    const stepsSoFar = () =>
      page.evaluate(
        () =>
          window.filterlens.run &&
          window.filterlens.events.filter((e) => e.type === 'step' && e.id === window.filterlens.runId).at(-1)?.step,
      );

    // 1. One long run.
    await waitForSteps(page, 20, 240_000);
    await sample('steps');
    for (let done = 0; done < PLAN.steps;) {
      await page.waitForTimeout(2_000);
      done = (await stepsSoFar()) ?? 0;
      await sample('steps');
      if (
        await page.evaluate(() =>
          window.filterlens.events.some((e) => e.type === 'done' && e.id === window.filterlens.runId),
        )
      )
        break;
    }
    // 2. Restarts by slider, each painting at least one step.
    for (let i = 0; i < PLAN.restarts; i++) {
      const before = await page.evaluate(() => window.filterlens.runId);
      await page.locator('#filter').fill(String(i % 64));
      await page.waitForFunction(
        (before) => {
          const f = window.filterlens;
          return f.runId > before && f.events.some((e) => e.type === 'step' && e.id === f.runId);
        },
        before,
        { timeout: 60_000 },
      );
      if (i % 5 === 4) await sample('restarts');
    }
    // 3. A 64-tile grid.
    await page.locator('#grid').selectOption('64');
    await waitForSteps(page, 1, 240_000);
    await sample('grid');
    const gridStart = Date.now();
    while (Date.now() - gridStart < PLAN.gridSeconds * 1000) {
      await page.waitForTimeout(3_000);
      await sample('grid');
    }

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'soak.json'), JSON.stringify({ plan: PLAN, samples }, null, 1));
    const svg = soakPlot(samples);
    writeFileSync(path.join(ARTIFACTS, 'soak.svg'), svg);
    if (LONG) writeFileSync(path.join(ROOT, 'docs', 'soak.svg'), svg);

    // Flat after warm-up: within each phase, from its middle to its end (the first half fills the page's ring of the
    // worker's last 500 messages, which then stays full).
    for (const phase of ['steps', 'restarts', 'grid']) {
      const inPhase = samples.filter((s) => s.phase === phase);
      const [first, last] = [
        inPhase[Math.floor(inPhase.length / 2)],
        /** @type {(typeof samples)[number]} */ (inPhase.at(-1)),
      ];
      for (const key of /** @type {const} */ (['wasm', 'heap'])) {
        const growth = (last[key] - first[key]) / first[key];
        t.diagnostic(
          `${phase}: ${key} ${(first[key] / 1e6).toFixed(1)} → ${(last[key] / 1e6).toFixed(1)} MB (${(100 * growth).toFixed(1)}%)`,
        );
        assert.ok(growth <= BOUND, `${phase}: ${key} grew ${(100 * growth).toFixed(1)}% (bound ${100 * BOUND}%)`);
      }
    }
    assert.ok(
      samples.every((s) => s.events <= 500 && s.pending <= 2),
      'the page keeps a bounded ring; no requests pile up',
    );
    assert.ok(!page.logs.some((l) => l.startsWith('pageerror') || l.startsWith('error')), page.logs.join('\n'));
  },
);
