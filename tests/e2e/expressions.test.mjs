// @ts-check
// Objective expressions in the page: a link or the Expression box names a weighted sum across layers, the core
// runs it (and refuses a bad one, pointing at the character, losing nothing); a grid interpolates from one filter to
// another. On Flex, 64 px, a few steps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFor, open, servedSite, waitForDone } from './helpers.mjs';

const site = servedSite();
/** @param {import('playwright-core').Page} page */
const unused = (page) =>
  page.evaluate(() =>
    ['row-layer', 'row-filter', 'objective', 'minimise'].filter((id) =>
      document.getElementById(id)?.classList.contains('unused'),
    ),
  );

test(
  'an expression runs from a link and from the box; a bad one is refused at its character, and nothing is lost',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=classic&expressions=conv3_1:5%20-%200.5*conv2_1:3&steps=3&size=64&seed=2&backend=flex`,
    );
    await waitForDone(page);
    const run = await page.evaluate(() => window.filterlens.run);
    assert.deepEqual(
      [run?.request.expressions, run?.request.layer, run?.request.filters],
      [['conv3_1:5 - 0.5*conv2_1:3'], undefined, undefined],
    );
    assert.match(
      (await page.locator('#status').textContent()) ?? '',
      /^VGG16 conv3_1:5 - 0\.5\*conv2_1:3 · Flex .* · done$/,
    );
    assert.deepEqual(await unused(page), ['row-layer', 'row-filter', 'objective'], 'minimise still applies');
    assert.equal(await page.inputValue('#expressions'), 'conv3_1:5 - 0.5*conv2_1:3');

    // A layer that does not exist: the core's refusal, pointing at it; the box keeps what was typed.
    await page.fill('#expressions', 'conv4_3:20 + conv9:1');
    await page.press('#expressions', 'Enter');
    await page.waitForFunction(() => /refused/.test(document.getElementById('status')?.textContent ?? ''), null, {
      timeout: 60_000,
    });
    assert.match(
      (await page.locator('#status').textContent()) ?? '',
      / · Expression refused: objective 'conv4_3:20 \+ conv9:1' at character 14: unknown layer 'conv9' \(VGG16 has conv1_1 … conv5_3\)$/,
    );
    assert.equal(await page.inputValue('#expressions'), 'conv4_3:20 + conv9:1');
    assert.match(await page.evaluate(() => location.hash), /&expressions=conv4_3%3A20\+%2B\+conv9%3A1&/);

    // Emptied: the layer and filter again.
    await page.fill('#expressions', '');
    await page.press('#expressions', 'Enter');
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 1, null, { timeout: 60_000 });
    await waitForDone(page);
    assert.deepEqual(await unused(page), []);
    assert.doesNotMatch(
      (await page.locator('#status').textContent()) ?? '',
      /refused/,
      'a good run clears the refusal',
    );
    assert.doesNotMatch(await page.evaluate(() => location.hash), /expressions/);
  },
);

test(
  'a grid interpolates from the filter to another, tile by tile, each caption naming both',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=classic&layer=conv2_1&filter=3&grid=6&steps=3&size=64&seed=7&backend=flex`,
    );
    await waitForDone(page);
    assert.ok(await page.locator('#row-towards').isVisible(), 'a grid offers the interpolation');
    await page.fill('#towards-n', '9');
    await page.press('#towards-n', 'Enter');
    await page.waitForFunction(() => window.filterlens.run?.request.expressions?.length === 6, null, {
      timeout: 60_000,
    });
    await waitForDone(page);
    const { request } = /** @type {any} */ (await page.evaluate(() => window.filterlens.run));
    assert.equal(request.expressions[0], 'conv2_1:3');
    assert.equal(request.expressions[5], 'conv2_1:9');
    assert.match(
      (await page.locator('#grid option:checked').textContent()) ?? '',
      /^6 pictures from this filter to filter 9$/,
    );
    assert.match(
      (await page.locator('#status').textContent()) ?? '',
      /^VGG16 6 pictures from conv2_1:3 to conv2_1:9 · /,
    );
    assert.match(await page.evaluate(() => location.hash), /&grid=6&towards=9&/);
    // One picture: nothing to interpolate, and the row goes.
    await page.selectOption('#grid', '1');
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 1, null, { timeout: 60_000 });
    assert.ok(await page.locator('#row-towards').isHidden());
  },
);
