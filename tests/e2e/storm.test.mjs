// @ts-check
// Storms of input: a hundred slider, keyboard and mode changes in ten seconds, Stop and Start hammered, the backend
// switched mid-step. No error anywhere, no run left computing but the last, and the final picture is what a fresh
// page makes of the final settings.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFor, open, pixelDifference, servedSite, snapshot, waitForDone } from './helpers.mjs';

const site = servedSite();

test(
  'a storm of input ends in the picture of the final settings, with no error and no orphaned run',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_2&filter=0&steps=6&size=64&seed=4&backend=flex`);
    await waitForDone(page, 240_000);
    const filter = page.locator('#filter');
    const box = /** @type {{ x: number, y: number, width: number, height: number }} */ (await filter.boundingBox());
    const startedAt = Date.now();
    let changes = 0;
    for (let i = 0; changes < 100; i++) {
      switch (i % 5) {
        case 0: // pointer: a click somewhere along the filter slider
          await page.mouse.click(box.x + (((i * 37) % 100) / 100) * box.width, box.y + box.height / 2);
          break;
        case 1: // keyboard on the focused slider
          await filter.focus();
          await page.keyboard.press(i % 2 ? 'ArrowRight' : 'ArrowLeft');
          break;
        case 2:
          await page.locator('#layer').fill(String(i % 4));
          break;
        case 3:
          await page.locator('#mode').selectOption(i % 2 ? 'lucid' : 'classic');
          break;
        default:
          await page.locator('#stop').click();
          await page.locator('#start').click();
      }
      changes += 1;
      await page.waitForTimeout(60);
    }
    // The backend switched in the middle of a step, twice.
    await page.locator('#backend').selectOption('ndarray');
    await page.waitForTimeout(300);
    await page.locator('#backend').selectOption('flex');
    const stormSeconds = (Date.now() - startedAt) / 1000;
    // The final settings, small enough to finish quickly.
    await page.locator('#mode').selectOption('classic');
    await page.locator('#steps-n').fill('6');
    await page.locator('#steps-n').press('Enter');
    await page.locator('#size').selectOption('64');
    await waitForDone(page, 240_000);
    const finalRun = await page.evaluate(() => window.filterlens.runId);
    const stepsBefore = await page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'step').length);
    await page.waitForTimeout(3_000);
    const late = await page.evaluate(
      (n) => window.filterlens.events.filter((e) => e.type === 'step').slice(n),
      stepsBefore,
    );
    assert.deepEqual(late, [], 'no run goes on computing after the last one finished');
    assert.equal(await page.evaluate(() => window.filterlens.runId), finalRun);

    const picture = await snapshot(page);
    const link = await page.evaluate(() => location.href);
    const fresh = await open(browser, link);
    await waitForDone(fresh, 240_000);
    assert.equal(
      pixelDifference(picture, await snapshot(fresh)),
      0,
      'the storm ends where a fresh page with the final link ends',
    );
    const errors = page.logs.filter((l) => l.startsWith('pageerror') || l.startsWith('error'));
    assert.deepEqual(errors, []);
    assert.ok(
      await page.locator('#error').isHidden(),
      /** @type {string} */ (await page.locator('#error-text').textContent()),
    );
    t.diagnostic(
      `${changes} changes in ${stormSeconds.toFixed(1)} s, then a backend switch mid-step; final link ${link.split('#')[1]}`,
    );
  },
);
