// @ts-check
// The WebGPU path (SwiftShader, a software WebGPU adapter), the device-lost fallback to Flex.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backendInfo,
  browserFor,
  events,
  open,
  pixelDifference,
  screenshot,
  servedSite,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { paintsAndRises } from './scenario.mjs';

const site = servedSite();

test('WebGPU: weights load with progress, each step paints, the activation rises', { timeout: 600_000 }, async (t) => {
  await paintsAndRises(t, { site, webgpu: true, name: 'webgpu' });
});

test(
  'WebGPU: auto prefers Flex over a software adapter and says why; WebGPU by name still runs there',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: true });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&filter=0&steps=400&size=64&backend=auto`);
    await waitForSteps(page, 2, 240_000);
    const [auto] = await backendInfo(page);
    assert.deepEqual(
      [auto.requested, auto.backend, auto.fallback, auto.adapter?.software],
      ['auto', 'flex', { kind: 'softwareAdapter' }, true],
    );
    assert.match(
      /** @type {string} */ (await page.locator('#notices').textContent()),
      /draws in software, which is slower than the CPU path/,
    );
    assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /Flex/);
    await page.locator('#backend').selectOption('wgpu');
    await page.waitForFunction(
      () => window.filterlens.events.some((e) => e.type === 'step' && e.backend === 'wgpu'),
      null,
      { timeout: 240_000 },
    );
    assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /WebGPU/);
  },
);

test(
  'WebGPU: a lost device falls back to Flex and the run carries on from its picture',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: true });
    const page = await open(
      browser,
      `${site.url}dist/#layer=conv1_2&filter=5&steps=400&stepSize=2&size=64&seed=3&backend=wgpu`,
    );
    await waitForSteps(page, 1, 240_000);
    const start = await snapshot(page);
    await waitForSteps(page, 30, 240_000);
    const before = await snapshot(page);
    await page.evaluate(() => window.filterlens.loseDevice());
    await page.waitForFunction(
      () => window.filterlens.events.some((e) => e.type === 'backend' && e.info.fallback?.kind === 'deviceLost'),
      null,
      { timeout: 120_000 },
    );
    // The first Flex picture continues the last WebGPU one: a few steps of 2/255 away from it, where the run has
    // moved far from its start (a restart, even with the same seed, would be back near the start).
    const after = await snapshot(page);
    const carried = pixelDifference(before, after);
    const travelled = pixelDifference(start, before);
    assert.ok(after.step - before.step <= 5, `snapshots at steps ${before.step} and ${after.step}`);
    assert.ok(
      carried < 4 && carried < travelled / 3,
      `grey levels: ${carried} from the last WebGPU picture, ${travelled} travelled before`,
    );
    const steps = await waitForSteps(page, before.step + 6, 240_000);
    const lost = (await events(page, 'lost'))[0];
    assert.equal(lost.destroyed, true);
    const flexSteps = steps.filter((s) => s.backend === 'flex');
    assert.ok(flexSteps.length >= 3, 'steps after the loss run on Flex');
    // The step count carries on (no restart from step 1), and the run keeps climbing.
    const first = flexSteps[0];
    assert.ok(first.step > before.step - 1, `first Flex step ${first.step}, before the loss ${before.step}`);
    assert.equal(first.backendChange?.fallback?.kind, 'deviceLost', JSON.stringify(first));
    assert.ok(flexSteps.at(-1).activation >= steps[0].activation);
    assert.match(/** @type {string} */ (await page.locator('#notices').textContent()), /carrying on with Flex/);
    assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /Flex/);
    await screenshot(page, 'webgpu-device-lost');
  },
);

test(
  'WebGPU: the same link gives the same picture (same seed, same backend), in classic and lucid mode',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: true });
    for (const mode of ['mode=classic&stepSize=2', 'mode=lucid&lr=0.05']) {
      const link = `${site.url}dist/#${mode}&layer=conv1_2&filter=9&steps=4&size=64&seed=99&backend=wgpu`;
      const pictures = [];
      for (let i = 0; i < 2; i++) {
        const page = await open(browser, link);
        const steps = await waitForSteps(page, 4, 240_000);
        await waitForDone(page, 240_000);
        const [backend] = await backendInfo(page);
        assert.equal(backend.backend, 'wgpu');
        assert.ok(
          steps.every((s) => s.backend === 'wgpu'),
          `${mode}: every step on WebGPU`,
        );
        assert.ok(steps.at(-1).activation > steps[0].activation, `${mode}: the activation rises on WebGPU`);
        pictures.push(await snapshot(page));
        await page.close();
      }
      assert.equal(pictures[0].step, 4);
      assert.equal(pixelDifference(pictures[0], pictures[1]), 0, `${mode}: pixel for pixel`);
    }
  },
);
