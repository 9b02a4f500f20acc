// @ts-check
// The CPU path: no WebGPU adapter (this Chromium without the SwiftShader flags), so `auto` runs on Flex.
// Also: live slider restarts, Stop, the share link, the weights cache, serving from the site's root.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DIST,
  INSECURE_HOST,
  INSECURE_HOST_ARGS,
  backendInfo,
  browserFor,
  events,
  lastRequest,
  longTasks,
  neighbourCorrelation,
  open,
  openContext,
  openPage,
  pixelDifference,
  screenshot,
  servedSite,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { paintsAndRises } from './scenario.mjs';
import { serve } from './server.mjs';

const site = servedSite();

test('Flex: weights load with progress, each step paints, the activation rises', { timeout: 600_000 }, async (t) => {
  await paintsAndRises(t, { site, webgpu: false, name: 'flex' });
});

test('moving a slider restarts the run with the new layer and filter; Stop stops', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(
    browser,
    `${site.url}dist/#layer=conv1_2&filter=1&steps=500&stepSize=2&size=64&seed=0&backend=flex`,
  );
  await waitForSteps(page, 3, 240_000);
  const firstRun = await page.evaluate(() => window.filterlens.runId);
  const since = await page.evaluate(() => performance.now());

  // Drag the layer slider to conv2_2 (index 3), then the filter slider to 100: a new run with both.
  await page.locator('#layer').fill('3');
  await page.locator('#filter').fill('100');
  const changedAt = Date.now();
  await page.waitForFunction(
    (firstRun) => window.filterlens.events.some((e) => e.type === 'step' && e.id > firstRun),
    firstRun,
    { timeout: 60_000, polling: 50 },
  );
  const latency = Date.now() - changedAt;
  const s = await page.evaluate(() => window.filterlens.settings);
  assert.equal(s.layer, 'conv2_2');
  assert.equal(s.filter, 100);
  assert.match(await page.evaluate(() => location.hash), /layer=conv2_2&filter=100/);
  assert.equal(await page.locator('#filter').getAttribute('max'), '127');
  assert.equal(await page.locator('#layer-name').inputValue(), 'conv2_2');
  const request = await lastRequest(page);
  assert.deepEqual(
    { layer: request.layer, filters: request.filters },
    { layer: 'conv2_2', filters: [100] },
    'the slider drags coalesce into a run with the final values',
  );
  await page.waitForTimeout(600); // more than the restart delay: a second run would have started by now
  assert.equal(await page.evaluate(() => window.filterlens.runId), firstRun + 1, 'exactly one new run after the burst');
  t.diagnostic(`first step of the new run ${latency} ms after the slider moved (incl. the 250 ms debounce)`);
  // The bound scales with this machine's pace: the debounce, a step of the old run finishing, one of the new.
  const stepMillis = (await waitForSteps(page, 3)).at(-1).totalMillis;
  assert.ok(
    latency < 2_000 + 4 * stepMillis,
    `the new run painted ${latency} ms after the slider moved (${stepMillis} ms/step)`,
  );
  const screenshotAt = await page.evaluate(() => performance.now());
  await screenshot(page, 'flex-after-slider');

  // Stop: once the worker confirms (a step in flight lands first), no more steps arrive.
  const stopped = (await events(page, 'stopped')).length;
  await page.locator('#stop').click();
  await page.waitForFunction((n) => window.filterlens.events.filter((e) => e.type === 'stopped').length > n, stopped);
  const count = (await events(page, 'step')).length;
  await page.waitForTimeout(1_500);
  assert.equal((await events(page, 'step')).length, count, 'no steps after Stop');
  assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /stopped/);

  // Start starts again.
  await page.locator('#start').click();
  await waitForSteps(page, 2);

  // No long task while the sliders moved and the runs went on (the screenshot above blocks the thread itself).
  const tasks = (await longTasks(page, since)).filter(
    (task) => task.start < screenshotAt || task.start > screenshotAt + 2_000,
  );
  assert.ok(
    tasks.every((t) => t.duration < 200),
    `long tasks: ${JSON.stringify(tasks)}`,
  );
});

