// @ts-check
// Natural examples from the visitor's own pictures (issue 32), on AlexNet (Flex): 20 generated scenes and a broken
// file chosen in the page go through the network; the top 9 and the least 3 appear with their heat maps, in the order
// the CLI finds for the same files (the engine's forward means, picture by picture); the filter slider re-ranks
// without another pass; a grid shows each tile's top picture; a click starts the ascent from a picture; a finished
// run is checked against the pictures; Stop mid-pass keeps what was done; 1,000 pictures keep memory bounded; a
// model of one's own (AlexNet as ONNX) ranks them as the CLI does with the same file.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CLI,
  DIST,
  ROOT,
  choosePicturesMadeInPage,
  encodePng,
  launch,
  open,
  screenshot,
  servedSite,
  waitForDone,
} from './helpers.mjs';

const site = servedSite();
const LINK = '#mode=lucid&model=alexnet&layer=conv2&filter=3&grid=1&size=64&steps=24&backend=flex';

/** Scene `k`, `side`×`side` RGBA: stripes of an orientation and period, in a colour, with a disc and (every third) a
 *  checkerboard; the same as the Rust tests' scenes in spirit, not in pixels. @param {number} k @param {number} side */
function scene(k, side) {
  const data = new Uint8Array(4 * side * side);
  const angle = k * 0.7;
  const period = 4 + (k % 5) * 3;
  const colour = [(k * 37) % 255, (k * 91) % 255, (k * 53) % 255];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const along = x * Math.cos(angle) + y * Math.sin(angle);
      const stripe = Math.sin((along * 2 * Math.PI) / period) > 0;
      const disc = Math.hypot(x - side * 0.3 - k * 3, y - side / 2) < side * 0.08 + k;
      const checker = k % 3 === 0 && (Math.floor(x / 6) + Math.floor(y / 6)) % 2 === 0;
      const lit = (stripe !== disc) !== checker;
      const at = 4 * (y * side + x);
      for (let c = 0; c < 3; c++) data[at + c] = lit ? colour[c] : 255 - colour[c];
      data[at + 3] = 255;
    }
  }
  return encodePng(side, side, data);
}

/** @type {string} */
let folder;
/** @type {string[]} */
let files;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'filterlens-natural-'));
  files = [];
  for (let k = 0; k < 20; k++) {
    const file = path.join(folder, `scene${String(k).padStart(2, '0')}.png`);
    writeFileSync(file, scene(k, 224));
    files.push(file);
  }
  const broken = path.join(folder, 'broken.png');
  writeFileSync(broken, Buffer.from('\x89PNG\r\n\x1a\n but nothing after it', 'latin1'));
  files.push(broken);
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser.close();
  rmSync(folder, { recursive: true, force: true });
  rmSync(`${folder}-sheet.png`, { force: true });
});

/** The CLI's ranking of the folder for `filters` of `layer` (AlexNet's conv2 on the page's f16 weights unless `model`
 *  says otherwise): each filter's top and least file names, in order.
 *  @param {number[]} filters @param {string[]} [model] @param {string} [layer] */
