// @ts-check
// The picture fits its column: a grid wider than the column is scaled down (smoothly), with a 1:1 switch; on a phone
// the pinned picture leaves room for the controls; the canvas keeps its size while the page loads. And the rest a
// newcomer noticed: Back after opening a tile, interpolation captions and status, the plot's labels, the first
// visit's download line, maco grids from a link, the Mode menu, the main action during a run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFor, open, openPage, screenshot, servedSite, snapshot, waitForDone, waitForSteps } from './helpers.mjs';

const site = servedSite();
/** @param {import('playwright-core').Page} page */
const sizes = (page) =>
  page.evaluate(() => {
    const view = /** @type {HTMLElement} */ (document.getElementById('view'));
    const frame = /** @type {HTMLElement} */ (document.getElementById('frame'));
    const sticky = /** @type {HTMLElement} */ (document.querySelector('.sticky'));
    return {
      view: view.getBoundingClientRect().width,
      frame: frame.clientWidth,
      column: /** @type {HTMLElement} */ (frame.parentElement).clientWidth,
      sticky: sticky.getBoundingClientRect().height,
      scroll: frame.scrollWidth,
      smooth: frame.classList.contains('smooth'),
    };
  });

test(
  'a grid wider than its column is scaled down to fit, with a 1:1 switch; on a phone the controls keep their room',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=classic&layer=conv1_1&grid=6&size=224&steps=2&backend=flex`,
    );
    await page.setViewportSize({ width: 1280, height: 900 });
    await waitForDone(page, 240_000);
    const layout = await page.evaluate(() => window.filterlens.run?.layout);
    assert.ok(layout && layout.width > 600, `a wide grid: ${layout?.width} px`);
    let s = await sizes(page);
    assert.ok(s.view <= s.column && s.scroll <= s.frame + 1 && s.smooth, `scaled to its column: ${JSON.stringify(s)}`);
    await screenshot(page, 'fit-desktop-grid');
    const toggle = page.locator('#actual-size');
    assert.ok(await toggle.isVisible(), 'the 1:1 switch shows');
    await toggle.click();
    s = await sizes(page);
    assert.equal(Math.round(s.view), layout.width, '1:1');
    assert.ok(s.scroll > s.frame && !s.smooth, `scrolls in its frame: ${JSON.stringify(s)}`);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');

    // A grid that fits keeps a whole multiple of its size, and no switch.
    const small = await open(
      browser,
      `${site.url}dist/#mode=classic&layer=conv1_1&grid=6&size=64&steps=1&backend=flex`,
    );
    await waitForDone(small, 240_000);
    const fits = await sizes(small);
    const width = (await small.evaluate(() => window.filterlens.run?.layout?.width)) ?? 1;
    assert.equal(fits.view % width, 0, JSON.stringify(fits));
    assert.ok(await small.locator('#actual-size').isHidden());

    // A phone: lucid's grid of 16 at 128 px fits the column, and the pinned picture leaves most of the screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const mobile = await openPage(
      phone,
      `${site.url}dist/#mode=lucid&layer=conv1_1&grid=16&size=128&steps=2&backend=flex`,
    );
    await waitForDone(mobile, 300_000);
    const m = await sizes(mobile);
    assert.ok(m.view <= m.column && m.scroll <= m.frame + 1, `fits the phone's column: ${JSON.stringify(m)}`);
    assert.ok(m.sticky <= 0.55 * 844, `the pinned picture and status take ${m.sticky} of 844 px`);
    await screenshot(mobile, 'fit-phone-grid16');
  },
);