test(
  'a share link restores the settings and, with the same seed and backend, the same picture',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await openPage(context, `${site.url}dist/#backend=flex&size=64`);
    await waitForSteps(page, 1, 240_000);

    // Set things up through the controls, as a person would.
    await page.locator('#layer-name').selectOption('conv2_1');
    await page.locator('#filter-n').fill('42');
    await page.locator('#filter-n').press('Enter');
    await page.locator('#steps-n').fill('12');
    await page.locator('#steps-n').press('Enter');
    await page.locator('#step-n').fill('3');
    await page.locator('#step-n').press('Enter');
    await page.locator('#seed-n').fill('1234');
    await page.locator('#seed-n').press('Enter');
    await page.waitForFunction(
      () => window.filterlens.settings.seed === 1234 && window.filterlens.settings.steps === 12,
    );
    await page.waitForFunction(() => window.filterlens.run?.request.seed === 1234, null, { timeout: 10_000 });
    await waitForDone(page, 240_000);
    const original = await snapshot(page);
    assert.equal(original.step, 12);

    await page.locator('#copy').click();
    const link = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(
      link,
      /#mode=classic&model=vgg16&layer=conv2_1&filter=42&grid=1&objective=channel&preRelu=false&minimise=false&diversity=0&accentuate=0&steps=12&size=64&stepSize=3&jitter=0&seed=1234&backend=flex$/,
    );
    assert.match(/** @type {string} */ (await page.locator('#notices').textContent()), /Link copied/);

    // Open the link elsewhere (a fresh context: nothing shared but the link).
    const other = await open(browser, link);
    const restored = await other.evaluate(() => window.filterlens.settings);
    assert.deepEqual(restored, {
      mode: 'classic',
      model: 'vgg16',
      layer: 'conv2_1',
      filter: 42,
      grid: 1,
      objective: 'channel',
      preRelu: false,
      minimise: false,
      diversity: 0,
      accentuate: 0,
      steps: 12,
      stepSize: 3,
      lr: 0.05,
      jitter: 0,
      crops: 4,
      size: 64,
      seed: 1234,
      backend: 'flex',
      preprocess: 'torchvision',
      modelUrl: '',
      modelSha256: '',
      threads: 0,
      towards: -1,
      expressions: '',
      transparency: false,
    });
    assert.equal(await other.locator('#layer-name').inputValue(), 'conv2_1');
    assert.equal(await other.locator('#filter-n').inputValue(), '42');
    assert.equal(await other.locator('#seed-n').inputValue(), '1234');
    await waitForDone(other, 240_000);
    const copy = await snapshot(other);
    assert.equal(copy.step, 12);
    assert.equal(pixelDifference(original, copy), 0, 'same link, same picture, pixel for pixel');
    await screenshot(other, 'flex-share-link');

    // A link pasted into an open page (only the hash changes) applies too; an older link's `step` is the step size.
    const before = await other.evaluate(() => window.filterlens.runId);
    await other.evaluate(() => {
      location.hash = '#layer=conv1_1&filter=7&steps=5&step=1.5&size=64&seed=5&backend=flex';
    });
    await other.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.equal(await other.locator('#layer-name').inputValue(), 'conv1_1');
    assert.equal(await other.locator('#filter-n').inputValue(), '7');
    assert.equal(await other.locator('#step-n').inputValue(), '1.5');
    assert.deepEqual(await lastRequest(other), {
      mode: 'classic',
      model: 'vgg16',
      layer: 'conv1_1',
      filters: [7],
      objective: 'channel',
      preRelu: false,
      minimise: false,
      diversity: 0,
      accentuate: 0,
      steps: 5,
      stepSize: 1.5,
      size: 64,
      jitter: 0,
      seed: 5,
    });
    assert.equal(await other.evaluate(() => window.filterlens.run?.fromImage), false);
  },
);

test(
  'a second visit takes the weights from Cache Storage; the site also works from its root',
  { timeout: 600_000 },
  async (t) => {
    const root = await serve(DIST);
    t.after(() => root.close());
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    const weightsPath = '/weights/vgg16-f16.safetensors';

    const first = await openPage(context, `${root.url}#layer=conv1_1&filter=0&steps=3&size=64&backend=flex`);
    await waitForSteps(first, 1, 240_000);
    // conv1_1's part of the file, then (after the first picture) the rest: two byte ranges.
    await first.waitForFunction(() =>
      window.filterlens.events.some((e) => e.type === 'weights' && e.phase === 'ready' && e.complete),
    );
    assert.equal(root.requests.filter((p) => p === weightsPath).length, 2);
    await first.close();

    const second = await openPage(context, `${root.url}#layer=conv1_1&filter=0&steps=3&size=64&backend=flex`);
    await waitForSteps(second, 1, 240_000);
    await second.waitForFunction(() =>
      window.filterlens.events.some((e) => e.type === 'weights' && e.phase === 'ready' && e.complete),
    );
    assert.equal(root.requests.filter((p) => p === weightsPath).length, 2, 'the weights were not downloaded again');
    const ready = (await events(second, 'weights')).find((e) => e.phase === 'ready');
    assert.equal(ready.source, 'cache');
    assert.match(/** @type {string} */ (await second.locator('#weights-text').textContent()), /from cache/);
  },
);

