// @ts-check
// Beyond the seed: lucid mode, starting from your own picture, grids of filters painted live (click a tile to open
// it), and PNG export. All on Flex (no WebGPU adapter), at small sizes so each test takes seconds per step.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  browserFor, decodeApng, decodePng, lastRequest, neighbourCorrelation, open, pixelDifference, screenshot, servedSite, snapshot,
  waitForDone, waitForSteps,
} from './helpers.mjs';

const site = servedSite();

const settings = (page) => page.evaluate(() => window.filterlens.settings);
const fromImage = (page) => page.evaluate(() => window.filterlens.run.fromImage);
const runId = (page) => page.evaluate(() => window.filterlens.runId);
const nextRun = (page, before) => page.waitForFunction((before) => window.filterlens.runId > before, before);

/** The `w`×`h` block of a snapshot at (`x0`, `y0`). */
function crop({ width, data }, x0, y0, w, h) {
  const out = new Uint8Array(4 * w * h);
  for (let y = 0; y < h; y++) out.set(data.slice(4 * ((y0 + y) * width + x0), 4 * ((y0 + y) * width + x0 + w)), 4 * y * w);
  return { width: w, height: h, data: Array.from(out) };
}

/** Mean red, green and blue of a snapshot's pixels with x in [x0, x1) and y in [y0, y1). */
function meanColour({ width, data }, [x0, x1], [y0, y1]) {
  const sum = [0, 0, 0];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) sum[c] += data[4 * (y * width + x) + c];
  return sum.map((v) => v / ((x1 - x0) * (y1 - y0)));
}

/** Drops a 64×64 PNG named `name` on the picture, its top half `top` and its bottom half `bottom` (CSS colours),
 *  made by the browser's own encoder, as a person drops a file. */
const dropHalves = (page, name, top, bottom) =>
  page.evaluate(
    async ([name, top, bottom]) => {
      const canvas = new OffscreenCanvas(64, 64);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = bottom;
      ctx.fillRect(0, 0, 64, 64);
      ctx.fillStyle = top;
      ctx.fillRect(0, 0, 64, 32);
      const file = new File([await canvas.convertToBlob({ type: 'image/png' })], name, { type: 'image/png' });
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(file);
      document.getElementById('frame').dispatchEvent(new DragEvent('drop', { dataTransfer, bubbles: true, cancelable: true }));
    },
    [name, top, bottom],
  );

const greySpread = ({ data }) => {
  const grey = [];
  for (let i = 0; i < data.length; i += 4) grey.push(data[i] + data[i + 1] + data[i + 2]);
  const mean = grey.reduce((a, b) => a + b, 0) / grey.length;
  return Math.sqrt(grey.reduce((a, g) => a + (g - mean) ** 2, 0) / grey.length) / 3;
};

/** Clicks Download PNG and returns the file's name and decoded pixels. */
async function download(page) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  return { name: file.suggestedFilename(), png: decodePng(readFileSync(await file.path())) };
}

test('the mode selector switches to lucid (its steps, size and learning rate) and back; lucid links reproduce', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#layer=conv1_2&filter=1&steps=500&stepSize=2&size=64&backend=flex`);
  await waitForSteps(page, 2, 240_000);
  assert.equal((await settings(page)).mode, 'classic', 'a link without a mode is classic');
  assert.match(await page.locator('#status').textContent(), /step \d+\/500 · [\d.]+ ms\/step · (about [\d.]+ (s|min|h) left|estimating the time left…)/);
  assert.equal(await page.locator('#row-lr').isHidden(), true);

  const classicRun = await runId(page);
  await page.locator('#mode').selectOption('lucid');
  await nextRun(page, classicRun);
  const steps = await waitForSteps(page, 5, 240_000);
  const s = await settings(page);
  assert.deepEqual([s.mode, s.steps, s.size, s.lr], ['lucid', 256, 128, 0.05], 'lucid takes its own steps and size');
  assert.match(
    await page.evaluate(() => location.hash),
    /#mode=lucid&model=vgg16&layer=conv1_2&filter=1&grid=1&objective=channel&preRelu=false&minimise=false&diversity=0&accentuate=0&steps=256&size=128&lr=0.05&jitter=8&seed=0&backend=flex$/,
  );
  const request = await lastRequest(page);
  assert.deepEqual([request.mode, request.lr, request.stepSize, request.size], ['lucid', 0.05, undefined, 128]);
  assert.equal(await page.locator('#row-step').isHidden(), true, 'the step size is classic-only');
  assert.equal(await page.locator('#row-lr').isVisible(), true, 'the learning rate is lucid-only');
  assert.ok(steps.at(-1).activation > steps[0].activation, `activations ${steps.map((x) => x.activation)}`);
  assert.equal((await snapshot(page)).width, 128);
  await screenshot(page, 'lucid-mode');

  await page.locator('#mode').selectOption('classic');
  const back = await settings(page);
  assert.deepEqual([back.mode, back.steps, back.size], ['classic', 150, 224]);
  assert.equal(await page.locator('#row-step').isVisible(), true);

  // Lucid's random transforms are seeded: the same link gives the same picture, pixel for pixel.
  const link = `${site.url}dist/#mode=lucid&layer=conv1_2&filter=4&grid=1&steps=4&lr=0.05&size=64&seed=11&backend=flex`;
  const pictures = [];
  for (let i = 0; i < 2; i++) {
    const other = await open(browser, link);
    await waitForDone(other, 240_000);
    pictures.push(await snapshot(other));
    await other.close();
  }
  assert.equal(pictures[0].step, 4);
  assert.equal(pixelDifference(pictures[0], pictures[1]), 0);
});