test(
  'the canvas keeps its size from the first paint of the page to the first step',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=2&size=224&backend=flex`);
    const before = await page.locator('#view').evaluate((c) => c.getBoundingClientRect().width);
    await waitForDone(page, 240_000);
    const after = await page.locator('#view').evaluate((c) => c.getBoundingClientRect().width);
    assert.equal(before, after);
  },
);

test(
  'Back after opening a tile returns to the grid; interpolation tiles and status say what they hold',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv2_1&filter=10&grid=6&steps=2&size=64&backend=flex`);
    await waitForDone(page, 240_000);
    const grid = await page.evaluate(() => location.hash);
    await page.locator('#view').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.filterlens.settings.grid === 1);
    await page.goBack();
    await page.waitForFunction((grid) => location.hash === grid && window.filterlens.settings.grid === 6, grid);
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 6);

    // A change of layer is a place to go back to as well.
    await page.locator('#layer-name').selectOption('conv3_1');
    await page.waitForFunction(() => window.filterlens.settings.layer === 'conv3_1');
    await page.goBack();
    await page.waitForFunction(() => window.filterlens.settings.layer === 'conv2_1');

    await page.fill('#towards-n', '40');
    await page.press('#towards-n', 'Enter');
    await page.waitForFunction(() => window.filterlens.run?.request.expressions?.length === 6);
    await waitForDone(page, 240_000);
    assert.match(
      (await page.locator('#status').textContent()) ?? '',
      /^VGG16 6 pictures from conv2_1:10 to conv2_1:40 · /,
    );
    assert.equal(await page.locator('#grid option:checked').textContent(), '6 pictures from this filter to filter 40');
    await screenshot(page, 'fit-interpolation');
  },
);

test(
  "the plot's labels stay apart and inside; maco's grid from a link is not told of crops it never asked for",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    // A minimised filter goes below zero: the range's ends and zero, each label apart from the others.
    const page = await open(
      browser,
      `${site.url}dist/#layer=conv1_1&filter=0&minimise=true&steps=6&size=64&backend=flex`,
    );
    await waitForDone(page, 240_000);
    const labels = await page.evaluate(() => {
      const c = /** @type {HTMLCanvasElement} */ (document.getElementById('plot'));
      const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
      /** @type {{ text: string, x: number, y: number, align: CanvasTextAlign, width: number }[]} */
      const seen = [];
      const original = ctx.fillText.bind(ctx);
      ctx.fillText = (text, x, y) => {
        seen.push({ text, x, y, align: ctx.textAlign, width: ctx.measureText(text).width });
        original(text, x, y);
      };
      c.dispatchEvent(new MouseEvent('mouseleave'));
      return { seen, width: c.width };
    });
    const values = labels.seen.filter((l) => l.align === 'right' && l.x < 50);
    for (const a of values)
      for (const b of values) if (a !== b) assert.ok(Math.abs(a.y - b.y) >= 13, JSON.stringify(values));
    const last = labels.seen.find((l) => / steps$/.test(l.text));
    assert.ok(last && last.align === 'right' && last.x <= labels.width, JSON.stringify(last));

    const maco = await open(browser, `${site.url}dist/#mode=maco&grid=16&layer=conv1_1&steps=1&size=64&backend=flex`);
    await maco.waitForFunction(() => window.filterlens.settings.crops === 1);
    assert.doesNotMatch((await maco.locator('#notices').textContent()) ?? '', /crops/);
  },
);

test(
  'the Mode menu shows its whole text; during a run Stop is the main action, Start after',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    for (const viewport of [
      { width: 1280, height: 900 },
      { width: 390, height: 844 },
    ]) {
      const context = await browser.newContext({ viewport });
      const page = await openPage(context, `${site.url}dist/#layer=conv1_1&steps=400&size=64&backend=flex`);
      for (const mode of ['classic', 'lucid', 'maco']) {
        await page.locator('#mode').selectOption(mode);
        const fit = await page.locator('#mode').evaluate((select) => {
          const s = /** @type {HTMLSelectElement} */ (select);
          const ctx = /** @type {CanvasRenderingContext2D} */ (document.createElement('canvas').getContext('2d'));
          const style = getComputedStyle(s);
          ctx.font = `${style.fontSize} ${style.fontFamily}`;
          // The text, the padding and the arrow (about 20 px) within the menu's width.
          return { text: ctx.measureText(s.options[s.selectedIndex].text).width + 24, width: s.clientWidth };
        });
        assert.ok(fit.text <= fit.width, `${mode} at ${viewport.width} px: ${JSON.stringify(fit)}`);
      }
      await context.close();
    }
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 2, 240_000);
    /** @param {string} id */
    const primary = (id) => page.locator(id).evaluate((b) => getComputedStyle(b).color === 'rgb(255, 255, 255)');
    assert.deepEqual([await primary('#start'), await primary('#stop')], [false, true], 'running: Stop leads');
    await page.locator('#stop').click();
    await page.waitForFunction(() => /stopped/.test(document.getElementById('status')?.textContent ?? ''));
    assert.deepEqual([await primary('#start'), await primary('#stop')], [true, false], 'stopped: Start leads');
    assert.ok((await snapshot(page)).data, 'the picture stays');
  },
);
