// @ts-check
// Where the eye is: a refused expression's reason in the status line at once, its box marked; notices above the fold
// that go when they no longer apply; time estimates that wait for a few steps; a plot whose curve means the same at
// every step (maco's crops shrink over the run: the plot shows the whole picture's activation).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFor, open, screenshot, servedSite, waitForDone, waitForSteps } from './helpers.mjs';

const site = servedSite();
/** The status line (an element's text, never null). @param {import('playwright-core').Page} page */
const status = (page) => /** @type {Promise<string>} */ (page.locator('#status').textContent());

test(
  'a refused expression: its reason in the status within a second, the box marked and named',
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#layer=conv1_1&steps=3&size=64&backend=flex`);
    await waitForDone(page, 240_000);
    await page.fill('#expressions', 'conv4_3:20 +');
    const typed = Date.now();
    await page.press('#expressions', 'Enter');
    await page.waitForFunction(() => /refused/.test(document.getElementById('status')?.textContent ?? ''), null, {
      timeout: 1_000 + 250 + 500,
    });
    t.diagnostic(`the refusal in the status ${Date.now() - typed} ms after Enter`);
    assert.match(await status(page), /Expression refused: objective 'conv4_3:20 \+' at character \d+: /);
    assert.doesNotMatch(await status(page), /starting/);
    assert.equal(await page.locator('#expressions').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#expressions').getAttribute('aria-errormessage'), 'status');
    const outline = await page.locator('#expressions').evaluate((el) => getComputedStyle(el).outlineStyle);
    assert.equal(outline, 'solid', 'the box is outlined');
    const box = await page.locator('#status').boundingBox();
    assert.ok(box && box.y + box.height <= 900, `the status is on the first screen: ${JSON.stringify(box)}`);
    await screenshot(page, 'attention-refused-expression');

    // A good expression clears the mark and the reason.
    await page.fill('#expressions', 'conv1_1:3');
    await page.press('#expressions', 'Enter');
    await waitForDone(page, 240_000);
    assert.equal(await page.locator('#expressions').getAttribute('aria-invalid'), null);
    assert.doesNotMatch(await status(page), /refused/);
  },
);

test(
  "a link's repairs show above the fold and go once the visitor changes a setting",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#mode=banana&layer=conv1_1&steps=3&size=64&backend=flex`);
    const notice = page.locator('#notices li', { hasText: 'mode=banana is not one of classic, lucid, maco' });
    await notice.waitFor();
    const box = await notice.boundingBox();
    assert.ok(box && box.y + box.height <= 900, `the notice is on the first screen: ${JSON.stringify(box)}`);
    await waitForDone(page, 240_000);
    await page.locator('#filter-n').fill('4');
    await page.locator('#filter-n').press('Enter');
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.[0] === 4);
    assert.equal(await notice.count(), 0, "the link's notice went with the link it was about");

    // A phone: the notice sits right under the picture, above the controls.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const small = await phone.newPage();
    await small.goto(`${site.url}dist/#mode=banana&layer=conv1_1&steps=3&size=64&backend=flex`);
    const onPhone = small.locator('#notices li').first();
    await onPhone.waitFor();
    const b = await onPhone.boundingBox();
    assert.ok(b && b.y + b.height <= 844, `on a phone too: ${JSON.stringify(b)}`);
    await screenshot(small, 'attention-notice-phone');
  },
);

test(
  'the time left says "estimating" until a few steps are measured; maco plots and reports the whole picture\'s own activation',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(
      browser,
      `${site.url}dist/#mode=maco&layer=conv3_1&filter=5&size=64&steps=24&crops=2&backend=flex`,
    );
    await page.waitForFunction(() => window.filterlens.events.some((e) => e.type === 'step' && e.step === 1), null, {
      timeout: 240_000,
    });
    /** @type {[number, string][]} */
    const statuses = [];
    while (!(await page.evaluate(() => window.filterlens.events.some((e) => e.type === 'done')))) {
      // One read of both, so a step landing between them cannot pair a count with the next step's status.
      statuses.push(
        await page.evaluate(() => [
          window.filterlens.events.filter((e) => e.type === 'step').length,
          document.getElementById('status')?.textContent ?? '',
        ]),
      );
      await page.waitForTimeout(40);
    }
    const early = statuses.filter(([step]) => step >= 1 && step <= 3);
    assert.ok(
      early.length > 0 && early.every(([, s]) => /estimating the time left/.test(s) || / · done$/.test(s)),
      JSON.stringify(early),
    );
    const late = statuses.filter(([step]) => step >= 6 && step < 24);
    assert.ok(
      late.some(([, s]) => /(about \d+ (s|min)) left/.test(s)),
      JSON.stringify(late),
    );

    // The plot: the whole picture's activation (every few steps, first and last included), a measurement of its own
    // beside the steps' values on crops; its caption says so, and the status quotes its last value. (That maco climbs
    // is the engine's test, maco_climbs_the_objective: 24 steps at 64 px through 2 crops are too few to rise surely.)
    const steps = await waitForSteps(page, 24);
    const whole = steps.filter((s) => s.wholePicture).map((s) => [s.step, s.wholePicture[0], s.activations[0]]);
    assert.deepEqual(
      whole.map(([step]) => step),
      [1, 8, 16, 24],
    );
    assert.ok(
      whole.every(([, picture, crops]) => Number.isFinite(picture) && picture !== crops),
      `the whole picture is measured apart from the crops: ${JSON.stringify(whole)}`,
    );
    assert.match((await page.locator('#plot-caption').textContent()) ?? '', /untransformed/);
    const said = (await status(page)).match(/activation ([\d.]+) \(whole picture\) · done$/);
    assert.ok(said, await status(page));
    const last = /** @type {number} */ (whole.at(-1)?.[1]);
    assert.ok(
      Math.abs(Number(said[1]) - last) <= 0.005 * Math.abs(last),
      `the status says ${said[1]}, the last measurement ${last}`,
    );
    assert.match((await page.locator('#plot').getAttribute('aria-label')) ?? '', new RegExp(`at step 24 of 24`));
    await screenshot(page, 'attention-maco-plot');

    // Classic sees the picture as it is: no second measurement, the plot shows each step.
    const classic = await open(browser, `${site.url}dist/#layer=conv1_1&steps=3&size=64&backend=flex`);
    const plain = await waitForSteps(classic, 3, 240_000);
    assert.ok(plain.every((s) => s.wholePicture === null));
    assert.equal(await classic.locator('#plot-caption').textContent(), 'activation per step');
  },
);