test('a chosen or dropped picture is the starting image; bad files are refused and change nothing', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#mode=classic&layer=conv1_1&filter=0&grid=1&steps=300&stepSize=0.25&size=64&seed=0&backend=flex`);
  await waitForSteps(page, 1, 240_000);

  // An 80×60 picture, red left of x = 30 and blue right of it, made by the browser's own PNG encoder. Its centre
  // square (x from 10 to 70) is a third red, two thirds blue; a square cut from the left edge would be half red.
  const halves = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(80, 60);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#f00';
    ctx.fillRect(0, 0, 30, 60);
    ctx.fillStyle = '#00f';
    ctx.fillRect(30, 0, 50, 60);
    return Array.from(new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer()));
  });
  let before = await runId(page);
  await page.locator('#image-file').setInputFiles({ name: 'halves.png', mimeType: 'image/png', buffer: Buffer.from(halves) });
  await nextRun(page, before);
  await waitForSteps(page, 2);
  assert.equal(await fromImage(page), true);
  assert.match(await page.locator('#start-name').textContent(), /halves\.png \(80×60, centre square\)/);
  assert.equal(await page.locator('#start-thumb').isVisible(), true);
  let picture = await snapshot(page);
  const [left, band, right] = [meanColour(picture, [0, 18], [0, 64]), meanColour(picture, [24, 28], [0, 64]), meanColour(picture, [36, 64], [0, 64])];
  assert.ok(left[0] > left[2] + 100 && right[2] > right[0] + 100, `left ${left}, right ${right}`);
  assert.ok(band[2] > band[0] + 100, `columns 24–27 come from the centre square's blue (x ≈ 33–36), not the left square's red: ${band}`);
  await screenshot(page, 'own-image-chosen');

  // Dropped on the picture: top half green, bottom half black.
  before = await runId(page);
  await dropHalves(page, 'green.png', '#0f0', '#000');
  await nextRun(page, before);
  await waitForSteps(page, 2);
  picture = await snapshot(page);
  const [top, bottom] = [meanColour(picture, [0, 64], [0, 28]), meanColour(picture, [0, 64], [36, 64])];
  assert.ok(top[1] > top[0] + 100 && top[1] > bottom[1] + 100, `top ${top}, bottom ${bottom}`);
  assert.match(await page.locator('#start-name').textContent(), /green\.png/);

  // Not pictures: refused with a message; the run and the starting picture stay as they were.
  before = await runId(page);
  for (const { name, mimeType, text, message } of [
    { name: 'notes.txt', mimeType: 'text/plain', text: 'hello', message: /Could not use "notes\.txt" as a starting picture: it is text\/plain, not an image/ },
    { name: 'broken.png', mimeType: 'image/png', text: 'not really a png', message: /Could not use "broken\.png" as a starting picture/ },
  ]) {
    await page.locator('#image-file').setInputFiles({ name, mimeType, buffer: Buffer.from(text) });
    await page.waitForFunction((name) => document.getElementById('error-text').textContent.includes(name), name);
    assert.match(await page.locator('#error-text').textContent(), message);
  }
  assert.equal(await runId(page), before);
  assert.match(await page.locator('#start-name').textContent(), /green\.png/);

  // Back to noise.
  await page.locator('#noise').click();
  await nextRun(page, before);
  await waitForSteps(page, 2);
  assert.equal(await fromImage(page), false);
  assert.match(await page.locator('#start-name').textContent(), /noise/);
  assert.equal(await page.locator('#noise').isHidden(), true);
  const structure = neighbourCorrelation(await snapshot(page));
  assert.ok(structure < 0.2, `noise again (neighbour correlation ${structure})`);
});

