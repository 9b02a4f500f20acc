// @ts-check
// Accessibility: axe-core scans the page in its main states (running, a grid, the weights failing, a lucid run)
// with no serious or critical violation, and the keyboard alone reaches every control, moves the layer and the
// filter (the run follows), starts, stops (Esc) and copies the link.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  DIST,
  browserFor,
  lastRequest,
  open,
  openContext,
  openPage,
  screenshot,
  servedSite,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { serve } from './server.mjs';

const site = servedSite();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe's violations on `page` now. axe goes in through the DevTools protocol (page.evaluate), which the page's
 * Content-Security-Policy does not govern; a <script> tag would be refused.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{ id: string, impact?: import('axe-core').ImpactValue, help: string, nodes: string[] }[]>}
 */
async function axeViolations(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    /** @type {import('axe-core').AxeResults} */
    const { violations } = await axe.run(document, { resultTypes: ['violations'] });
    return violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/** Scans `page` in the state `name`: serious and critical violations fail, the rest are printed.
 *  @param {import('node:test').TestContext} t @param {import('playwright-core').Page} page @param {string} name */
async function scan(t, page, name) {
  const violations = await axeViolations(page);
  for (const v of violations)
    t.diagnostic(`${name}: ${v.impact} ${v.id} (${v.help}): ${v.nodes.slice(0, 4).join(', ')}`);
  const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(grave, [], `${name}: ${JSON.stringify(grave, null, 1)}`);
  return violations.length;
}

test(
  'axe: no serious or critical violation while running, in a grid, with the weights failing, in a lucid run',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    let found = 0;
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    found += await scan(t, page, 'running');
    await page.locator('#stop').click();

    await page.locator('#grid').selectOption('6');
    await page.locator('#steps-n').fill('2');
    await page.locator('#steps-n').press('Enter');
    await page.waitForFunction(
      () => window.filterlens.run?.request.filters?.length === 6 && window.filterlens.run?.request.steps === 2,
    );
    await waitForDone(page, 240_000);
    await page.locator('#view').focus();
    found += await scan(t, page, 'grid');

    await page.locator('.about summary').click(); // "How it works" open: its muted text is scanned too
    await page.locator('#mode').selectOption('lucid');
    await page.waitForFunction(() => window.filterlens.run?.request.mode === 'lucid');
    await waitForSteps(page, 1, 240_000);
    found += await scan(t, page, 'lucid');

    const failing = await serve(DIST, { answer: (path) => (path.endsWith('.safetensors') ? 503 : null) });
    t.after(() => failing.close());
    const broken = await open(browser, `${failing.url}#layer=conv1_1&size=64&backend=flex`);
    await broken.locator('#weights-error').waitFor({ state: 'visible', timeout: 120_000 });
    found += await scan(t, broken, 'weights error');
    t.diagnostic(`${found} minor or moderate violations in 4 states`);
  },
);

/** The focused element: its id, or its tag and text. @param {import('playwright-core').Page} page */
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    return el.id || `${el.tagName.toLowerCase()}:${(el.textContent || '').trim().slice(0, 30)}`;
  });

