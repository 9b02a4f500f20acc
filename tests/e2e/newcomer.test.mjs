// @ts-check
// The page as a newcomer meets it (on Flex, small sizes): inputs that apply what was typed, messages that come and
// go at the right time, a first screen that shows what to try, a phone layout, the plot, the keyboard.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DIST,
  browserFor,
  decodePng,
  lastRequest,
  open,
  openContext,
  openPage,
  screenshot,
  servedSite,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { serve } from './server.mjs';

const site = servedSite();
/** @param {import('playwright-core').Page} page */
const runId = (page) => page.evaluate(() => window.filterlens.runId);
/** The notices' text (an element's text, never null). @param {import('playwright-core').Page} page */
const notices = (page) => /** @type {Promise<string>} */ (page.locator('#notices').textContent());

test(
  "number boxes apply on Enter, clamp with a word; a link's unusable fields are named",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&filter=2&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    const before = await runId(page);
    await page.locator('#filter-n').fill('');
    await page.locator('#filter-n').pressSequentially('300');
    await page.waitForTimeout(600); // longer than the restart delay
    assert.equal(await runId(page), before, 'typing runs nothing on the way');
    await page.locator('#filter-n').press('Enter');
    await page.waitForFunction((before) => window.filterlens.runId === before + 1, before);
    assert.equal((await lastRequest(page)).filters?.[0], 63);
    assert.match(await notices(page), /filter 300 → 63: conv1_1 has 64 filters/);
    await page.waitForTimeout(600);
    assert.equal(await runId(page), before + 1, 'exactly one new run');

    const junk = await open(
      browser,
      `${site.url}dist/#layer=conv9_9&filter=-3&size=100000&mode=LUCID&lr=1e9&backend=flex&steps=3`,
    );
    assert.deepEqual(
      await junk.evaluate(() => {
        const s = window.filterlens.settings;
        return [s.mode, s.layer, s.filter, s.size];
      }),
      ['classic', 'conv3_2', 0, 256],
    );
    const said = await notices(junk);
    for (const field of ['layer=conv9_9', 'filter=-3', 'size=', 'mode=LUCID', 'lr does not apply'])
      assert.ok(said.includes(field), `${field} in ${said}`);
  },
);

test(
  'a weights failure keeps its Retry beside other errors, and speaks to the visitor',
  { timeout: 300_000 },
  async (t) => {
    const failing = await serve(DIST, { answer: (path) => (path.endsWith('.safetensors') ? 503 : null) });
    t.after(() => failing.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${failing.url}#layer=conv1_1&size=64&backend=flex`);
    await page.locator('#weights-error').waitFor({ state: 'visible', timeout: 120_000 });
    const message = /** @type {string} */ (await page.locator('#weights-error-text').textContent());
    assert.match(message, /not available right now \(HTTP 503\)\. Retry in a moment/);
    assert.doesNotMatch(message, /make/);
    await page.locator('#download').click();
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.match(/** @type {string} */ (await page.locator('#error-text').textContent()), /no picture yet/);
    assert.ok(await page.locator('#retry').isVisible(), 'Retry is still there after another action');
    assert.ok(await page.locator('#weights-error').isVisible());
    await screenshot(page, 'newcomer-weights-503');
  },
);

test(
  'old messages go: a refused picture after noise, "Link copied" after a change; no doubled full stop',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await openPage(context, `${site.url}dist/#layer=conv1_1&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    await page
      .locator('#image-file')
      .setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('nope') });
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.doesNotMatch(/** @type {string} */ (await page.locator('#error-text').textContent()), /\.\./);
    await page.locator('#start').click();
    assert.ok(await page.locator('#error').isHidden(), "a new run clears the refused picture's error");

    await page.locator('#copy').click();
    await page.locator('#notices').getByText('Link copied').waitFor();
    await page.locator('#filter').fill('9');
    assert.doesNotMatch(await notices(page), /Link copied/, 'the link changed, so the notice went');
  },
);

test(
  'the download shows life from the start: the program has its own progress before the weights',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=2&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    const program = await page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'program'));
    assert.ok(program.length >= 1, 'program progress reported');
    const last = program.at(-1);
    assert.ok(last.loaded > 1e6 && last.loaded === last.total, JSON.stringify(last));
  },
);

test(
  'examples are one click away, the page says what a filter is, and a run says how long it will take',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=3&size=64&backend=flex`);
    assert.match(
      /** @type {string} */ (await page.locator('.lede').textContent()),
      /A filter is one of a layer's pattern\s+detectors/,
    );
    await waitForDone(page, 240_000);
    await page.getByRole('link', { name: 'object parts: a fish (conv5_3)' }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.layer === 'conv5_3');
    const s = await page.evaluate(() => window.filterlens.settings);
    assert.deepEqual([s.mode, s.layer, s.filter, s.grid, s.size, s.steps], ['lucid', 'conv5_3', 100, 1, 128, 256]);
    assert.match(
      /** @type {string} */ (await page.locator('#status').textContent()),
      /256 steps take about [\d.]+ (s|min|h) on this backend/,
    );
    await page.getByRole('link', { name: 'a grid of conv4_3' }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 6);
    await page.getByRole('link', { name: 'where a filter looks: maco (conv4_3)' }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.mode === 'maco');
    const m = await page.evaluate(() => window.filterlens.settings);
    assert.deepEqual([m.layer, m.filter, m.size, m.steps, m.crops, m.transparency], ['conv4_3', 20, 256, 128, 4, true]);
    assert.ok(await page.locator('#transparency').isChecked());
    await screenshot(page, 'newcomer-examples');
  },
);

