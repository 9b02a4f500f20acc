// @ts-check
// The examples and the landing, as a newcomer meets them: every example link rebuilds every control exactly as a
// fresh load of that link does, whichever page it is clicked from (the default page, or any other example); a visit
// without a link lands on a run that rewards within about half a minute on the CPU, with the original demo one click
// away; a link that names any setting opens as it always has.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, browserFor, open, openContext, openPage, screenshot, servedSite, waitForDone } from './helpers.mjs';

const site = servedSite();

/** Everything the controls show: each control's value, limits, options and whether its row shows; the layer slider's
 *  stops; the picture's transparency; the link. @param {import('playwright-core').Page} page */
const controls = (page) =>
  page.evaluate(() => {
    /** @type {Record<string, unknown>} */
    const state = {};
    const fields = /** @type {(HTMLInputElement | HTMLSelectElement)[]} */ (
      Array.from(document.querySelectorAll('#controls [data-field]'))
    );
    for (const el of fields) {
      const row = /** @type {HTMLElement | null} */ (el.closest('.row'));
      state[el.id] = {
        value: el instanceof HTMLInputElement && el.type === 'checkbox' ? el.checked : el.value,
        min: el instanceof HTMLInputElement ? el.min : null,
        max: el instanceof HTMLInputElement ? el.max : null,
        options:
          el instanceof HTMLSelectElement ? Array.from(el.options, (o) => `${o.value}|${o.text}|${o.disabled}`) : null,
        shown: !row?.hidden,
        unused: row?.classList.contains('unused') ?? false,
      };
    }
    state.stops = Array.from(
      document.querySelectorAll('#layer-stops option'),
      (o) => /** @type {HTMLOptionElement} */ (o).value + o.textContent,
    );
    state.transparent = document.getElementById('frame')?.classList.contains('transparent');
    state.link = location.hash;
    return state;
  });

/** The example links as the page lists them. @param {import('playwright-core').Page} page */
const examples = (page) =>
  page
    .locator('nav.examples a')
    .evaluateAll((links) => links.map((a) => ({ name: a.textContent ?? '', hash: a.getAttribute('href') ?? '' })));

test(
  'every example link rebuilds every control as a fresh load does, from the default page and from each other',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=2&size=64&backend=flex`);
    const links = await examples(page);
    assert.ok(links.length >= 7, `the examples: ${links.map((l) => l.name).join(', ')}`);

    // Each example opened fresh: what its controls must show however it is reached.
    /** @type {Map<string, Record<string, unknown>>} */
    const fresh = new Map();
    for (const { name, hash } of links) {
      const alone = await open(browser, `${site.url}dist/${hash}`);
      fresh.set(name, await controls(alone));
      await alone.context().close();
    }
    /** @param {string} name @param {string} from */
    const reached = async (name, from) => {
      await page.getByRole('link', { name, exact: true }).click();
      await page.waitForFunction((link) => location.hash === link, /** @type {any} */ (fresh.get(name)).link);
      assert.deepEqual(await controls(page), fresh.get(name), `${name}, clicked from ${from}`);
    };
    // From the default page (a VGG16 link), then every ordered pair: each example clicked after each other one.
    const defaultLink = await page.evaluate(() => location.hash);
    for (const { name } of links) {
      await page.goto(`${site.url}dist/${defaultLink}`);
      await page.reload();
      await page.waitForFunction(() => window.filterlens !== undefined);
      await reached(name, 'the default page');
    }
    for (const { name: from } of links) {
      for (const { name: to } of links) {
        if (to === from) continue;
        await reached(from, 'the previous example');
        await reached(to, from);
      }
    }
    // The blocker of old: after AlexNet's example, the layer menu works for the next network too.
    await page.getByRole('link', { name: "AlexNet's first layer" }).click();
    await page.locator('#model').selectOption('vgg16');
    await page.locator('#layer-name').selectOption('conv2_2');
    await page.waitForFunction(() => window.filterlens.run?.request.layer === 'conv2_2');
    assert.deepEqual(
      page.logs.filter((l) => /^(pageerror|error):/.test(l)),
      [],
    );
  },
);

test(
  'a visit without a link lands on a lucid grid that finishes within about half a minute; the original demo is one click away',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/`);
    const s = await page.evaluate(() => window.filterlens.settings);
    assert.deepEqual([s.mode, s.model, s.layer, s.filter, s.grid, s.size], ['lucid', 'vgg16', 'conv3_1', 5, 6, 64]);
    assert.match(await page.evaluate(() => location.hash), /^#mode=lucid&model=vgg16&layer=conv3_1&filter=5&grid=6&/);
    await waitForDone(page, 300_000);
    const times = await page.evaluate(() => {
      const run = window.filterlens.metrics.runs.at(-1);
      const done = window.filterlens.events.filter((e) => e.type === 'step' && e.id === run?.id);
      return {
        firstStep: run?.firstStepAt,
        lastStep: performance.now(),
        steps: done.length,
        cores: navigator.hardwareConcurrency,
      };
    });
    /** @param {number} ms */
    const seconds = (ms) => Math.round(ms / 100) / 10;
    const measured = {
      firstStepSeconds: seconds(times.firstStep ?? 0),
      doneSeconds: seconds(times.lastStep),
      steps: times.steps,
      cores: times.cores,
    };
    t.diagnostic(
      `the landing: first step ${measured.firstStepSeconds} s, done ${measured.doneSeconds} s after navigation (${times.cores} cores)`,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'landing.json'), `${JSON.stringify(measured, null, 2)}\n`);
    await screenshot(page, 'landing-done');

    // The original demo: named as such, one click away, and exactly the link it always was.
    await page.getByRole('link', { name: "the original blog post's demo (classic, conv3_2)" }).click();
    await page.waitForFunction(() => window.filterlens.run?.request.mode === 'classic');
    const demo = await page.evaluate(() => window.filterlens.settings);
    assert.deepEqual(
      [demo.mode, demo.layer, demo.filter, demo.grid, demo.size, demo.steps, demo.stepSize],
      ['classic', 'conv3_2', 0, 1, 224, 150, 2],
    );

    // A link that names any setting keeps the defaults it always had: classic, conv3_2's network, 150 steps.
    const explicit = await openPage(await openContext(browser), `${site.url}dist/#layer=conv1_1`);
    const e = await explicit.evaluate(() => window.filterlens.settings);
    assert.deepEqual([e.mode, e.layer, e.grid, e.steps, e.size], ['classic', 'conv1_1', 1, 150, 224]);
  },
);
