// @ts-check
// The link's promise: "it restores these settings (same seed and backend, same picture)". The picture on screen is
// the one a fresh load of the page's link paints: after the transparency switch and an example, after Continue
// (the link carries the steps it added), and after Stop and Continue (the run resumes where it stopped).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  browserFor,
  open,
  pixelDifference,
  screenshot,
  servedSite,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';

const site = servedSite();
/** @param {import('playwright-core').Page} page */
const link = (page) => page.evaluate(() => location.hash);
/** @param {import('playwright-core').Page} page @param {number} id */
const doneCount = (page, id) =>
  page.evaluate((id) => window.filterlens.events.filter((e) => e.type === 'done' && e.id === id).length, id);

test(
  'transparency ticked, then an example: the box, the link and the picture agree with a fresh load',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=lucid&layer=conv1_2&filter=0&grid=6&size=64&steps=8&backend=flex`,
    );
    await waitForDone(page, 240_000);
    await page.locator('#transparency').check();
    await page.waitForFunction(() => location.hash.includes('transparency=1'));
    // An example without transparency: the link, the box and the picture lose it.
    await page.getByRole('link', { name: 'edges and colours (conv1_2)' }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.steps === 64);
    await waitForDone(page, 240_000);
    assert.equal(await page.locator('#transparency').isChecked(), false);
    assert.doesNotMatch(await link(page), /transparency/);
    const shown = await snapshot(page);
    const alpha = /** @type {number[]} */ (shown.data).filter(
      (_, i) => i % 4 === 3 && /** @type {number[]} */ (shown.data)[i] < 255,
    ).length;
    assert.equal(alpha, 0, 'no pixel is faded');

    const fresh = await open(browser, `${site.url}dist/${await link(page)}`);
    await waitForDone(fresh, 240_000);
    assert.equal(pixelDifference(shown, await snapshot(fresh)), 0, 'the same picture as a fresh load of the link');
  },
);

test(
  'Continue: the link carries the steps it added and reopens at the same picture',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    for (const mode of ['classic', 'lucid']) {
      const page = await open(
        browser,
        `${site.url}dist/#mode=${mode}&layer=conv2_1&filter=3&size=64&steps=5&seed=4&backend=flex`,
      );
      await waitForDone(page, 240_000);
      const id = await page.evaluate(() => window.filterlens.runId);
      assert.equal(await page.locator('#continue').textContent(), 'Continue (+5 steps)');
      await page.locator('#continue').click();
      await page.waitForFunction(
        ([id]) => window.filterlens.events.filter((e) => e.type === 'done' && e.id === id).length === 2,
        [id],
        { timeout: 240_000 },
      );
      assert.match(await link(page), /&steps=10&/, `${mode}: the link says 10 steps`);
      assert.equal(await page.locator('#steps-n').inputValue(), '10');
      assert.equal(await page.evaluate(() => window.filterlens.runId), id, 'Continue restarts nothing');
      const continued = await snapshot(page);
      const [last] = (await waitForSteps(page, 10)).slice(-1);

      const fresh = await open(browser, `${site.url}dist/${await link(page)}`);
      const [again] = (await waitForSteps(fresh, 10, 240_000)).slice(-1);
      await waitForDone(fresh);
      assert.equal(again.activation, last.activation, `${mode}: the activation at step 10`);
      assert.equal(pixelDifference(continued, await snapshot(fresh)), 0, `${mode}: the same picture`);
      await page.context().close();
      await fresh.context().close();
    }
  },
);

test(
  'Stop keeps the run: Continue resumes it to its end, the picture of an uninterrupted run',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const hash = '#mode=lucid&layer=conv2_2&filter=7&size=64&steps=40&seed=1&backend=flex';
    const page = await open(browser, `${site.url}dist/${hash}`);
    await waitForSteps(page, 5, 240_000);
    await page.locator('#stop').click();
    await page.waitForFunction(
      () => /stopped at step \d+\/40/.test(document.getElementById('status')?.textContent ?? ''),
      null,
      { timeout: 120_000 },
    );
    const stoppedAt = Number((await page.locator('#status').textContent())?.match(/stopped at step (\d+)/)?.[1]);
    assert.ok(stoppedAt < 40, `stopped at ${stoppedAt}`);
    assert.ok(await page.locator('#continue').isVisible(), 'a stopped run can be resumed');
    assert.equal(await page.locator('#continue').textContent(), 'Continue (to step 40)');
    await screenshot(page, 'promise-stopped');
    const id = await page.evaluate(() => window.filterlens.runId);
    await page.locator('#continue').click();
    await page.waitForFunction((id) => window.filterlens.events.some((e) => e.type === 'done' && e.id === id), id, {
      timeout: 240_000,
    });
    const steps = await page.evaluate(
      (id) => window.filterlens.events.filter((e) => e.type === 'step' && e.id === id).map((e) => e.step),
      id,
    );
    assert.deepEqual(
      steps,
      Array.from({ length: 40 }, (_, i) => i + 1),
      'every step once, in order',
    );
    assert.equal(await doneCount(page, id), 1);
    assert.match(await link(page), /&steps=40&/, 'the link is unchanged');

    const uninterrupted = await open(browser, `${site.url}dist/${hash}`);
    await waitForDone(uninterrupted, 240_000);
    assert.equal(
      pixelDifference(await snapshot(page), await snapshot(uninterrupted)),
      0,
      'the picture of the uninterrupted run',
    );
  },
);
