// @ts-check
// Atlas benchmark (not a test): how soon a visitor sees a finished picture of the filter they chose, with the site's
// atlas and without it. A copy of dist/ with an atlas of VGG16's `LAYER` (lucid, 64 px, 64 steps: the hosted
// demo's settings) is served through one paced link (so many Mbit/s, 40 ms per request) to a fresh Chromium on the
// CPU path. Per round: the link to one filter opened on a first visit (navigation to the atlas picture, to the
// live run's first step, to its end), then the filter slider moved to the next filter (to the atlas picture, to the
// live run's end).
//
//   node tests/e2e/bench-atlas.mjs [mbit] [rounds] [layer]   (after make dist; default 20, 3 rounds, conv3_1;
//                                                             medians to tests/e2e/artifacts/bench-atlas.json)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, atlasSite, launch, openContext, openPage, waitForDone, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

const mbit = Number(process.argv[2] || 20);
const rounds = Number(process.argv[3] || 3);
const layer = process.argv[4] || 'conv3_1';
const SETTINGS = ['--mode', 'lucid', '--size', '64', '--steps', '64'];
const LINK = `#mode=lucid&layer=${layer}&grid=1&size=64&steps=64&backend=flex`;
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const scratch = mkdtempSync(path.join(tmpdir(), 'filterlens-bench-atlas-'));
const made = performance.now();
const { packed } = atlasSite(scratch, ['--layers', layer, ...SETTINGS]);
const atlasSeconds = (performance.now() - made) / 1e3;
const manifest = JSON.parse(readFileSync(path.join(packed, 'manifest.json'), 'utf8'));
const pictureBytes = manifest.layers[0].pictures.map((/** @type {{ length: number }} */ p) => p.length);

/** Waits until the atlas shows `filter`; resolves to the page's performance.now() then.
 *  @param {import('playwright-core').Page} page @param {number} filter */
const atlasShown = (page, filter) =>
  page.waitForFunction(
    (filter) => {
      const img = /** @type {HTMLImageElement} */ (document.getElementById('atlas-picture'));
      const ok = !img.hidden && img.complete && img.naturalWidth > 0 && img.alt.includes(` filter ${filter},`);
      return ok && performance.now();
    },
    filter,
    { timeout: 600_000, polling: 'raf' },
  );

/** @type {{ atlas: number, firstStep: number, done: number, movedAtlas: number, movedDone: number }[]} */
const samples = [];
for (let round = 0; round < rounds; round++) {
  const server = await serve(scratch, { compress: ['gzip'], revalidate: true, pace: { mbit, latencyMs: 40 } });
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(await openContext(browser), `${server.url}site/${LINK}&filter=5`);
    const atlas = Number(await (await atlasShown(page, 5)).jsonValue());
    await waitForSteps(page, 1, 600_000);
    const firstStep = /** @type {number} */ (await page.evaluate(() => window.filterlens.metrics.firstPaintSinceLoad));
    await waitForDone(page, 600_000);
    const done = await page.evaluate(() => performance.now());
    // The slider, on a page that has its weights: the next filter.
    const moved = await page.evaluate(() => performance.now());
    await page.locator('#filter-n').fill('6');
    await page.locator('#filter-n').press('Enter');
    const movedAtlas = Number(await (await atlasShown(page, 6)).jsonValue()) - moved;
    await page.waitForFunction(
      () => window.filterlens.settings.filter === 6 && window.filterlens.run?.request.filters?.[0] === 6,
    );
    await waitForDone(page, 600_000);
    const movedDone = (await page.evaluate(() => performance.now())) - moved;
    samples.push({ atlas, firstStep, done, movedAtlas, movedDone });
  } finally {
    await browser.close();
    await server.close();
  }
}
rmSync(scratch, { recursive: true, force: true });
/** @param {(s: (typeof samples)[number]) => number} f */
const ms = (f) => Math.round(median(samples.map(f)));
const row = {
  mbit,
  latency_ms: 40,
  layer,
  settings: SETTINGS.join(' '),
  first_visit_atlas_picture_ms: ms((s) => s.atlas),
  first_visit_first_live_step_ms: ms((s) => s.firstStep),
  first_visit_live_picture_done_ms: ms((s) => s.done),
  slider_atlas_picture_ms: ms((s) => s.movedAtlas),
  slider_live_picture_done_ms: ms((s) => s.movedDone),
  picture_bytes_median: median(pictureBytes),
  layer_atlas_seconds_cli: Number(atlasSeconds.toFixed(1)),
  rounds,
};
console.log(JSON.stringify(row));
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(
  path.join(ARTIFACTS, 'bench-atlas.json'),
  `${JSON.stringify({ date: new Date().toISOString(), row }, null, 2)}\n`,
);