test(
  'a dead filter (silent on the starting noise) switches to its pre-ReLU activation, and the page says so',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    // conv5_3 filter 0 is zero everywhere after its ReLU on the seed-0 noise at 64 px.
    const page = await open(browser, `${site.url}dist/#layer=conv5_3&filter=0&steps=3&size=64&seed=0&backend=flex`);
    const steps = await waitForSteps(page, 2, 240_000);
    assert.deepEqual(steps[0].switchedToPreRelu, [0]);
    assert.ok(steps.every((s) => s.preRelu[0]));
    assert.match(
      /** @type {string} */ (await page.locator('#notices').textContent()),
      /Filter 0 of conv5_3 is silent on the starting noise/,
    );
    assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /\(pre-ReLU\)/);
    await screenshot(page, 'flex-dead-filter');
  },
);

test('asking for WebGPU where there is none runs on Flex and says why', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#layer=conv1_1&filter=0&steps=3&size=64&backend=wgpu`);
  await waitForSteps(page, 1, 240_000);
  const [backend] = await backendInfo(page);
  assert.deepEqual([backend.requested, backend.backend, backend.fallback], ['wgpu', 'flex', { kind: 'noAdapter' }]);
  assert.match(/** @type {string} */ (await page.locator('#notices').textContent()), /WebGPU was asked for/);
  assert.equal(await page.locator('#backend').inputValue(), 'wgpu', 'the choice stays as the link says');
});

test(
  "the original demo, one click from the landing, is the seed's (conv3_2 filter 0, 150 steps of 2/255, 224 px) and a texture forms",
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/`);
    await page.getByRole('link', { name: "the original blog post's demo (classic, conv3_2)" }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.mode === 'classic');
    assert.deepEqual(await page.evaluate(() => window.filterlens.settings), {
      mode: 'classic',
      model: 'vgg16',
      layer: 'conv3_2',
      filter: 0,
      grid: 1,
      objective: 'channel',
      preRelu: false,
      minimise: false,
      diversity: 0,
      accentuate: 0,
      steps: 150,
      stepSize: 2,
      lr: 0.05,
      jitter: 0,
      crops: 4,
      size: 224,
      seed: 0,
      backend: 'auto',
      threads: 0,
      towards: -1,
      expressions: '',
      transparency: false,
      preprocess: 'torchvision',
      modelUrl: '',
      modelSha256: '',
    });
    assert.equal(
      await page.evaluate(() => location.hash),
      '#mode=classic&model=vgg16&layer=conv3_2&filter=0&grid=1&objective=channel&preRelu=false&minimise=false&diversity=0&accentuate=0&steps=150&size=224&stepSize=2&jitter=0&seed=0&backend=auto',
    );
    const steps = await waitForSteps(page, 6, 400_000);
    const picture = await snapshot(page);
    assert.equal(picture.width, 224);
    const structure = neighbourCorrelation(picture);
    t.diagnostic(
      `conv3_2 filter 0 at step ${picture.step}: neighbour correlation ${structure.toFixed(2)} (noise: about 0); ` +
        `${steps.at(-1).totalMillis.toFixed(0)} ms/step on Flex at 224 px`,
    );
    assert.ok(structure > 0.25, `a texture forms (neighbour correlation ${structure})`);
    assert.ok(steps.at(-1).activation > steps[0].activation);
    await screenshot(page, 'demo-conv3_2-flex');
  },
);

test(
  'over plain http from another host (no WebCrypto, no Cache Storage) the weights are still checked',
  { timeout: 600_000 },
  async (t) => {
    // The other host is a name the browser maps to loopback: not a secure context, and no traffic leaves the machine.
    const port = new URL(site.url).port;
    const browser = await browserFor(t, { webgpu: false, args: INSECURE_HOST_ARGS });
    const page = await open(
      browser,
      `http://${INSECURE_HOST}:${port}/dist/#layer=conv1_1&filter=2&steps=3&size=64&backend=auto`,
    );
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await waitForSteps(page, 2, 240_000);
    const ready = (await events(page, 'weights')).find((e) => e.phase === 'ready');
    assert.equal(ready.source, 'network');
    assert.match(/** @type {string} */ (await page.locator('#weights-text').textContent()), /SHA-256 checked/);
    assert.match(/** @type {string} */ (await page.locator('#notices').textContent()), /plain http from another host/);
  },
);