test(
  '64 tiles show at a whole multiple of their size, so captions keep every pixel',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&filter=0&grid=64&steps=1&size=64&backend=flex`);
    await waitForDone(page, 240_000);
    const layout = /** @type {import('../../www/protocol.js').Started} */ (
      await page.evaluate(() => /** @type {FilterlensRun} */ (window.filterlens.run).layout)
    );
    const box = await page.locator('#view').evaluate((c) => [c.clientWidth, c.clientHeight]);
    assert.equal(box[0] % layout.width, 0, `shown ${box[0]} px wide for a ${layout.width} px picture`);
    assert.equal(box[0] / layout.width, box[1] / layout.height);
    // The caption strip of tile 1 ("conv1_1:1") on screen is the picture's, pixel for pixel.
    const picture = await snapshot(page);
    const scale = box[0] / layout.width;
    const tile = layout.tiles[1];
    const screen = decodePng(await page.locator('#view').screenshot());
    // The element may sit at a fractional offset: the screenshot then starts up to a pixel earlier.
    let dark = 0;
    let matched = 0;
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ]) {
      let [d, m] = [0, 0];
      for (let y = tile.y + 64; y < tile.y + tile.height; y++) {
        for (let x = tile.x; x < tile.x + tile.width; x++) {
          const want = /** @type {number[]} */ (picture.data)[4 * (y * picture.width + x)] < 100;
          const [sx, sy] = [Math.floor((x + 0.5) * scale) + dx, Math.floor((y + 0.5) * scale) + dy];
          const got = screen.data[4 * (sy * screen.width + sx)] < 100;
          if (want) d += 1;
          if (want && got) m += 1;
        }
      }
      if (m >= matched) [dark, matched] = [d, m];
    }
    assert.ok(dark > 30 && matched === dark, `caption pixels on screen: ${matched} of ${dark}`);
  },
);

test(
  'Stop says it is finishing the step; mode switches say what changed; Continue carries a finished run on',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_2&steps=4&size=64&seed=3&backend=flex`);
    await waitForDone(page, 240_000);
    const id = await runId(page);
    await page.locator('#continue').click();
    await page.waitForFunction(
      (id) => window.filterlens.events.filter((e) => e.type === 'done' && e.id === id).length === 2,
      id,
      { timeout: 120_000 },
    );
    const steps = await page.evaluate(
      (id) => window.filterlens.events.filter((e) => e.type === 'step' && e.id === id).map((e) => e.step),
      id,
    );
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8], 'the same run, four more steps');
    assert.equal(await runId(page), id);

    // Continue wrote its steps into the settings (and the link): 4 + 4.
    await page.locator('#mode').selectOption('lucid');
    assert.match(
      await notices(page),
      /lucid mode takes its usual settings: steps 8 → 256, size 64 → 128, jitter 0 → 8/,
    );

    // ndarray is slow: Stop during a step says what it is doing until the step ends.
    const slow = await open(browser, `${site.url}dist/#layer=conv2_1&steps=50&size=64&backend=ndarray`);
    await waitForSteps(slow, 1, 240_000);
    await slow.keyboard.press('Escape');
    assert.match(
      /** @type {string} */ (await slow.locator('#status').textContent()),
      /stopping: finishing the current step/,
    );
    await slow.waitForFunction(
      () => /stopped at step \d+/.test(/** @type {HTMLElement} */ (document.getElementById('status')).textContent),
      null,
      { timeout: 120_000 },
    );
  },
);

