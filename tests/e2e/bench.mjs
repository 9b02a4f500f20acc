// @ts-check
// Browser benchmark (not a test): time to the first painted step and ms/step in headless Chromium, for WebGPU
// (SwiftShader, a software adapter: a lower bound, not a GPU figure) and Flex, at 128 px on conv3_1: Flex's
// single-threaded build (no isolation) and the threaded one on 1, 2 and all cores; then the default demo (conv3_2,
// 224 px, 150 classic steps) to its last step, single-threaded and on all cores.
//
//   node tests/e2e/bench.mjs [steps] [only]   (after make dist; writes tests/e2e/artifacts/bench-web.json; `only`:
//                                             the rows whose name contains it)

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, launch, openContext, openPage, screenshot, waitForDone } from './helpers.mjs';
import { NO_SERVICE_WORKER, serve } from './server.mjs';

const steps = Number(process.argv[2] || 12);
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const isolated = await serve(DIST);
// No isolation headers, and a service worker that cannot install (as on a host where isolation is impossible):
// the single-threaded build, with no wait for isolation.
const plain = await serve(DIST, { isolate: false, answer: NO_SERVICE_WORKER });
const all = Math.min(cpus().length, 8);
const quick = `#layer=conv3_1&filter=0&steps=${steps}&stepSize=2&size=128&seed=0`;
const demo = '#layer=conv3_2&filter=0&steps=150&stepSize=2&size=224&seed=0';
const cases = [
  { name: 'WebGPU (SwiftShader)', webgpu: true, backend: 'wgpu', link: quick, site: isolated, build: 'pkg' },
  { name: 'Flex, single-threaded build', webgpu: false, backend: 'flex', link: quick, site: plain, build: 'pkg' },
  ...[...new Set([1, 2, all])].map((threads) => ({
    name: `Flex, threaded build, ${threads} thread${threads > 1 ? 's' : ''}`,
    webgpu: false,
    backend: 'flex',
    link: `${quick}&threads=${threads}`,
    site: isolated,
    build: 'pkg-threads',
  })),
  {
    name: 'default demo, single-threaded build',
    webgpu: false,
    backend: 'flex',
    link: demo,
    site: plain,
    build: 'pkg',
  },
  {
    name: `default demo, threaded build, ${all} threads`,
    webgpu: false,
    backend: 'flex',
    link: demo,
    site: isolated,
    build: 'pkg-threads',
  },
];
const results = [];
const only = process.argv[3] ?? '';
for (const { name, webgpu, backend, link, site, build } of cases.filter((c) => c.name.includes(only))) {
  const browser = await launch({ webgpu });
  try {
    const page = await openPage(await openContext(browser), `${site.url}${link}&backend=${backend}`);
    await waitForDone(page, 1_200_000);
    const m = await page.evaluate(() => ({
      metrics: window.filterlens.metrics,
      steps: window.filterlens.events.filter((e) => e.type === 'step'),
      backend: window.filterlens.events.find((e) => e.type === 'backend').info,
      cpu: window.filterlens.events.find((e) => e.type === 'cpu'),
    }));
    await screenshot(page, `bench-${results.length}`);
    if (m.backend.backend !== backend) throw new Error(`the ${name} row ran on ${m.backend.backend}, not ${backend}`);
    if (m.cpu.build !== build) throw new Error(`the ${name} row ran the ${m.cpu.build} build, not ${build}`);
    const run = m.metrics.runs[0];
    const later = m.steps.slice(2); // the first steps compile shaders / warm caches
    results.push({
      name,
      backend: m.backend.backend,
      adapter: m.backend.adapter?.name ?? null,
      build: m.cpu.build,
      threads: m.cpu.threads,
      link,
      last_step_since_run_start_ms: Math.round(m.steps.at(-1).sinceStart),
      weights_ms: Math.round(/** @type {NonNullable<typeof m.metrics.weights>} */ (m.metrics.weights).millis),
      first_step_since_navigation_ms: Math.round(/** @type {number} */ (run.firstStepAt)),
      first_step_since_run_start_ms: Math.round(/** @type {number} */ (run.firstStepSinceStart)),
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
await isolated.close();
await plain.close();
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(path.join(ARTIFACTS, 'bench-web.json'), `${JSON.stringify({ steps, results }, null, 2)}\n`);
