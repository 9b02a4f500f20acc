// @ts-check
// First-visit benchmark (not a test): a newcomer opens a shared link. dist/ is served as a static host serves it
// (byte ranges, gzip for text and wasm) through one paced link (so many Mbit/s, 40 ms per request) to a fresh
// Chromium on the CPU path; the row is the time from navigation to the first painted step and the bytes that
// crossed the link before it (weights, program, the rest), then the same link opened again in that profile (a
// revisit: the weights from Cache Storage).
//
//   node tests/e2e/first-visit.mjs [mbit,...] [rounds]   (after make dist; default 5,20,100 and 3 rounds, medians;
//                                                          writes tests/e2e/artifacts/first-visit.json; SITE=folder
//                                                          serves another build of the site, an older one, say;
//                                                          COMPRESS=br,gzip offers Brotli first)

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, DIST, launch, openContext, openPage, screenshot, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

const site = process.env.SITE || DIST;
const compress = /** @type {('br' | 'gzip')[]} */ ((process.env.COMPRESS || 'gzip').split(','));
const speeds = (process.argv[2] || '5,20,100').split(',').map(Number);
const rounds = Number(process.argv[3] || 3);
const LATENCY_MS = 40;
const links = [
  { name: 'default link', hash: '' },
  { name: 'conv5_3 link', hash: '#layer=conv5_3&filter=100' },
];
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** @param {string} p */
const kind = (p) => (p.endsWith('.safetensors') ? 'weights' : p.endsWith('.wasm') ? 'program' : 'rest');

/** Opens `url` in `context` and waits for its first painted step: milliseconds since navigation, and the bytes by
 *  kind that had crossed the link by then. @param {import('playwright-core').BrowserContext} context
 *  @param {string} url @param {Awaited<ReturnType<typeof serve>>} server */
async function firstPicture(context, url, server) {
  const from = server.sent.length;
  const page = await openPage(context, url);
  await waitForSteps(page, 1, 600_000);
  const { sinceNavigation, at } = await page.evaluate(() => {
    const first = /** @type {number} */ (window.filterlens.metrics.firstPaintSinceLoad);
    return { sinceNavigation: first, at: performance.timeOrigin + first };
  });
  const bytes = { weights: 0, program: 0, rest: 0 };
  for (const s of server.sent.slice(from)) if (s.at <= at) bytes[kind(s.path)] += s.bytes;
  return { page, sinceNavigation, bytes };
}

const rows = [];
for (const mbit of speeds) {
  for (const link of links) {
    const samples = [];
    for (let round = 0; round < rounds; round++) {
      const server = await serve(site, { compress, revalidate: true, pace: { mbit, latencyMs: LATENCY_MS } });
      const browser = await launch({ webgpu: false });
      try {
        const context = await openContext(browser);
        const first = await firstPicture(context, `${server.url}${link.hash}`, server);
        const status = await first.page.locator('#status').textContent();
        if (round === 0) await screenshot(first.page, `first-visit-${mbit}-${link.name.replace(/ /g, '-')}`);
        await first.page.close();
        const again = await firstPicture(context, `${server.url}${link.hash}`, server);
        samples.push({ first, again, build: /Flex \(CPU, \d+ threads\)/.test(status ?? '') ? 'pkg-threads' : 'pkg' });
      } finally {
        await browser.close();
        await server.close();
      }
    }
    /** @param {number[]} xs */
    const mb = (xs) => Number((median(xs) / 1e6).toFixed(2));
    const row = {
      mbit,
      latency_ms: LATENCY_MS,
      compress: compress.join(','),
      link: link.name,
      build: samples[0].build,
      first_picture_ms: Math.round(median(samples.map((s) => s.first.sinceNavigation))),
      moved_before_mb: mb(samples.map((s) => s.first.bytes.weights + s.first.bytes.program + s.first.bytes.rest)),
      weights_before_mb: mb(samples.map((s) => s.first.bytes.weights)),
      program_before_mb: mb(samples.map((s) => s.first.bytes.program)),
      revisit_first_picture_ms: Math.round(median(samples.map((s) => s.again.sinceNavigation))),
      revisit_weights_bytes: median(samples.map((s) => s.again.bytes.weights)),
      rounds,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(
  path.join(ARTIFACTS, 'first-visit.json'),
  `${JSON.stringify({ date: new Date().toISOString(), site, rows }, null, 2)}\n`,
);
