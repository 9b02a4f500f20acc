// @ts-check
// Damaged, truncated or missing weights: a clear message, and a page that stays usable.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DIST, launch, longTasks, open, openPage, screenshot, waitForSteps } from './helpers.mjs';
import { serve } from './server.mjs';

let browser;
let scratch;
before(async () => {
  browser = await launch({ webgpu: false });
  scratch = mkdtempSync(path.join(tmpdir(), 'filterlens-e2e-'));
});
after(async () => {
  await browser.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A copy of dist/ (under the sub-path /site/) whose weights file `damage` rewrites (or deletes, given null). */
async function damagedSite(name, damage) {
  const folder = path.join(scratch, name);
  cpSync(DIST, path.join(folder, 'site'), { recursive: true, dereference: true });
  const file = path.join(folder, 'site/weights/vgg16-f16.safetensors');
  const bytes = damage(readFileSync(file));
  if (bytes) writeFileSync(file, bytes);
  else rmSync(file);
  const site = await serve(folder);
  site.repair = () => cpSync(path.join(DIST, 'weights/vgg16-f16.safetensors'), file, { dereference: true });
  return site;
}

async function expectError(t, name, damage, pattern, { retry = false } = {}) {
  const site = await damagedSite(name, damage);
  t.after(() => site.close());
  const page = await open(browser, `${site.url}site/#layer=conv1_1&size=64&backend=flex`);
  await page.locator('#weights-error').waitFor({ state: 'visible', timeout: 120_000 });
  const message = await page.locator('#weights-error-text').textContent();
  assert.match(message, pattern);
  assert.ok(await page.locator('#retry').isVisible(), 'a retry button is offered');
  assert.match(await page.locator('#weights-text').textContent(), /not loaded/);
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
  assert.ok(tasks.every((t) => t.duration < 200), `long tasks: ${JSON.stringify(tasks)}`);

  if (retry) {
    // Once the file is fixed, "Retry" loads it and the page runs (what it was asked for last).
    site.repair();
    await page.evaluate(() => window.filterlens.events.splice(0)); // forget the failure
    await page.locator('#retry').click();
    assert.ok(await page.locator('#weights-error').isHidden());
    await page.locator('#start').click();
    await waitForSteps(page, 1, 240_000);
    assert.match(await page.locator('#weights-text').textContent(), /SHA-256 checked/);
  }
}

test('a corrupted weights file (same size, damaged bytes) is refused by its SHA-256', { timeout: 300_000 }, async (t) => {
  await expectError(
    t,
    'corrupted',
    (bytes) => {
      for (let i = 0; i < 64; i++) bytes[bytes.length / 2 + i * 4099] ^= 0x5a;
      return bytes;
    },
    /damaged or out of date: its SHA-256 is [0-9a-f]{12}…, not [0-9a-f]{12}… as the manifest says/,
    { retry: true },
  );
});

test('a truncated weights file is reported as truncated', { timeout: 300_000 }, async (t) => {
  await expectError(t, 'truncated', (bytes) => bytes.subarray(0, 1_000_000), /truncated: 1000000 of \d+ bytes arrived/);
});

test('a missing weights file is reported as missing', { timeout: 300_000 }, async (t) => {
  await expectError(t, 'missing', () => null, /missing on this site \(HTTP 404\)/);
});

test('a damaged copy in Cache Storage is fetched again, and older copies are removed', { timeout: 300_000 }, async (t) => {
  const site = await serve(DIST);
  t.after(() => site.close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  t.after(() => context.close());
  const url = `${site.url}#layer=conv1_1&steps=2&size=64&backend=flex`;
  const first = await openPage(context, url);
  await waitForSteps(first, 1, 240_000);
  // Damage the cached copy in place, and leave an older copy (another digest) beside it.
  const keys = await first.evaluate(async () => {
    const cache = await caches.open('filterlens-weights');
    const [request] = await cache.keys();
    const bytes = new Uint8Array(await (await cache.match(request)).arrayBuffer());
    bytes[bytes.length >> 1] ^= 0xff;
    await cache.put(request, new Response(bytes));
    const old = request.url.replace(/sha256=[0-9a-f]+/, `sha256=${'0'.repeat(64)}`);
    await cache.put(old, new Response(new Uint8Array(16)));
    return (await cache.keys()).length;
  });
  assert.equal(keys, 2);
  await first.close();
  const downloads = () => site.requests.filter((p) => p.endsWith('.safetensors')).length;
  assert.equal(downloads(), 1);

  const second = await openPage(context, url);
  await waitForSteps(second, 1, 240_000);
  assert.equal(downloads(), 2, 'the damaged copy was refused and the file fetched again');
  const ready = (await second.evaluate(() => window.filterlens.events)).find((e) => e.type === 'weights' && e.phase === 'ready');
  assert.equal(ready.source, 'network');
  const left = await second.evaluate(async () => (await (await caches.open('filterlens-weights')).keys()).map((r) => r.url));
  assert.equal(left.length, 1, `only the good copy stays: ${left}`);
  assert.doesNotMatch(left[0], /sha256=0{64}/);
});
