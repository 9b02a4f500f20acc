// @ts-check
// The site's atlas (issue 31): a copy of dist/ with an atlas of VGG16's conv1_1 made by the CLI (classic, 20 steps,
// 64 px, on the page's f16 weights). A filter's precomputed picture shows before the live run's first step, labelled,
// follows the slider, and gives way to the live run, which paints the same; the layer view opens a filter on click;
// Refine starts the live run from the atlas picture; settings the atlas was not made with, and a site without an
// atlas, behave as before; a damaged picture is refused, and fetched again once the file is whole.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  DIST,
  atlasSite,
  decodePng,
  launch,
  open,
  screenshot,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { serve } from './server.mjs';

/** The atlas's settings, as the link says them (classic mode's other settings are the page's defaults). */
const LINK = 'layer=conv1_1&size=64&steps=20&backend=flex';

/** @type {string} */
let scratch;
/** @type {string} */
let packed;
/** @type {Awaited<ReturnType<typeof serve>>} */
let site;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'filterlens-atlas-'));
  packed = atlasSite(scratch, ['--layers', 'conv1_1', '--size', '64', '--steps', '20']).packed;
  site = await serve(scratch);
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser.close();
  site.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The manifest's entry for conv1_1's `filter`, and its PNG decoded. @param {number} filter */
function atlasPicture(filter) {
  const manifest = JSON.parse(readFileSync(path.join(packed, 'manifest.json'), 'utf8'));
  const layer = manifest.layers[0];
  const entry = layer.pictures[filter];
  const bytes = readFileSync(path.join(packed, layer.file)).subarray(entry.offset, entry.offset + entry.length);
  return { layer, entry, png: decodePng(bytes) };
}

/** Waits until the atlas shows conv1_1's `filter`, loaded. @param {import('playwright-core').Page} page
 *  @param {number} filter */
const waitForAtlasPicture = (page, filter) =>
  page.waitForFunction((filter) => {
    const img = /** @type {HTMLImageElement} */ (document.getElementById('atlas-picture'));
    return !img.hidden && img.complete && img.naturalWidth > 0 && img.alt.includes(`conv1_1 filter ${filter},`);
  }, filter);

/** The atlas picture on view: its filter (from its text alternative) and whether it shows.
 *  @param {import('playwright-core').Page} page */
const onView = (page) =>
  page.evaluate(() => {
    const img = /** @type {HTMLImageElement} */ (document.getElementById('atlas-picture'));
    return { shown: !img.hidden && img.complete && img.naturalWidth > 0, alt: img.alt, width: img.naturalWidth };
  });

test(
  'a filter the atlas has shows at once, labelled, follows the slider, and gives way to the live run that paints it',
  { timeout: 300_000 },
  async (t) => {
    const page = await open(browser, `${site.url}site/#${LINK}&filter=3`);
    t.after(() => page.context().close());
    await waitForAtlasPicture(page, 3);
    const stepsBefore = await page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'step').length);
    assert.equal(stepsBefore, 0, 'the atlas picture came before the live run painted anything');
    assert.match((await onView(page)).alt, /conv1_1 filter 3, precomputed/);
    assert.equal((await onView(page)).width, 64);
    assert.match(
      ((await page.locator('#atlas-label').textContent()) ?? '').replace(/\s+/g, ' '),
      /Precomputed by the site's atlas with these settings: the live run underneath shows when it ends/,
    );
    assert.ok(await page.locator('#atlas-open-layer').isVisible(), 'the layer view is offered');
    await screenshot(page, 'atlas-precomputed');

    // The slider: the next filter's picture at once (it needs no weights), in place of the last.
    await page.locator('#filter-n').fill('4');
    await page.locator('#filter-n').press('Enter');
    await waitForAtlasPicture(page, 4);
    const requests = site.requests.filter((r) => r.endsWith('/atlas/vgg16/layer-000.bin'));
    assert.ok(requests.length >= 2, `each picture by its own range request: ${requests.length}`);

    // The live run ends: its picture shows, the same as the atlas's within what wasm and native arithmetic round
    // apart (tests/e2e/parity.test.mjs), far closer than another filter's.
    await waitForDone(page, 240_000);
    assert.equal((await onView(page)).shown, false, 'the live picture shows once its run is done');
    const shot = await snapshot(page);
    const live = { data: /** @type {number[]} */ (shot.data) };
    const distance = (/** @type {{ data: ArrayLike<number> }} */ a, /** @type {{ data: ArrayLike<number> }} */ b) => {
      let sum = 0;
      for (let i = 0; i < a.data.length; i++) if (i % 4 !== 3) sum += Math.abs(a.data[i] - b.data[i]);
      return sum / ((a.data.length * 3) / 4);
    };
    const same = distance(live, atlasPicture(4).png);
    const other = distance(live, atlasPicture(5).png);
    assert.ok(same < 1 && other > 10 * same, `mean difference from the atlas's filter 4: ${same}, filter 5: ${other}`);
    t.diagnostic(
      `the live run's picture vs the atlas's: mean ${same.toFixed(3)} grey levels (another filter ${other.toFixed(1)})`,
    );
  },
);

