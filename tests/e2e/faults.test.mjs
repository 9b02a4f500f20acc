// @ts-check
// Faults in the middle: the weights download breaks off, the worker crashes, Cache Storage is full.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIST, browserFor, open, openContext, openPage, snapshot, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

const WEIGHTS = /\.safetensors$/;

test(
  'a weights download cut halfway says so, and Retry loads it once the server delivers',
  { timeout: 300_000 },
  async (t) => {
    let cutting = true;
    const site = await serve(DIST, { cut: (path) => (cutting && WEIGHTS.test(path) ? 10_000_000 : null) });
    t.after(() => site.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}#layer=conv5_3&steps=3&size=64&backend=flex`); // needs the whole file
    await page.locator('#weights-error').waitFor({ state: 'visible', timeout: 120_000 });
    // Of the whole file, or of what remained after the layers that came in whole (the waiting run may ask once more,
    // and is cut again).
    assert.match(
      /** @type {string} */ (await page.locator('#weights-error-text').textContent()),
      /broke off after [\d.]+ MB of [\d.]+ MB.*Retry/,
    );
    cutting = false;
    await page.evaluate(() => window.filterlens.events.splice(0)); // forget the failure
    await page.locator('#retry').click();
    await waitForSteps(page, 1, 240_000);
    assert.ok(await page.locator('#weights-error').isHidden());
  },
);

test('a crashed worker is restarted with a word, and the run starts again', { timeout: 300_000 }, async (t) => {
  const site = await serve(DIST);
  t.after(() => site.close());
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}#layer=conv2_1&filter=4&steps=400&size=64&backend=flex`);
  await waitForSteps(page, 2, 240_000);
  const before = await page.evaluate(() => window.filterlens.runId);
  await page.evaluate(() => window.filterlens.crashWorker());
  await page.waitForFunction((before) => window.filterlens.runId > before, before, { timeout: 60_000 });
  assert.match(
    /** @type {string} */ (await page.locator('#notices').textContent()),
    /stopped unexpectedly \(.*unreachable.*\); it was restarted/,
  );
  const steps = await waitForSteps(page, 3, 240_000);
  assert.equal(steps[0].step, 1, 'the run started again');
  const picture = await snapshot(page);
  assert.equal(picture.width, 64, 'the new worker paints the new canvas');
  assert.ok(!page.logs.some((l) => l.startsWith('pageerror')), page.logs.join('\n'));
});

test(
  'with Cache Storage full the page still runs, uncached, and the next visit downloads again',
  { timeout: 300_000 },
  async (t) => {
    const site = await serve(DIST);
    t.after(() => site.close());
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    const first = await context.newPage();
    /** @type {string[]} */
    const logs = [];
    first.on('console', (m) => logs.push(m.text()));
    const cdp = await context.newCDPSession(first);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(site.url).origin, quotaSize: 1_000_000 });
    // conv5_3 needs every layer: 29 MB, far beyond the quota (the first small parts fit, the others do not).
    await first.goto(`${site.url}#layer=conv5_3&steps=2&size=64&backend=flex`);
    await first.waitForFunction(() => window.filterlens !== undefined);
    await waitForSteps(first, 1, 240_000);
    assert.ok(
      logs.some((l) => /could not cache the weights/.test(l)),
      logs.join('\n'),
    );
    const second = await openPage(context, `${site.url}#layer=conv5_3&steps=2&size=64&backend=flex`);
    await waitForSteps(second, 1, 240_000);
    const ready = (await second.evaluate(() => window.filterlens.events)).find(
      (e) => e.type === 'weights' && e.phase === 'ready',
    );
    assert.equal(ready.source, 'network');
    assert.equal(site.requests.filter((p) => WEIGHTS.test(p)).length, 2);
  },
);
