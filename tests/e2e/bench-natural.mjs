// @ts-check
// Natural examples benchmark (not a test): pictures per second through the page's pass, per network and layer, on
// the CPU path (threaded Flex) of a fresh headless Chromium. Per case and round: `count` pictures (256 px PNGs made
// in the page, as files a visitor would choose) through the layer at 224 px, timed from Run to the last picture,
// with no live run beside it (the link's run is stopped first).
//
//   node tests/e2e/bench-natural.mjs [count] [rounds]   (after make dist; default 40 pictures, 3 rounds; medians
//                                                      to tests/e2e/artifacts/bench-natural.json)

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, ROOT, choosePicturesMadeInPage, launch, open, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

const count = Number(process.argv[2] || 40);
const rounds = Number(process.argv[3] || 3);
const CASES = [
  { model: 'vgg16', layer: 'conv1_1' },
  { model: 'vgg16', layer: 'conv3_1' },
  { model: 'vgg16', layer: 'conv5_3' },
  { model: 'alexnet', layer: 'conv5' },
  { model: 'efficientnet-lite0', layer: 'logits' },
];
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const server = await serve(ROOT);
const { url } = server;

/** @type {Record<string, number[]>} */
const perSecond = {};
const browser = await launch({ webgpu: false });
try {
  for (let round = 0; round < rounds; round++) {
    for (const { model, layer } of CASES) {
      const page = await open(
        browser,
        `${url}dist/#mode=lucid&model=${model}&layer=${layer}&size=64&steps=2&backend=flex`,
      );
      await waitForSteps(page, 1, 600_000);
      await page.click('#stop');
      await choosePicturesMadeInPage(page, count);
      const started = await page.evaluate(() => performance.now());
      await page.click('#examples-run');
      const ended = await page.waitForFunction(
        (count) => {
          const set = window.filterlens.examples();
          return !set.running && set.indexed.length >= count && performance.now();
        },
        count,
        { timeout: 900_000, polling: 50 },
      );
      const seconds = (Number(await ended.jsonValue()) - started) / 1e3;
      const key = `${model} ${layer}`;
      (perSecond[key] ??= []).push(count / seconds);
      console.log(`round ${round + 1}: ${key}: ${(count / seconds).toFixed(1)} pictures/s`);
      await page.context().close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
const medians = Object.fromEntries(Object.entries(perSecond).map(([k, v]) => [k, median(v)]));
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(
  path.join(ARTIFACTS, 'bench-natural.json'),
  JSON.stringify({ count, rounds, perSecond, medians }, null, 2),
);
console.log(medians);
