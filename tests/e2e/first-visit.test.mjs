// @ts-check
// A newcomer's first visit: the weights come by layer. Through a paced link (20 Mbit/s, 40 ms per request, gzip as
// hosts send it), a shared link's first step paints with only the bytes its layer needs; the deeper layers follow;
// a revisit moves no weight bytes; a server that ignores byte ranges still works (the whole file, streamed), and
// every way paints the same picture.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  DIST,
  browserFor,
  openContext,
  openPage,
  screenshot,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { serve } from './server.mjs';

/** @typedef {import('../../www/weights.js').FileEntry} FileEntry */
/** @typedef {import('../../www/weights.js').Part} Part */

const file = /** @type {FileEntry} */ (
  /** @type {{ files: FileEntry[] }} */ (
    JSON.parse(readFileSync(path.join(DIST, 'weights/manifest.json'), 'utf8'))
  ).files.find((f) => f.file === 'vgg16-f16.safetensors')
);
/** Where the bytes of the layers up to `layer` end in the file. @param {string} layer */
const endOf = (layer) => /** @type {Part} */ (file.parts.find((p) => p.name === layer)).end;
/** Weight bytes the server sent, before `at` (Date.now() time) if given.
 *  @param {Awaited<ReturnType<typeof serve>>} server @param {number} [at] */
const weightBytes = (server, at = Infinity) =>
  server.sent.filter((s) => s.path.endsWith('.safetensors') && s.at <= at).reduce((n, s) => n + s.bytes, 0);
/** The Date.now() time of the page's first painted step. @param {import('playwright-core').Page} page */
const firstPaint = (page) =>
  page.evaluate(() => performance.timeOrigin + /** @type {number} */ (window.filterlens.metrics.firstPaintSinceLoad));

test(
  "a shared link paints with only its layers' weights; a deeper layer loads the rest; a revisit moves none",
  { timeout: 600_000 },
  async (t) => {
    const server = await serve(DIST, { compress: ['gzip'], revalidate: true, pace: { mbit: 20, latencyMs: 40 } });
    t.after(() => server.close());
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);

    // The page's own landing: conv3_1.
    const page = await openPage(context, server.url);
    await waitForSteps(page, 1, 300_000);
    const request = await page.evaluate(() => /** @type {FilterlensRun} */ (window.filterlens.run).request);
    assert.equal(request.layer, 'conv3_1');
    const before = weightBytes(server, await firstPaint(page));
    assert.equal(before, endOf('conv3_1'), `the header and conv1_1 … conv3_1 (${endOf('conv3_1')} bytes), no more`);
    const weights = await page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'weights'));
    const progress = weights.filter((e) => e.phase === 'progress' && !e.background);
    assert.ok(
      progress.every((e) => e.total === endOf('conv3_1') && e.layer === 'conv3_1'),
      'the bar counts what conv3_1 needs',
    );
    assert.ok(
      progress.some((e) => e.loaded > 0 && e.loaded < e.total),
      `a report while the download was under way: ${JSON.stringify(progress)}`,
    );
    assert.ok(
      progress.every((e) => e.source === 'network'),
      'a first visit never says the weights come from the cache',
    );
    assert.equal(progress.at(-1)?.loaded, endOf('conv3_1'));
    const megabytes = (endOf('conv3_1') / 1e6).toFixed(1).replace('.', '\\.');
    assert.match(
      /** @type {string} */ (await page.locator('#weights-text').textContent()),
      new RegExp(`VGG16 weights up to conv3_1 ${megabytes} MB downloaded, SHA-256 checked`),
    );
    await screenshot(page, 'first-visit-first-picture');

    // The slider to conv5_3: the rest of the file (already under way in the background), each byte once.
    await page.locator('#layer-name').selectOption('conv5_3');
    await page.waitForFunction(() => window.filterlens.run?.request.layer === 'conv5_3');
    await waitForSteps(page, 1, 300_000);
    assert.equal(weightBytes(server), file.bytes, 'the whole file crossed the link once');
    await page.waitForFunction(() =>
      window.filterlens.events.some((e) => e.type === 'weights' && e.phase === 'ready' && e.complete),
    );
    assert.match(
      /** @type {string} */ (await page.locator('#weights-text').textContent()),
      /^VGG16 weights 29\.4 MB downloaded, SHA-256 checked$/,
    );
    await page.close();

    // A revisit: every part from Cache Storage.
    const sentBefore = weightBytes(server);
    const again = await openPage(context, server.url);
    await waitForSteps(again, 1, 300_000);
    assert.equal(weightBytes(server), sentBefore, 'no weight bytes on a revisit');
    const ready = await again.evaluate(() =>
      window.filterlens.events.find((e) => e.type === 'weights' && e.phase === 'ready'),
    );
    assert.equal(ready.source, 'cache');
  },
);

test(
  'a server that ignores byte ranges sends the whole file, and the pictures are the ones ranges give',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const hash = '#layer=conv5_3&filter=100&steps=2&size=64&seed=0&backend=flex';
    /** @param {boolean} ranges */
    const picture = async (ranges) => {
      const server = await serve(DIST, { ranges });
      t.after(() => server.close());
      const page = await openPage(await openContext(browser), `${server.url}${hash}`);
      await waitForDone(page, 300_000);
      const weights = server.sent.filter((s) => s.path.endsWith('.safetensors')).reduce((n, s) => n + s.bytes, 0);
      const requests = server.requests.filter((p) => p.endsWith('.safetensors')).length;
      return { pixels: await snapshot(page), weights, requests };
    };
    const byRange = await picture(true);
    const whole = await picture(false);
    assert.equal(whole.requests, 1, 'one request, answered with the whole file');
    assert.equal(whole.weights, file.bytes);
    assert.equal(byRange.weights, file.bytes);
    assert.ok(whole.pixels.data && byRange.pixels.data);
    assert.ok(Buffer.from(whole.pixels.data).equals(Buffer.from(byRange.pixels.data)), 'the same picture');
  },
);

test(
  "where the host offers Brotli, the program comes as make dist's precompressed copy, and runs",
  { timeout: 300_000 },
  async (t) => {
    const server = await serve(DIST, { compress: ['br', 'gzip'] });
    t.after(() => server.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await openPage(await openContext(browser), `${server.url}#layer=conv1_1&steps=2&size=32&backend=flex`);
    await waitForSteps(page, 1, 240_000);
    const build = (await page.evaluate(() => window.filterlens.events.find((e) => e.type === 'cpu')))?.build;
    const program = `/${build}/filterlens_bg.wasm`;
    const sent = server.sent.filter((s) => s.path === program).reduce((n, s) => n + s.bytes, 0);
    const copy = readFileSync(path.join(DIST, `${build}/filterlens_bg.wasm.br`));
    assert.equal(sent, copy.length, `${program} went as its Brotli copy (${copy.length} bytes)`);
    assert.ok(
      copy.length < 0.2 * readFileSync(path.join(DIST, `${build}/filterlens_bg.wasm`)).length,
      'a fifth of the module at most',
    );
  },
);