/** Tabs forward until `id` has the focus (at most 80 presses). @param {import('playwright-core').Page} page @param {string} id */
async function tabTo(page, id) {
  for (let i = 0; i < 80; i++) {
    if ((await focused(page)) === id) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached #${id}`);
}

test(
  'the keyboard alone: Tab reaches every control, arrows move layer and filter, Enter starts, Esc stops, Enter copies',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await openPage(context, `${site.url}dist/#layer=conv1_1&filter=3&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);

    // From the top of the page, once around: every control, each visibly focused and named.
    await page.evaluate(() => /** @type {HTMLElement} */ (document.activeElement)?.blur());
    await page.locator('h1').click(); // the document, not an element, has the focus: the next Tab is the first stop
    /** @type {string[]} */
    const reached = [];
    const unlabelled = [];
    const invisible = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const id = await focused(page);
      if (id === null || reached.includes(id)) break;
      reached.push(id);
      const seen = await page.evaluate(() => {
        const el = /** @type {HTMLElement} */ (document.activeElement);
        const style = getComputedStyle(el);
        const ring =
          (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
        const labels =
          'labels' in el && /** @type {any} */ (el).labels
            ? [.../** @type {any} */ (el).labels].map((l) => l.textContent.trim())
            : [];
        const name =
          el.getAttribute('aria-label') ||
          labels.join(' ') ||
          (el.tagName === 'A' || el.tagName === 'BUTTON' || el.tagName === 'SUMMARY' ? el.textContent.trim() : '');
        return { ring, name };
      });
      if (!seen.ring) invisible.push(id);
      if (!seen.name) unlabelled.push(id);
    }
    t.diagnostic(`Tab order (${reached.length} stops): ${reached.join(', ')}`);
    const controls = [
      'mode',
      'layer',
      'layer-name',
      'filter',
      'filter-n',
      'grid',
      'objective',
      'pre-relu',
      'steps',
      'steps-n',
      'step',
      'step-n',
      'jitter',
      'jitter-n',
      'size',
      'seed',
      'seed-n',
      'choose-image',
      'backend',
      'start',
      'stop',
      'copy',
      'download',
      'view',
    ];
    assert.deepEqual(
      controls.filter((id) => !reached.includes(id)),
      [],
      'controls Tab never reached',
    );
    assert.deepEqual(unlabelled, [], 'controls without a name');
    assert.deepEqual(invisible, [], 'controls without a visible focus');
    assert.match(
      /** @type {string} */ (await page.locator('#view').getAttribute('aria-label')),
      /What filter 3 of conv1_1 responds to \(classic mode/,
    );
    assert.equal(await page.locator('#status').getAttribute('role'), 'status');
    assert.equal(
      await page.locator('#status').getAttribute('aria-busy'),
      'true',
      'the status is busy while steps come in',
    );
    assert.equal(
      await page.locator('#layer').getAttribute('aria-valuetext'),
      'conv1_1',
      'the layer slider speaks the layer',
    );
    assert.match(
      /** @type {string} */ (await page.locator('#plot').getAttribute('aria-label')),
      /^activation per step: -?[\d.]+ at step 1, -?[\d.]+ at step \d+ of 400$/,
    );

    // The layer slider: one step right is the next layer, and the run follows.
    await tabTo(page, 'layer');
    let before = await page.evaluate(() => window.filterlens.runId);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.equal((await lastRequest(page)).layer, 'conv1_2');
    // The filter slider and its box: arrows move the filter.
    await tabTo(page, 'filter');
    before = await page.evaluate(() => window.filterlens.runId);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.deepEqual((await lastRequest(page)).filters, [4]);
    await tabTo(page, 'filter-n');
    before = await page.evaluate(() => window.filterlens.runId);
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.deepEqual((await lastRequest(page)).filters, [5]);
    await waitForSteps(page, 1, 240_000);

    // Esc stops; Enter on Start starts again; Enter on Copy link copies.
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      () => /stopped/.test(/** @type {HTMLElement} */ (document.getElementById('status')).textContent),
      null,
      { timeout: 120_000 },
    );
    assert.equal(await page.locator('#status').getAttribute('aria-busy'), 'false', 'a stop is spoken');
    await tabTo(page, 'start');
    before = await page.evaluate(() => window.filterlens.runId);
    await page.keyboard.press('Enter');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    await waitForSteps(page, 1, 240_000);
    await tabTo(page, 'stop');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => /stopped/.test(/** @type {HTMLElement} */ (document.getElementById('status')).textContent),
      null,
      { timeout: 120_000 },
    );
    await tabTo(page, 'copy');
    await page.keyboard.press('Enter');
    await page
      .locator('#notices')
      .getByText(/Link copied|Copy the link/)
      .waitFor();
    assert.match(
      await page.evaluate(() => navigator.clipboard.readText()),
      /#mode=classic&model=vgg16&layer=conv1_2&filter=5&/,
    );
    await screenshot(page, 'a11y-keyboard');
  },
);

test(
  "the learning-rate slider is logarithmic: lucid's 0.05 mid-way, maco's 1 at its end, a step is a factor, not 0.005",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=lucid&layer=conv1_1&filter=3&steps=400&size=64&backend=flex`,
    );
    await waitForSteps(page, 1, 240_000);
    const slider = page.locator('#lr');
    // 10^-1.3 = 0.05: 57 % along a slider from 0.001 to 1 (a linear one from 0.005 had it at 4.5 %).
    assert.equal(await slider.inputValue(), '-1.3');
    assert.equal(await slider.getAttribute('aria-valuetext'), '0.05', 'the slider speaks the rate, not its logarithm');
    assert.equal(await page.locator('#lr-n').inputValue(), '0.05');
    await screenshot(page, 'lr-slider');
    let before = await page.evaluate(() => window.filterlens.runId);
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    // 10^-1.25 = 0.0562…, kept to two significant digits.
    assert.equal((await lastRequest(page)).lr, 0.056);
    assert.equal(await page.locator('#lr-n').inputValue(), '0.056');
    assert.match(page.url(), /&lr=0\.056&/);
    // A rate typed in the box moves the slider to its logarithm.
    before = await page.evaluate(() => window.filterlens.runId);
    await page.locator('#lr-n').fill('0.2');
    await page.locator('#lr-n').press('Enter');
    await page.waitForFunction((before) => window.filterlens.runId > before, before);
    assert.equal((await lastRequest(page)).lr, 0.2);
    assert.equal(Number(await slider.inputValue()).toFixed(2), Math.log10(0.2).toFixed(2));
    // Maco's preset rate, 1, is the slider's right end.
    await page.locator('#mode').selectOption('maco');
    await page.waitForFunction(() => window.filterlens.run?.request.mode === 'maco');
    assert.equal((await lastRequest(page)).lr, 1);
    assert.equal(await slider.inputValue(), '0');
  },
);

test(
  'on a phone, the keyboard never puts the focus under the picture that stays at the top',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await openPage(phone, `${site.url}dist/#layer=conv1_1&steps=400&size=64&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    await page.locator('#download').focus();
    const hidden = [];
    for (const key of ['Shift+Tab', 'Tab']) {
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press(key);
        const seen = await page.evaluate(() => {
          const el = document.activeElement;
          if (!el || el === document.body || el.id === 'view') return null;
          const box = el.getBoundingClientRect();
          const sticky = /** @type {Element} */ (document.querySelector('.sticky')).getBoundingClientRect();
          const under =
            box.top < sticky.bottom &&
            box.bottom > sticky.top &&
            getComputedStyle(/** @type {Element} */ (document.querySelector('.sticky'))).position === 'sticky';
          return under || box.bottom > innerHeight || box.top < 0
            ? `${el.id || el.tagName} at ${Math.round(box.top)}–${Math.round(box.bottom)}, picture to ${Math.round(sticky.bottom)}`
            : null;
        });
        if (seen) hidden.push(`${key}: ${seen}`);
      }
    }
    assert.deepEqual(hidden, []);
  },
);
