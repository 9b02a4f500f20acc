// @ts-check
// Damaged, truncated or missing weights: a clear message, and a page that stays usable.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DIST, launch, longTasks, open, openPage, screenshot, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

/** @typedef {import('../../www/weights.js').FileEntry} FileEntry */
/** @typedef {import('../../www/weights.js').Part} Part */

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string} */
let scratch;
before(async () => {
  browser = await launch({ webgpu: false });
  scratch = mkdtempSync(path.join(tmpdir(), 'filterlens-e2e-'));
});
after(async () => {
  await browser.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A copy of dist/ (under the sub-path /site/) whose weights file `damage` rewrites (or deletes, given null).
 *  @param {string} name @param {(bytes: Buffer) => Uint8Array | null} damage */
async function damagedSite(name, damage) {
  const folder = path.join(scratch, name);
  cpSync(DIST, path.join(folder, 'site'), { recursive: true, dereference: true });
  const file = path.join(folder, 'site/weights/vgg16-f16.safetensors');
  const bytes = damage(readFileSync(file));
  if (bytes) writeFileSync(file, bytes);
  else rmSync(file);
  const site = /** @type {Awaited<ReturnType<typeof serve>> & { repair: () => void }} */ (await serve(folder));
  site.repair = () => cpSync(path.join(DIST, 'weights/vgg16-f16.safetensors'), file, { dereference: true });
  return site;
}

/** @param {import('node:test').TestContext} t @param {string} name @param {(bytes: Buffer) => Uint8Array | null} damage
 *  @param {RegExp} pattern @param {{ retry?: boolean }} [options] */
async function expectError(t, name, damage, pattern, { retry = false } = {}) {
  const site = await damagedSite(name, damage);
  t.after(() => site.close());
  // conv5_3: a run that needs every layer, so damage anywhere in the file is met before the first picture.
  const page = await open(browser, `${site.url}site/#layer=conv5_3&size=64&backend=flex`);
  // Closed after the test: a run left going would load the next test's page (a screenshot there timed out once).
  t.after(() => page.context().close());
  await page.locator('#weights-error').waitFor({ state: 'visible', timeout: 120_000 });
  const message = /** @type {string} */ (await page.locator('#weights-error-text').textContent());
  assert.match(message, pattern);
  assert.ok(await page.locator('#retry').isVisible(), 'a retry button is offered');
  assert.match(/** @type {string} */ (await page.locator('#weights-text').textContent()), /not loaded/);
  await screenshot(page, `weights-${name}`);

  // Still usable: the controls answer, the URL follows, nothing crashed.
  await page.locator('#filter').fill('17'); // a slider acts as it moves
  await page.locator('#layer-name').selectOption('conv4_3');
  assert.match(await page.evaluate(() => location.hash), /layer=conv4_3&filter=17/);
  assert.equal(await page.locator('#filter-n').inputValue(), '17');
  assert.equal(await page.locator('#filter').getAttribute('max'), '511');
  await page.locator('#copy').click();
  await page.locator('#stop').click();
  assert.ok(!page.logs.some((l) => l.startsWith('pageerror')), page.logs.join('\n'));
  const tasks = await longTasks(page);
  assert.ok(
    tasks.every((t) => t.duration < 200),
    `long tasks: ${JSON.stringify(tasks)}`,
  );

  if (retry) {
    // Once the file is fixed, "Retry" loads it and the page runs (what it was asked for last).
    site.repair();
    await page.evaluate(() => window.filterlens.events.splice(0)); // forget the failure
    await page.locator('#retry').click();
    assert.ok(await page.locator('#weights-error').isHidden());
    await page.locator('#start').click();
    await waitForSteps(page, 1, 240_000);
    assert.match(/** @type {string} */ (await page.locator('#weights-text').textContent()), /SHA-256 checked/);
  }
}

test(
  'a corrupted weights file (same size, damaged bytes) is refused by its SHA-256',
  { timeout: 300_000 },
  async (t) => {
    await expectError(
      t,
      'corrupted',
      (bytes) => {
        for (let i = 0; i < 64; i++) bytes[bytes.length / 2 + i * 4099] ^= 0x5a;
        return bytes;
      },
      /damaged or out of date: its conv4_3 part has SHA-256 [0-9a-f]{12}…, not [0-9a-f]{12}… as the manifest says/,
      { retry: true },
    );
  },
);

test('a truncated weights file is reported as truncated', { timeout: 300_000 }, async (t) => {
  await expectError(
    t,
    'truncated',
    (bytes) => bytes.subarray(0, 1_000_000),
    /on this site is 1000000 bytes, not \d+ as the list of weights says: it is truncated/,
  );
});

test('a missing weights file is reported as missing', { timeout: 300_000 }, async (t) => {
  await expectError(t, 'missing', () => null, /missing on this site \(HTTP 404\)/);
});

test(
  'a damaged part in Cache Storage is fetched again (that part alone), and older copies are removed',
  { timeout: 300_000 },
  async (t) => {
    const site = await serve(DIST);
    t.after(() => site.close());
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    t.after(() => context.close());
    const url = `${site.url}#layer=conv1_1&steps=2&size=64&backend=flex`;
    const first = await openPage(context, url);
    await waitForSteps(first, 1, 240_000);
    await first.waitForFunction(() =>
      window.filterlens.events.some((e) => e.type === 'weights' && e.phase === 'ready' && e.complete),
    );
    // Damage conv1_1's cached part in place, and leave a copy of an older file (another digest) beside the parts.
    const keys = await first.evaluate(async () => {
      const cache = await caches.open('filterlens-weights');
      const requests = await cache.keys();
      const part = /** @type {Request} */ (requests.find((r) => r.url.includes('part=conv1_1&')));
      const bytes = new Uint8Array(await /** @type {Response} */ (await cache.match(part)).arrayBuffer());
      bytes[bytes.length >> 1] ^= 0xff;
      await cache.put(part, new Response(bytes));
      await cache.put(
        part.url.replace(/sha256=[0-9a-f]+/, `sha256=${'0'.repeat(64)}`),
        new Response(new Uint8Array(16)),
      );
      return (await cache.keys()).length;
    });
    const parts = /** @type {FileEntry} */ (
      /** @type {{ files: FileEntry[] }} */ (
        JSON.parse(readFileSync(path.join(DIST, 'weights/manifest.json'), 'utf8'))
      ).files.find((f) => f.file === 'vgg16-f16.safetensors')
    ).parts;
    assert.equal(keys, parts.length + 1);
    await first.close();
    const sent = () => site.sent.filter((s) => s.path.endsWith('.safetensors')).reduce((n, s) => n + s.bytes, 0);
    const before = sent();

    const second = await openPage(context, url);
    await waitForSteps(second, 1, 240_000);
    const conv1_1 = /** @type {Part} */ (parts.find((p) => p.name === 'conv1_1'));
    assert.equal(sent() - before, conv1_1.end - conv1_1.start, 'the damaged part alone was fetched again');
    const ready = (await second.evaluate(() => window.filterlens.events)).find(
      (e) => e.type === 'weights' && e.phase === 'ready',
    );
    assert.equal(ready.source, 'network');
    const left = await second.evaluate(async () =>
      (await (await caches.open('filterlens-weights')).keys()).map((r) => r.url),
    );
    assert.equal(left.length, parts.length, `one copy per part stays: ${left}`);
    assert.ok(!left.some((u) => /sha256=0{64}/.test(u)), 'the older copy is gone');
  },
);
