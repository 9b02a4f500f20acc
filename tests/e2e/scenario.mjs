// @ts-check
// The core browser scenario, run once with a WebGPU adapter and once without (Flex): the weights load with
// progress, a run paints step after step, the picture changes, the activation rises, the main thread stays free.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DIST,
  backendInfo,
  browserFor,
  canvasShot,
  events,
  longTasks,
  open,
  pixelDifference,
  screenshot,
  snapshot,
  waitForSteps,
} from './helpers.mjs';

/** @typedef {import('../../www/weights.js').FileEntry} FileEntry */
/** @typedef {import('../../www/weights.js').Part} Part */

const manifest = () =>
  /** @type {{ files: FileEntry[] }} */ (JSON.parse(readFileSync(path.join(DIST, 'weights/manifest.json'), 'utf8')));

/** `site` serves the repository root, so the page lives under the sub-path /dist/.
 *  @param {import('node:test').TestContext} t
 *  @param {{ site: { url: string }, webgpu: boolean, name: string }} options */
export async function paintsAndRises(t, { site, webgpu, name }) {
  const browser = await browserFor(t, { webgpu });
  // WebGPU by name: `auto` prefers Flex over SwiftShader, a software adapter (webgpu.test.mjs checks that).
  const hash = `#layer=conv2_1&filter=3&steps=60&stepSize=2&size=64&seed=7&backend=${webgpu ? 'wgpu' : 'auto'}`;
  const page = await open(browser, `${site.url}dist/${hash}`);

  await waitForSteps(page, 2, 240_000);
  const a = await snapshot(page);
  const shotA = await canvasShot(page);

  // The weights conv2_1 needs arrived with progress reports (first-visit.test.mjs sees reports mid-download, on a
  // paced link), were checked, and the backend is the one expected.
  const weights = await events(page, 'weights');
  const progress = weights.filter((e) => e.phase === 'progress' && !e.background);
  const expected = /** @type {Part} */ (
    /** @type {FileEntry} */ (manifest().files.find((f) => f.file === 'vgg16-f16.safetensors')).parts.find(
      (p) => p.name === 'conv2_1',
    )
  ).end;
  assert.ok(progress.length >= 1, `progress reports: ${JSON.stringify(progress)}`);
  assert.equal(progress.at(-1).loaded, expected);
  assert.ok(
    progress.every((e) => e.total === expected && e.layer === 'conv2_1'),
    JSON.stringify(progress),
  );
  assert.ok(weights.some((e) => e.phase === 'ready' && e.source === 'network' && e.layer === 'conv2_1'));
  assert.match(/** @type {string} */ (await page.locator('#weights-text').textContent()), /SHA-256 checked/);

  const [backend] = await backendInfo(page);
  const status = /** @type {string} */ (await page.locator('#status').textContent());
  if (webgpu) {
    assert.equal(backend.backend, 'wgpu', JSON.stringify(backend));
    assert.equal(backend.adapter?.software, true, `SwiftShader is a software adapter: ${JSON.stringify(backend)}`);
    assert.match(status, /WebGPU \(.*software\)/);
  } else {
    assert.equal(backend.backend, 'flex', JSON.stringify(backend));
    assert.deepEqual(backend.fallback, { kind: 'noAdapter' });
    assert.match(status, /Flex/);
    assert.match(/** @type {string} */ (await page.locator('#notices').textContent()), /WebGPU/);
  }

  // At least five more painted steps; the picture (worker pixels and the visible canvas) changes.
  const later = await waitForSteps(page, a.step + 5, 300_000);
  await screenshot(page, `${name}-mid-run`);
  const b = await snapshot(page);
  const shotB = await canvasShot(page);
  assert.equal(a.width, 64);
  assert.ok(b.step >= a.step + 5, `steps ${a.step} -> ${b.step}`);
  const diff = pixelDifference(a, b);
  assert.ok(diff > 1, `mean pixel difference between step ${a.step} and ${b.step}: ${diff}`);
  assert.notEqual(Buffer.compare(shotA, shotB), 0, 'the visible canvas changes');

  // The activation rises; the status line says where the run is.
  const activations = later.map((s) => s.activation);
  assert.ok(activations.at(-1) > activations[0] * 1.5 && activations.at(-1) > 0, `activations ${activations}`);
  const statusNow = /** @type {string} */ (await page.locator('#status').textContent());
  assert.match(
    statusNow,
    /step \d+\/60 · [\d.]+ ms\/step · (about [\d.]+ (s|min|h) left · |estimating the time left… · )?activation [\d.]+/,
  );

  // The main thread was never blocked for 200 ms or more while the run went on: measured over three steps with
  // nothing else asked of the page (screenshots block its thread themselves).
  const quietSince = await page.evaluate(() => performance.now());
  await waitForSteps(page, later.length + 3, 300_000);
  const tasks = await longTasks(page, quietSince);
  const worst = Math.max(0, ...tasks.map((t) => t.duration));
  assert.ok(worst < 200, `main-thread long tasks during the run: ${JSON.stringify(tasks)}`);

  // Read after the first painted step: the first run's step times and the weights' are set.
  const timing =
    /** @type {{ runs: { firstStepAt: number, firstStepSinceStart: number }[], weights: { millis: number } }} */ (
      await page.evaluate(() => window.filterlens.metrics)
    );
  t.diagnostic(
    `${name}: first painted step ${Math.round(timing.runs[0].firstStepAt)} ms after navigation ` +
      `(${Math.round(timing.runs[0].firstStepSinceStart)} ms after the run started); weights ${Math.round(timing.weights.millis)} ms; ` +
      `ms/step ${later
        .slice(-5)
        .map((s) => s.totalMillis.toFixed(1))
        .join(', ')}; worst long task ${worst.toFixed(0)} ms`,
  );
  return { browser, page };
}
