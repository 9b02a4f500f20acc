// @ts-check
// The page under a strict Content-Security-Policy (www/index.html's <meta>, and the same policy as a header from
// the test server): the page and its worker run, export and take a picture of your own with no violation, in the
// document or in the worker; and the watch itself sees a violation where there is one.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  DIST,
  ROOT,
  browserFor,
  openContext,
  openPage,
  recordViolations,
  reportWorkerViolations,
  servedSite,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { CSP, serve } from './server.mjs';

const site = servedSite();

/** What the console said of the policy, or of anything else going wrong. @param {{ logs: string[] }} page */
const complaints = (page) => page.logs.filter((l) => /^(error|pageerror):|Content Security Policy|Refused to/i.test(l));

test("the page's <meta> states the policy the server sends", () => {
  const html = readFileSync(path.join(ROOT, 'www/index.html'), 'utf8');
  const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/);
  assert.ok(meta, 'a Content-Security-Policy <meta>');
  assert.equal(meta[1], CSP);
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'no inline scripts');
  assert.doesNotMatch(html, /\sstyle=/i, 'no inline styles');
});

test(
  'a run on Flex, a grid, a tile, a picture of your own and a PNG: no violation in the page or its worker',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    await recordViolations(context);
    const page = await openPage(context, `${site.url}dist/#layer=conv1_1&steps=2&size=64&backend=flex`, {
      before: reportWorkerViolations,
    });
    await waitForDone(page, 240_000);

    await page.locator('#grid').selectOption('6');
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 6);
    await waitForDone(page, 240_000);
    const box = /** @type {{ x: number, y: number, width: number, height: number }} */ (
      await page.locator('#view').boundingBox()
    );
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.25); // a tile opens on its own
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.length === 1);
    await waitForSteps(page, 1);

    const picture = await page.locator('#view').screenshot();
    await page.locator('#image-file').setInputFiles({ name: 'mine.png', mimeType: 'image/png', buffer: picture });
    await page.locator('#start-thumb').waitFor({ state: 'visible' }); // a blob: picture under img-src
    await page.waitForFunction(() => window.filterlens.run?.fromImage);
    await waitForDone(page, 240_000);

    const download = page.waitForEvent('download');
    await page.locator('#download').click();
    assert.match((await download).suggestedFilename(), /^filterlens-vgg16-conv1_1-.*\.png$/);

    const violations = await page.evaluate(() => window.__violations);
    t.diagnostic(`violations: ${violations.length}; console complaints: ${complaints(page).length}`);
    assert.deepEqual(violations, []);
    assert.deepEqual(complaints(page), []);
    assert.ok(
      await page.locator('#error').isHidden(),
      /** @type {string} */ (await page.locator('#error-text').textContent()),
    );
  },
);

test(
  'the watch sees violations: an inline style in the page, wasm in a worker whose policy lacks wasm-unsafe-eval',
  { timeout: 120_000 },
  async (t) => {
    const strict = await serve(DIST, { csp: CSP.replace(" 'wasm-unsafe-eval'", '') });
    t.after(() => strict.close());
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    await recordViolations(context);
    const page = await openPage(context, `${strict.url}#layer=conv1_1&steps=1&size=64&backend=flex`, {
      before: reportWorkerViolations,
    });
    await page.locator('#weights-error').waitFor({ state: 'visible', timeout: 60_000 });
    await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
    await page.waitForFunction(() => window.__violations.length > 0);
    assert.match((await page.evaluate(() => window.__violations)).join('\n'), /style-src/);
    assert.ok(
      page.logs.some((l) => /^error: CSP violation in the worker: script-src/.test(l)),
      page.logs.join('\n'),
    );
  },
);
