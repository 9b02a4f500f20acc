// @ts-check
// Maco mode in the page: a link runs it (the ImageNet spectrum fetched once, beside the weights), its own rows (Crops,
// NAdam's rate) replace Jitter, and the transparency view shows each picture's transparency map as the canvas's
// alpha, in the link, without restarting the run. A picture of one's own is kept, and maco starts from noise and
// says so. On Flex, at 64 px, a few steps.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DIST, ROOT, browserFor, decodePng, open, screenshot, servedSite, snapshot, waitForDone } from './helpers.mjs';

const site = servedSite();

/** The canvas's alpha values (the worker's own pixels). @param {import('playwright-core').Page} page */
const alphas = async (page) => {
  const { data } = await snapshot(page);
  assert.ok(data, 'a picture');
  return data.filter((_, i) => i % 4 === 3);
};

test(
  'a maco link paints with the spectrum; transparency shows in the canvas and the link',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const before = site.requests.length;
    const page = await open(
      browser,
      `${site.url}dist/#mode=maco&layer=conv2_1&filter=3&steps=6&size=64&crops=2&seed=1&backend=flex`,
    );
    await waitForDone(page, 240_000);
    const spectrumFile = /** @type {import('../../www/weights.js').FileEntry} */ (
      /** @type {{ files: import('../../www/weights.js').FileEntry[] }} */ (
        JSON.parse(readFileSync(path.join(DIST, 'weights/manifest.json'), 'utf8'))
      ).files.find((f) => f.file === 'imagenet-spectrum.npy')
    );
    const asked = site.requests.slice(before).filter((p) => p.endsWith('imagenet-spectrum.npy'));
    assert.equal(asked.length, 1, 'the spectrum, fetched once');
    assert.ok(spectrumFile.bytes > 1_500_000);

    const request = await page.evaluate(() => window.filterlens.run?.request);
    assert.deepEqual([request?.mode, request?.crops, request?.lr, request?.jitter], ['maco', 2, 1, undefined]);
    const rows = await page.evaluate(() =>
      ['row-crops', 'row-jitter', 'row-lr', 'row-step'].map((id) => !document.getElementById(id)?.hidden),
    );
    assert.deepEqual(
      rows,
      [true, false, true, false],
      'Crops and the learning rate shown; Jitter and the step size hidden',
    );
    const opaque = await alphas(page);
    assert.ok(
      opaque.every((a) => a === 255),
      'without the transparency view the picture is opaque',
    );
    const plain = await snapshot(page);
    const rgb = plain.data?.filter((_, i) => i % 4 !== 3) ?? [];
    assert.ok(Math.max(...rgb) - Math.min(...rgb) > 60, 'a picture, not a flat grey');

    // The transparency view: the same run (no restart), its picture's alpha from the transparency map, in the link.
    const runId = await page.evaluate(() => window.filterlens.runId);
    await page.locator('#transparency').check();
    await page.waitForFunction(
      async () => {
        const s = await window.filterlens.snapshot();
        return s.data !== null && Array.from(s.data).some((v, i) => i % 4 === 3 && v < 255);
      },
      null,
      { timeout: 60_000 },
    );
    const faded = await alphas(page);
    const fading = faded.filter((a) => a < 128).length;
    t.diagnostic(
      `transparency after 6 steps: ${fading} of ${faded.length} pixels below half opacity, ${faded.filter((a) => a === 255).length} opaque`,
    );
    assert.ok(
      fading > faded.length / 10 && faded.includes(255),
      'some of the picture fades, its most looked-at part stays',
    );
    assert.equal(await page.evaluate(() => window.filterlens.runId), runId, 'the view changed, the run did not');
    assert.match(await page.evaluate(() => location.hash), /&transparency=1&/);
    assert.equal(
      await page.evaluate(
        () => getComputedStyle(/** @type {Element} */ (document.getElementById('frame'))).backgroundColor,
      ),
      'rgb(255, 255, 255)',
    );
    await screenshot(page, 'maco-transparency');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    const exported = decodePng(readFileSync(await download.path()));
    assert.deepEqual(
      Array.from(exported.data.filter((_, i) => i % 4 === 3)),
      faded,
      'the downloaded PNG keeps the transparency',
    );
    await page.locator('#transparency').uncheck();
    await page.waitForFunction(
      async () => {
        const s = await window.filterlens.snapshot();
        return s.data !== null && Array.from(s.data).every((v, i) => i % 4 !== 3 || v === 255);
      },
      null,
      { timeout: 60_000 },
    );
    assert.doesNotMatch(await page.evaluate(() => location.hash), /transparency/);

    // A grid: tiles × crops stay within the page's budget (16 tiles take 1 crop a step; 64 are not offered).
    await page.selectOption('#grid', '16');
    await page
      .locator('#notices')
      .getByText(/crops 2 → 1: a grid of 16 takes at most 1 a step here/)
      .waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#grid option[value="64"]').isDisabled(), true);
    await page.waitForFunction(
      () => window.filterlens.run?.request.filters?.length === 16 && window.filterlens.run?.request.crops === 1,
    );
    await waitForDone(page, 240_000);
    await page.selectOption('#grid', '1');

    // A picture of one's own: kept, and maco starts from noise and says so.
    const scene = readFileSync(path.join(ROOT, 'docs/quality/accentuate-conv4_3-20.png'));
    await page.locator('#image-file').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: scene });
    await page
      .locator('#notices')
      .getByText(/maco mode starts from noise/)
      .waitFor({ timeout: 60_000 });
    await waitForDone(page, 240_000);
    assert.equal(await page.evaluate(() => window.filterlens.run?.fromImage), false);
    assert.equal(await page.locator('#row-accentuate').isHidden(), true, 'nothing to accentuate from noise');
    assert.deepEqual(
      page.logs.filter((l) => l.startsWith('pageerror') || l.startsWith('error')),
      [],
    );
  },
);

test(
  'a link with transparency=1 opens in the transparency view; a bad value is named',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=lucid&layer=conv2_1&filter=3&steps=3&size=64&seed=1&transparency=1&backend=flex`,
    );
    await waitForDone(page, 240_000);
    assert.ok(await page.locator('#transparency').isChecked());
    assert.ok(
      (await alphas(page)).some((a) => a < 255),
      'lucid mode has a transparency map too',
    );
    await page.evaluate(() => (location.hash = location.hash.replace('transparency=1', 'transparency=yes')));
    await page
      .locator('#notices')
      .getByText(/transparency=yes is not 1 \(shown\) or 0/)
      .waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#transparency').isChecked(), false);
  },
);