function cliRanking(filters, model, layer = 'conv2') {
  const network = model ?? ['--model', 'alexnet', '--weights', path.join(DIST, 'weights/alexnet-f16.safetensors')];
  const out = execFileSync(
    CLI,
    [
      'examples',
      ...network,
      '--layer',
      layer,
      '--filters',
      filters.join(','),
      '--size',
      '224',
      '--images',
      folder,
      '--out',
      `${folder}-sheet.png`, // beside the pictures, not among them
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  /** @param {string} line */
  const names = (line) =>
    line
      .replace(/^.*?: /, '')
      .split('; ')
      .map((item) => item.split(' ')[0]);
  return Object.fromEntries(
    filters.map((f) => {
      const line = (/** @type {string} */ kind) =>
        /** @type {string} */ (out.split('\n').find((l) => l.startsWith(`${layer}:${f} ${kind}: `)));
      return [f, { top: names(line('top')), least: names(line('least')) }];
    }),
  );
}

/** The examples on view, by file name. @param {import('playwright-core').Page} page */
const shown = (page) =>
  page.evaluate(() => {
    const set = window.filterlens.examples();
    const names = (/** @type {{ picture: number }[]} */ list) => list.map((e) => set.indexed[e.picture]);
    return set.shown.map((f) => ({ filter: f.filter, top: names(f.top), least: names(f.bottom) }));
  });

/** Waits until the pass has handled every picture. @param {import('playwright-core').Page} page @param {number} n */
const waitForPass = (page, n) =>
  page.waitForFunction(
    (n) => {
      const set = window.filterlens.examples();
      return !set.running && set.indexed.length + set.skipped.length >= n;
    },
    n,
    { timeout: 240_000, polling: 100 },
  );

test(
  'chosen pictures rank as the engine ranks them, with maps; the slider re-ranks without a pass; a click starts from one',
  { timeout: 600_000 },
  async (t) => {
    const page = await open(browser, `${site.url}dist/${LINK}`);
    t.after(() => page.context().close());
    await page.setInputFiles('#examples-files', files);
    await page.waitForFunction(() =>
      /21 pictures through conv2/.test(document.getElementById('examples-status')?.textContent ?? ''),
    );
    await page.click('#examples-run');
    await waitForPass(page, 21);
    const set = await page.evaluate(() => window.filterlens.examples());
    assert.equal(set.indexed.length, 20);
    assert.deepEqual(set.skipped, ['broken.png']);
    assert.match(
      await page.locator('#examples-status').innerText(),
      /20 pictures through conv2\. Skipped 1: broken\.png \(/,
    );

    const expected = cliRanking([3, 7]);
    await page.waitForFunction(() => document.querySelectorAll('#examples-top li').length === 9);
    assert.deepEqual(await shown(page), [{ filter: 3, ...expected[3] }]);
    assert.equal(await page.locator('#examples-bottom li').count(), 3);

    // The maps: the first picture with its heat over it differs from the picture alone.
    const first = page.locator('#examples-top li canvas').first();
    await page.waitForTimeout(300); // the thumbnails decode
    const withMap = await first.screenshot();
    await page.uncheck('#examples-maps');
    await page.waitForTimeout(300);
    const without = await page.locator('#examples-top li canvas').first().screenshot();
    assert.notDeepEqual(withMap, without, 'the heat map changes the picture');
    await page.check('#examples-maps');
    await screenshot(page, 'natural-examples-conv2-3');

    // Another filter: ranked from the index, no picture goes through the network again.
    const passes = await page.evaluate(
      () => window.filterlens.events.filter((e) => e.type === 'examples-progress').length,
    );
    await page.fill('#filter-n', '7');
    await page.press('#filter-n', 'Enter');
    await page.waitForFunction(() => window.filterlens.examples().shown[0]?.filter === 7);
    assert.deepEqual(await shown(page), [{ filter: 7, ...expected[7] }]);
    const after = await page.evaluate(
      () => window.filterlens.events.filter((e) => e.type === 'examples-progress').length,
    );
    assert.equal(after, passes, 'moving the slider ran no picture again');

    // The finished run is checked against the pictures.
    await waitForDone(page, 240_000);
    await page.waitForFunction(
      () =>
        /^Checked against your pictures: it drives this filter/.test(
          document.getElementById('examples-check')?.textContent ?? '',
        ),
      null,
      { timeout: 60_000 },
    );
    assert.match(
      await page.locator('#examples-check').innerText(),
      /other filters resembles your top pictures' at -?\d\.\d\d|other filters silent/,
    );

    // A grid: each tile's top picture in a strip.
    await page.selectOption('#grid', '6');
    await page.waitForFunction(() => window.filterlens.examples().shown.length === 6);
    assert.equal(await page.locator('#examples-strip li').count(), 6);
    assert.equal(await page.locator('#examples-top li').count(), 0);
    await screenshot(page, 'natural-examples-grid');

    // A click on a tile's picture starts the ascent from it.
    const name = (await shown(page))[0].top[0];
    await page.locator('#examples-strip li button').first().click();
    await page.waitForFunction((name) => document.getElementById('start-name')?.textContent?.startsWith(name), name);
    await page.waitForFunction(() => window.filterlens.run?.fromImage === true);
    assert.deepEqual(
      page.logs.filter((l) => l.startsWith('error') || l.startsWith('pageerror')),
      [],
    );
  },
);

test('Stop mid-pass keeps the pictures already through, ranked', { timeout: 600_000 }, async (t) => {
  const page = await open(browser, `${site.url}dist/${LINK}`);
  t.after(() => page.context().close());
  await page.selectOption('#examples-layers', 'all');
  await page.setInputFiles('#examples-files', files.slice(0, 20));
  await page.click('#examples-run');
  await page.waitForFunction(() => window.filterlens.examples().indexed.length >= 3, null, { timeout: 240_000 });
  await page.click('#examples-stop');
  await page.waitForTimeout(2000); // a picture in flight when Stop came still lands
  const set = await page.evaluate(() => window.filterlens.examples());
  assert.equal(set.running, false);
  assert.ok(set.indexed.length >= 3 && set.indexed.length < 20, `${set.indexed.length} pictures through`);
  assert.match(
    await page.locator('#examples-status').innerText(),
    /pictures through every layer \(stopped: \d+ not run\)/,
  );
  await page.waitForFunction(
    (n) => document.querySelectorAll('#examples-top li').length === Math.min(9, n),
    set.indexed.length,
  );
  // Every layer went through: another layer's examples come without another pass.
  await page.selectOption('#layer-name', 'conv5');
  await page.waitForFunction(() => {
    const set = window.filterlens.examples();
    return set.layer === 'conv5' && set.shown.length === 1 && !document.getElementById('examples-results')?.hidden;
  });
  assert.equal(await page.evaluate(() => window.filterlens.examples().indexed.length), set.indexed.length);
});

test('a thousand pictures go through with bounded memory', { timeout: 900_000 }, async (t) => {
  const page = await open(browser, `${site.url}dist/${LINK.replace('conv2', 'conv1')}`);
  t.after(() => page.context().close());
  await page.waitForFunction(() => window.filterlens.events.some((e) => e.type === 'backend'), null, {
    timeout: 120_000,
  });
  const before = await page.evaluate(() => window.filterlens.stats());
  // 1,000 distinct pictures, 256 px, made in the page (a file each) and chosen as a visitor's would be.
  await choosePicturesMadeInPage(page, 1000);
  const started = Date.now();
  await page.click('#examples-run');
  /** @type {{ at: number, done: number, wasm: number, heap: number }[]} */
  const samples = [];
  for (;;) {
    const s = await page.evaluate(async () => {
      const set = window.filterlens.examples();
      const stats = await window.filterlens.stats();
      // @ts-ignore Chromium's performance.memory
      const heap = performance.memory?.usedJSHeapSize ?? 0;
      return { done: set.indexed.length + set.skipped.length, running: set.running, wasm: stats.wasmBytes, heap };
    });
    samples.push({ at: Date.now() - started, done: s.done, wasm: s.wasm, heap: s.heap });
    if (!s.running && s.done >= 1000) break;
    await page.waitForTimeout(2000);
  }
  const seconds = (Date.now() - started) / 1000;
  const last = samples[samples.length - 1];
  const mb = (/** @type {number} */ b) => (b / 1e6).toFixed(1);
  console.log(
    `1000 pictures through AlexNet conv1 at 224 px: ${seconds.toFixed(0)} s (${(1000 / seconds).toFixed(1)} pictures/s);` +
      ` wasm memory ${mb(before.wasmBytes)} → ${mb(last.wasm)} MB, JS heap ${mb(samples[0].heap)} → ${mb(last.heap)} MB`,
  );
  const set = await page.evaluate(() => window.filterlens.examples());
  assert.equal(set.indexed.length, 1000);
  // The index holds numbers, not pictures: 1,000 pictures at 224 px would be 200 MB as RGBA.
  assert.ok(last.wasm - before.wasmBytes < 64e6, `wasm memory grew by ${mb(last.wasm - before.wasmBytes)} MB`);
  const half = samples.slice(samples.length >> 1).map((s) => s.wasm);
  const late = Math.max(...half) - Math.min(...half);
  assert.ok(late < 8e6, `the wasm memory grew by ${mb(late)} MB over the pass's second half`);
});

test(
  'a model of your own: its layers rank the pictures as the CLI ranks them with the same file',
  { timeout: 600_000 },
  async (t) => {
    const page = await open(browser, `${site.url}dist/${LINK}`);
    t.after(() => page.context().close());
    await page.setInputFiles('#model-file', path.join(ROOT, 'weights/alexnet.onnx'));
    await page.waitForFunction(() => window.filterlens.settings.model === 'onnx:alexnet', null, { timeout: 120_000 });
    await page.selectOption('#layer-name', 'features_3');
    await page.waitForFunction(() => window.filterlens.settings.layer === 'features_3');
    await page.setInputFiles('#examples-files', files);
    await page.click('#examples-run');
    await waitForPass(page, 21);
    await page.waitForFunction(() => window.filterlens.examples().layer === 'features_3', null, { timeout: 60_000 });
    const expected = cliRanking([3], ['--model-file', path.join(ROOT, 'weights/alexnet.onnx')], 'features_3');
    assert.deepEqual(await shown(page), [{ filter: 3, ...expected[3] }]);
  },
);