test(
  'the layer view shows the whole layer, and a click on a tile opens its filter',
  { timeout: 300_000 },
  async (t) => {
    const page = await open(browser, `${site.url}site/#${LINK}&filter=0`);
    t.after(() => page.context().close());
    await waitForAtlasPicture(page, 0); // its label above the sheet is in place: the sheet will not move
    await page.locator('#atlas-open-layer').click();
    const sheet = page.locator('#atlas-sheet');
    await page.waitForFunction(() => {
      const img = /** @type {HTMLImageElement} */ (document.getElementById('atlas-sheet'));
      return !document.getElementById('atlas-layer')?.hidden && img.complete && img.naturalWidth > 0;
    });
    assert.equal(await page.locator('#atlas-open-layer').getAttribute('aria-expanded'), 'true');
    assert.match((await page.locator('#atlas-sheet-caption').textContent()) ?? '', /VGG16 conv1_1: its 64 filters/);
    await screenshot(page, 'atlas-layer-view');
    // Filter 10's tile, where the manifest puts it, in the sheet as shown (scaled to the column).
    const { layer } = atlasPicture(10);
    const tile = layer.sheet.tiles[10];
    const box = /** @type {{ width: number }} */ (await sheet.boundingBox());
    const scale = box.width / layer.sheet.width;
    await sheet.click({ position: { x: (tile.x + tile.width / 2) * scale, y: (tile.y + 20) * scale } });
    await page.waitForFunction(() => window.filterlens.settings.filter === 10);
    assert.match(await page.evaluate(() => location.hash), /filter=10/);
    await waitForAtlasPicture(page, 10);
    await page.locator('#atlas-close-layer').click();
    assert.ok(await page.locator('#atlas-layer').isHidden());
  },
);

test('Refine starts the live run from the atlas picture', { timeout: 300_000 }, async (t) => {
  const page = await open(browser, `${site.url}site/#${LINK}&filter=7`);
  t.after(() => page.context().close());
  await waitForAtlasPicture(page, 7);
  await page.locator('#atlas-refine').click();
  await page.waitForFunction(() => window.filterlens.run?.fromImage === true);
  assert.match((await page.locator('#start-name').textContent()) ?? '', /atlas conv1_1:7\.png \(64×64/);
  const steps = await waitForSteps(page, 1, 240_000);
  assert.equal(steps.length >= 1, true);
  assert.equal((await onView(page)).shown, false, 'a run from the atlas picture shows itself');
});

test(
  'other settings, and a site without an atlas, are as before; a damaged picture is refused, then fetched again',
  {
    timeout: 300_000,
  },
  async (t) => {
    // Another step count: the atlas's pictures are not this run's, so none shows.
    const other = await open(browser, `${site.url}site/#layer=conv1_1&size=64&steps=21&backend=flex&filter=3`);
    t.after(() => other.context().close());
    await waitForSteps(other, 1, 240_000);
    assert.equal((await onView(other)).shown, false);
    assert.ok(await other.locator('#atlas-open-layer').isHidden());

    // dist/ itself has an empty atlas index: nothing is asked of an atlas, nothing is said.
    const plain = await serve(DIST);
    t.after(() => plain.close());
    const bare = await open(browser, `${plain.url}#${LINK}&filter=3`);
    t.after(() => bare.context().close());
    await waitForSteps(bare, 1, 240_000);
    assert.equal((await onView(bare)).shown, false);
    assert.deepEqual(
      plain.requests.filter((r) => r.includes('/atlas/')),
      ['/atlas/index.json'],
    );
    assert.deepEqual(
      bare.logs.filter((l) => /^(pageerror|error):/.test(l)),
      [],
    );

    // Filter 9's bytes damaged on the site: refused with a notice, the live run alone; once whole, fetched again.
    const { layer, entry } = atlasPicture(9);
    const file = path.join(packed, layer.file);
    const whole = readFileSync(file);
    const damaged = Buffer.from(whole);
    damaged[entry.offset + 100] ^= 0x5a;
    writeFileSync(file, damaged);
    t.after(() => writeFileSync(file, whole));
    const page = await open(browser, `${site.url}site/#${LINK}&filter=9`);
    t.after(() => page.context().close());
    const notice = page.locator('#notices li', { hasText: "the atlas's picture of conv1_1:9 is damaged" });
    await notice.waitFor();
    assert.equal((await onView(page)).shown, false);
    writeFileSync(file, whole);
    await page.locator('#filter-n').fill('8');
    await page.locator('#filter-n').press('Enter');
    await waitForAtlasPicture(page, 8);
    await page.locator('#filter-n').fill('9');
    await page.locator('#filter-n').press('Enter');
    await waitForAtlasPicture(page, 9);
    assert.ok((await onView(page)).shown);
    assert.equal(await notice.count(), 0, 'the notice went with the picture that was damaged');
  },
);