test('a grid of 6 filters paints live as captioned tiles, a tile opens as the same picture, both download as PNG', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#mode=classic&layer=conv2_1&filter=10&grid=6&steps=4&stepSize=2&size=64&seed=3&backend=flex`);
  const steps = await waitForSteps(page, 1, 240_000);
  const { layout } = await page.evaluate(() => window.filterlens.events.find((e) => e.type === 'started'));
  assert.equal(layout.tiles.length, 6);
  assert.deepEqual([layout.width, layout.height], [3 * 64 + 2 * 4, 2 * (64 + 11) + 4]);
  assert.deepEqual(steps[0].activations.length, 6, 'one activation per tile');
  await waitForDone(page, 240_000);
  assert.match(await page.locator('#status').textContent(), /conv2_1 filters 10–15 .* step 4\/4 .* mean activation/);
  const grid = await snapshot(page);
  assert.deepEqual([grid.width, grid.height, grid.step], [layout.width, layout.height, 4]);
  const tiles = layout.tiles.map(({ x, y }) => crop(grid, x, y, 64, 64));
  for (const [i, tile] of tiles.entries()) {
    assert.ok(greySpread(tile) > 5, `tile ${i} is painted`);
    const caption = crop(grid, layout.tiles[i].x, layout.tiles[i].y + 64, 64, 11);
    assert.ok(caption.data.filter((v, k) => k % 4 === 0 && v === 34).length > 60, `tile ${i} has its caption`);
    for (let j = 0; j < i; j++) assert.ok(pixelDifference(tile, tiles[j]) > 1, `tiles ${j} and ${i} differ`);
  }
  await screenshot(page, 'grid-6');

  const gridFile = await download(page);
  assert.equal(gridFile.name, 'filterlens-vgg16-conv2_1-10-15-classic-seed3-step4.png');
  assert.equal(pixelDifference(gridFile.png, grid), 0, 'the PNG is the picture, full resolution, captions included');

  // Click the fifth tile (filter 14): the single view opens it, and with the same seed paints the same picture.
  const { x, y, width: w } = layout.tiles[4];
  const box = await page.locator('#view').boundingBox();
  const before = await runId(page);
  await page.locator('#view').click({ position: { x: ((x + w / 2) * box.width) / layout.width, y: ((y + 32) * box.height) / layout.height } });
  await nextRun(page, before);
  const s = await settings(page);
  assert.deepEqual([s.grid, s.filter, s.size], [1, 14, 64]);
  await waitForDone(page, 240_000);
  const single = await snapshot(page);
  assert.equal(single.width, 64);
  const difference = pixelDifference(single, tiles[4]);
  t.diagnostic(`single run vs its grid tile: mean difference ${difference} grey levels`);
  assert.ok(difference < 1, `the single run is the tile (mean difference ${difference})`);
  const singleFile = await download(page);
  assert.equal(singleFile.name, 'filterlens-vgg16-conv2_1-14-classic-seed3-step4.png');
  assert.equal(pixelDifference(singleFile.png, single), 0);

  // 16 filters at once; bigger grids are held to smaller images.
  let previous = await runId(page);
  await page.locator('#grid').selectOption('16');
  await nextRun(page, previous);
  await waitForSteps(page, 1, 240_000);
  const started = await page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'started').at(-1));
  assert.equal(started.layout.tiles.length, 16);
  assert.deepEqual((await lastRequest(page)).filters, Array.from({ length: 16 }, (_, i) => 14 + i));
  previous = await runId(page);
  await page.locator('#grid').selectOption('64');
  await nextRun(page, previous);
  assert.deepEqual(
    await page.locator('#size option').evaluateAll((options) => options.map((o) => /** @type {HTMLOptionElement} */ (o).disabled)),
    [false, true, true, true],
    '64 tiles: 64 px only',
  );
  await waitForSteps(page, 1, 240_000);
  assert.deepEqual((await lastRequest(page)).filters, Array.from({ length: 64 }, (_, i) => 14 + i));
  await screenshot(page, 'grid-64');
});