test(
  'the keyboard opens a grid tile; the plot has axes and tells the value under the pointer',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv2_1&filter=10&grid=6&steps=3&size=64&backend=flex`);
    await waitForDone(page, 240_000);
    await page.locator('#view').focus();
    assert.match(
      /** @type {string} */ (await page.locator('#view').getAttribute('aria-label')),
      /A grid of what filters 10 to 15 of conv2_1 respond to/,
    );
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    assert.ok(await page.locator('#tile-focus').isVisible());
    const before = await runId(page);
    await page.keyboard.press('Enter');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.deepEqual(
      (await lastRequest(page)).filters,
      [14],
      'right then down from the first tile is the fifth: filter 14',
    );

    await waitForDone(page, 240_000);
    const plot = page.locator('#plot');
    const box = /** @type {{ x: number, y: number, width: number, height: number }} */ (await plot.boundingBox());
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2);
    assert.match(/** @type {string} */ (await page.locator('#plot-value').textContent()), / · step \d: -?[\d.]+/);
    assert.match(
      /** @type {string} */ (await page.locator('.plot figcaption').textContent()),
      /How strongly the filter responds/,
    );
  },
);

test(
  'phone and wide screens: controls within the first screen, long sliders, the picture stays in view',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await openPage(phone, `${site.url}dist/#layer=conv3_1&steps=200&size=64&backend=flex`);
    await waitForSteps(page, 2, 240_000);
    for (const id of ['#mode', '#layer']) {
      const b = await page.locator(id).boundingBox();
      assert.ok(b && b.y + b.height <= 844, `${id} within the first screen: ${JSON.stringify(b)}`);
    }
    for (const id of ['#layer', '#filter', '#steps', '#seed']) {
      const b = await page.locator(id).boundingBox();
      assert.ok(b && b.width >= 200, `${id} is ${b?.width} px wide`);
    }
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= 390),
      'nothing is wider than the phone',
    );
    await screenshot(page, 'newcomer-phone');
    await page.locator('#backend').scrollIntoViewIfNeeded();
    const view = await page.locator('#view').boundingBox();
    assert.ok(
      view && view.y >= -1 && view.y + view.height <= 844,
      `the picture stays in view: ${JSON.stringify(view)}`,
    );
    await screenshot(page, 'newcomer-phone-scrolled');

    const wide = await openPage(
      await browser.newContext({ viewport: { width: 1920, height: 1080 } }),
      `${site.url}dist/#layer=conv3_1&steps=3&size=224&backend=flex`,
    );
    await waitForSteps(wide, 1, 240_000);
    const b = await wide.locator('#view').boundingBox();
    assert.ok(b && b.width > 600, `the picture uses the wide screen: ${b?.width} px`);
    await screenshot(wide, 'newcomer-wide');
  },
);
