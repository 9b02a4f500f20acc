// @ts-check
// Browser benchmark (not a test): time to the first painted step and ms/step in headless Chromium, for WebGPU
// (SwiftShader, a software adapter: a lower bound, not a GPU figure) and Flex, at 128 px on conv3_1.
//
//   node tests/e2e/bench.mjs [steps]     (after make dist; writes tests/e2e/artifacts/bench-web.json)

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, DIST, launch, openContext, openPage, screenshot, waitForDone } from './helpers.mjs';
import { serve } from './server.mjs';

const steps = Number(process.argv[2] || 12);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const site = await serve(DIST);
const results = [];
for (const { name, webgpu, backend } of [
  { name: 'WebGPU (SwiftShader)', webgpu: true, backend: 'wgpu' },
  { name: 'Flex', webgpu: false, backend: 'flex' },
]) {
  const browser = await launch({ webgpu });
  try {
    const page = await openPage(await openContext(browser), `${site.url}#layer=conv3_1&filter=0&steps=${steps}&stepSize=2&size=128&seed=0&backend=${backend}`);
    await waitForDone(page, 1_200_000);
    const m = await page.evaluate(() => ({
      metrics: window.filterlens.metrics,
      steps: window.filterlens.events.filter((e) => e.type === 'step'),
      backend: window.filterlens.events.find((e) => e.type === 'backend').info,
    }));
    await screenshot(page, `bench-${backend}`);
    if (m.backend.backend !== backend) throw new Error(`the ${name} row ran on ${m.backend.backend}, not ${backend}`);
    const run = m.metrics.runs[0];
    const later = m.steps.slice(2); // the first steps compile shaders / warm caches
    results.push({
      name,
      backend: m.backend.backend,
      adapter: m.backend.adapter?.name ?? null,
      weights_ms: Math.round(m.metrics.weights.millis),
      first_step_since_navigation_ms: Math.round(run.firstStepAt),
      first_step_since_run_start_ms: Math.round(run.firstStepSinceStart),
      first_step_ms: Math.round(m.steps[0].totalMillis),
      median_ms_per_step: Number(median(later.map((s) => s.totalMillis)).toFixed(1)),
      median_core_step_ms: Number(median(later.map((s) => s.millis)).toFixed(1)),
      steps: m.steps.length,
    });
    console.log(JSON.stringify(results.at(-1)));
  } finally {
    await browser.close();
  }
}
await site.close();
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(path.join(ARTIFACTS, 'bench-web.json'), `${JSON.stringify({ steps, layer: 'conv3_1', size: 128, results }, null, 2)}\n`);