test('in a grid, silent filters switch to pre-ReLU tile by tile, and the page names them', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#layer=conv5_3&filter=0&grid=6&steps=2&size=64&seed=0&backend=flex`);
  const [first] = await waitForSteps(page, 1, 240_000);
  assert.ok(first.switchedToPreRelu.length > 0 && first.switchedToPreRelu.length < 6, `a mix: ${first.switchedToPreRelu}`);
  const silent = first.switchedToPreRelu;
  assert.deepEqual(first.preRelu.map((p, i) => (p ? i : -1)).filter((i) => i >= 0), silent, 'exactly those tiles read pre-ReLU');
  const said = await page.locator('#notices').textContent();
  assert.match(said, new RegExp(`Filters? ${silent.join(', ')} of conv5_3 (is|are) silent on the starting noise`));
});

test('lucid mode from your own picture starts at that picture', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#mode=lucid&layer=conv2_1&filter=3&steps=50&size=64&lr=0.01&backend=flex`);
  await waitForSteps(page, 1, 240_000);
  const before = await runId(page);
  // Top half green, bottom half dark blue: the FFT parameterisation must reproduce it before the ascent moves it.
  await dropHalves(page, 'two.png', '#30c030', '#1a1a60');
  await nextRun(page, before);
  await waitForSteps(page, 1, 240_000);
  const picture = await snapshot(page);
  const [top, bottom] = [meanColour(picture, [0, 64], [0, 24]), meanColour(picture, [0, 64], [40, 64])];
  assert.ok(top[1] > top[2] + 60 && bottom[2] > bottom[1] + 30, `top ${top}, bottom ${bottom}`);
  assert.equal(await fromImage(page), true);
});

test('Download animation: an APNG of the frames as they were painted, in order, captioned, ending on the picture', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  // 150 steps: a frame every 3 (60 over the run), and the first; a grid, so the frames carry its captions too.
  const page = await open(browser, `${site.url}dist/#layer=conv1_1&filter=0&grid=6&steps=150&stepSize=2&size=64&seed=2&backend=flex`);
  await waitForDone(page, 300_000);
  const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#download-animation').click()]);
  assert.equal(file.suggestedFilename(), 'filterlens-vgg16-conv1_1-0-5-classic-seed2-animation.png');
  const apng = decodeApng(readFileSync(await file.path()));
  const picture = await snapshot(page);
  const steps = [1, ...Array.from({ length: 50 }, (_, i) => 3 * (i + 1))];
  assert.equal(apng.frames.length, steps.length, 'the first step and every third');
  assert.equal(apng.plays, 0, 'it loops');
  assert.equal(apng.width, picture.width);
  assert.ok(apng.height > picture.height, 'a caption strip below the picture');
  const body = (frame) => Buffer.from(frame.data.subarray(0, 4 * picture.width * picture.height));
  const strip = (frame) => Buffer.from(frame.data.subarray(4 * picture.width * picture.height));
  assert.ok(body(apng.frames.at(-1)).equals(Buffer.from(picture.data)), 'the last frame is the picture on the canvas');
  for (let i = 1; i < apng.frames.length; i++) {
    assert.ok(!body(apng.frames[i]).equals(body(apng.frames[i - 1])), `frame ${i} moved on from frame ${i - 1}`);
    assert.ok(!strip(apng.frames[i]).equals(strip(apng.frames[i - 1])), `frame ${i}'s caption (its step) differs`);
  }
  assert.ok(strip(apng.frames[0]).some((v) => v < 100), 'the caption has ink');
  assert.deepEqual([apng.frames[0].delay, apng.frames.at(-1).delay], [0.08, 2], 'frames of 80 ms; the last shows for 2 s');
  // The first frames change most: the picture was painted at each of those steps, not copied from the end.
  const change = (a, b) => body(a).reduce((n, v, i) => n + Math.abs(v - body(b)[i]), 0);
  assert.ok(change(apng.frames[0], apng.frames[1]) > change(apng.frames.at(-2), apng.frames.at(-1)));
});

test('minimise: the link turns the ascent around, the activation falls below its start, and the link keeps it', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#layer=conv3_1&filter=5&minimise=true&steps=12&stepSize=2&size=64&seed=0&backend=flex`);
  await waitForDone(page, 300_000);
  const steps = await waitForSteps(page, 12, 60_000);
  const values = steps.map((s) => s.activation);
  assert.ok(values.at(-1) < values[0] - 0.5 && values.at(-1) < 0, `activations ${values}`);
  assert.ok(steps.every((s) => s.preRelu[0]), 'minimised, the value read is the one before the ReLU');
  assert.equal((await lastRequest(page)).minimise, true);
  assert.ok(await page.locator('#minimise').isChecked());
  assert.match(await page.locator('#status').textContent(), /activation -[\d.]+ \(pre-ReLU\), minimised/);
  assert.match(await page.evaluate(() => location.hash), /minimise=true/, 'the page\'s link keeps it');
  await screenshot(page, 'minimised-conv3_1-5');
  // Unticked, the same link maximises again.
  await page.locator('#minimise').uncheck();
  await page.waitForFunction(() => window.filterlens.run.request.minimise === false);
  assert.match(await page.evaluate(() => location.hash), /minimise=false/);
});

test('diversity: a grid of one filter\'s different pictures, from the link and the controls', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#mode=lucid&layer=conv3_1&filter=20&grid=6&diversity=10&steps=16&size=64&seed=0&backend=flex`);
  await waitForDone(page, 300_000);
  const request = await lastRequest(page);
  assert.deepEqual(request.filters, [20, 20, 20, 20, 20, 20], 'six pictures of filter 20');
  assert.equal(request.diversity, 10);
  assert.ok(await page.locator('#row-diversity').isVisible());
  assert.match(await page.locator('#status').textContent(), /conv3_1 filter 20, 6 diverse pictures/);
  assert.equal(await page.locator('#grid option:checked').textContent(), '6 different pictures of this filter');
  // Every tile differs from every other (they start from different noise and are pushed apart).
  const picture = await snapshot(page);
  const layout = await page.evaluate(() => window.filterlens.run.layout);
  const tile = (i) => {
    const { x, y } = layout.tiles[i];
    const out = [];
    for (let r = 0; r < 64; r++) out.push(...picture.data.slice(4 * ((y + r) * picture.width + x), 4 * ((y + r) * picture.width + x + 64)));
    return out;
  };
  for (let i = 0; i < 6; i++) {
    for (let j = i + 1; j < 6; j++) {
      const [a, b] = [tile(i), tile(j)];
      const difference = a.reduce((n, v, k) => n + Math.abs(v - b[k]), 0) / a.length;
      assert.ok(difference > 5, `tiles ${i} and ${j} differ by ${difference.toFixed(1)} grey levels only`);
    }
  }
  await screenshot(page, 'diversity-conv3_1-20');
  assert.match(await page.evaluate(() => location.hash), /grid=6&.*diversity=10&/);
  // Diversity 0: the grid is consecutive filters again; a single filter hides the control.
  await page.locator('#diversity-n').fill('0');
  await page.locator('#diversity-n').dispatchEvent('change');
  await page.waitForFunction(() => window.filterlens.run.request.filters.join() === '20,21,22,23,24,25');
  await page.locator('#grid').selectOption('1');
  await page.waitForFunction(() => window.filterlens.run.request.filters.length === 1);
  assert.ok(await page.locator('#row-diversity').isHidden());
});

test('accentuate: offered with a picture of your own, sent with it, left out from noise; it keeps the picture nearer itself', { timeout: 600_000 }, async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#mode=lucid&layer=conv3_1&filter=5&steps=24&size=64&seed=3&accentuate=30&backend=flex`);
  await waitForSteps(page, 1, 240_000);
  assert.ok(await page.locator('#row-accentuate').isHidden(), 'nothing to accentuate from noise');
  assert.equal((await page.evaluate(() => window.filterlens.run))?.request.accentuate, 0, 'from noise the pull is left out');
  /** The run's last picture, and its RMS distance (grey levels) from the dropped picture's two halves. */
  const finish = async () => {
    await waitForDone(page, 240_000);
    const { data } = await snapshot(page);
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
      const y = Math.floor(i / 4 / 64);
      const expected = y < 32 ? [0x30, 0xc0, 0x30] : [0x1a, 0x1a, 0x60];
      for (let c = 0; c < 3; c++) sum += (data[i + c] - expected[c]) ** 2;
    }
    return Math.sqrt(sum / ((data.length / 4) * 3));
  };
  let before = await runId(page);
  await dropHalves(page, 'two.png', '#30c030', '#1a1a60');
  await nextRun(page, before);
  assert.ok(await page.locator('#row-accentuate').isVisible());
  assert.equal((await page.evaluate(() => window.filterlens.run))?.request.accentuate, 30);
  const accentuated = await finish();
  before = await runId(page);
  await page.fill('#accentuate-n', '0');
  await page.press('#accentuate-n', 'Enter');
  await nextRun(page, before);
  const plain = await finish();
  t.diagnostic(`RMS from the starting picture after 24 steps: accentuate 30 ${accentuated.toFixed(1)}, 0 ${plain.toFixed(1)} grey levels`);
  assert.ok(accentuated < plain, `accentuated ${accentuated} vs plain ${plain}`);
  assert.match(await page.evaluate(() => location.hash), /&accentuate=0&/);
});
