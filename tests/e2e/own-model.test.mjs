// @ts-check
// Your own model: an ONNX file opened from disk (Open a model…) joins the network menu, its graph fills the layer
// controls, and it paints; AlexNet written as ONNX (weights/export_onnx.py) paints the built-in AlexNet's very
// picture. A model URL in a link is fetched, opened and reproduces that picture, from Cache Storage the second time.
// What cannot be opened says why where the eye is, and the page keeps what it had. On Flex, at 64 px, a few steps.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, browserFor, open, pixelDifference, screenshot, servedSite, snapshot, waitForDone } from './helpers.mjs';

const site = servedSite();
const ALEXNET_ONNX = path.join(ROOT, 'weights/alexnet.onnx');
/** The same run on either network: AlexNet's third convolution (torchvision's features.6), filter 2. */
const RUN = 'mode=classic&filter=2&steps=3&size=64&seed=1&backend=flex';

/** What the network and layer controls show. @param {import('playwright-core').Page} page */
const controls = (page) =>
  page.evaluate(() => {
    const menu = /** @type {HTMLSelectElement} */ (document.getElementById('layer-name'));
    const model = /** @type {HTMLSelectElement} */ (document.getElementById('model'));
    return {
      model: model.value,
      models: Array.from(model.options, (o) => o.text),
      layers: Array.from(menu.options, (o) => o.text),
      preprocessShown: !(/** @type {HTMLElement} */ (document.getElementById('row-preprocess')).hidden),
      hash: location.hash,
    };
  });

/** Waits for the page to run `model` to its end. @param {import('playwright-core').Page} page @param {string} model */
const doneOn = (page, model) =>
  page.waitForFunction(
    (model) =>
      window.filterlens.run?.request.model === model &&
      window.filterlens.events.some((e) => e.type === 'done' && e.id === window.filterlens.runId),
    model,
    { timeout: 120_000 },
  );

test(
  "a model opened from disk joins the menu, fills the layer controls and paints the built-in network's picture",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/#model=alexnet&layer=conv3&${RUN}`);
    await waitForDone(page);
    const builtIn = await snapshot(page);

    await page.setInputFiles('#model-file', ALEXNET_ONNX);
    await doneOn(page, 'onnx:alexnet');
    const shown = await controls(page);
    assert.equal(shown.model, 'onnx:alexnet');
    assert.equal(shown.models.at(-1), 'alexnet.onnx');
    // Its convolutions (read after their ReLU) and its max pools, named after torchvision's modules.
    assert.deepEqual(shown.layers, [
      'features_0 (64)',
      'features_2 (64)',
      'features_3 (192)',
      'features_5 (192)',
      'features_6 (384)',
      'features_8 (256)',
      'features_10 (256)',
    ]);
    assert.ok(shown.preprocessShown, 'its input normalisation is the visitor to state');
    assert.match(shown.hash, /model=onnx%3Aalexnet&layer=features_6&.*preprocess=torchvision/);
    assert.doesNotMatch(shown.hash, /modelUrl/);
    await screenshot(page, 'own-model-opened');

    // The same run: features_6 is conv3, the same weights through the same graph. The page's built-in AlexNet has
    // them in f16 (half the download), the file in f32: the same picture, but for the rounding (the CLI's f32 run
    // is the same bit for bit: tests/engine/cli.rs).
    const own = await snapshot(page);
    const difference = pixelDifference(own, builtIn);
    t.diagnostic(`ONNX (f32) vs built-in (f16) AlexNet: ${difference.toFixed(3)} grey levels apart on average`);
    assert.ok(difference < 0.5, `${difference}`);

    // Copy link says what the link cannot carry.
    await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: { writeText: async () => {} } }));
    await page.click('#copy');
    const notice = await page.locator('#notices').textContent();
    assert.match(notice ?? '', /does not carry alexnet\.onnx, opened from your disk/);
  },
);

test('a model URL link fetches, opens and reproduces the picture, from Cache Storage the second time', async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const link = `${site.url}dist/#model=onnx:alexnet&modelUrl=../weights/alexnet.onnx&layer=features_6&${RUN}`;
  const before = site.requests.length;
  const page = await open(browser, link);
  await doneOn(page, 'onnx:alexnet');
  const fetched = site.requests.slice(before).filter((p) => p.endsWith('alexnet.onnx'));
  assert.equal(fetched.length, 1, 'fetched once');
  const picture = await snapshot(page);
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /modelSha256=[0-9a-f]{64}/, 'the link pins the file it was made with');
  assert.match(hash, /modelUrl=..%2Fweights%2Falexnet.onnx/);

  // The same link (with its SHA-256) in the same browser: the file comes from Cache Storage.
  const again = site.requests.length;
  await page.goto('about:blank');
  await page.goto(`${site.url}dist/${hash}`);
  await doneOn(page, 'onnx:alexnet');
  assert.equal(site.requests.slice(again).filter((p) => p.endsWith('alexnet.onnx')).length, 0, 'from the cache');
  assert.deepEqual((await snapshot(page)).data, picture.data, 'the same picture');

  // Another builtin run meanwhile and back: the menu keeps the model.
  const menu = await controls(page);
  assert.ok(menu.models.includes('alexnet.onnx'));
});

test('what cannot be opened says why, and the page keeps what it had', async (t) => {
  const browser = await browserFor(t, { webgpu: false });
  const page = await open(browser, `${site.url}dist/#model=alexnet&layer=conv2&${RUN}`);
  await waitForDone(page);
  await page.setInputFiles('#model-file', {
    name: 'holiday.onnx',
    mimeType: 'application/octet-stream',
    buffer: readFileSync(path.join(ROOT, 'docs/quality/efficientnet-lite0-modes-lucent.png')),
  });
  const error = page.locator('#error');
  await page.waitForFunction(() => /holiday\.onnx/.test(document.getElementById('error')?.textContent ?? ''));
  assert.match((await error.textContent()) ?? '', /Could not open holiday\.onnx: the file is not an ONNX model/);
  assert.equal((await controls(page)).model, 'alexnet', 'the network stays');
  await screenshot(page, 'own-model-refused');

  // A model with an operator the core does not run, dropped on the picture: it opens up to that node, and says
  // where it stopped.
  await page.evaluate(async () => {
    const bytes = await (await fetch('../tests/fixtures/onnx/refused/unsupported_midway.onnx')).arrayBuffer();
    const dropped = new DataTransfer();
    dropped.items.add(new File([bytes], 'unsupported_midway.onnx'));
    const drop = new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true });
    document.getElementById('frame')?.dispatchEvent(drop);
  });
  await doneOn(page, 'onnx:unsupported_midway');
  const said = (await page.locator('#notices').textContent()) ?? '';
  assert.match(said, /the layers before node 'tanh' \(Tanh\) are shown/);

  // A link to a model from someone's disk: it says a link cannot carry a file, and shows the default network.
  const fresh = await open(browser, `${site.url}dist/#model=onnx:mine&layer=conv_1&${RUN}`);
  await fresh.waitForFunction(() => /cannot carry/.test(document.getElementById('notices')?.textContent ?? ''));
  assert.equal((await controls(fresh)).model, 'vgg16');
  // The layer menu groups layers named alike (conv3_1, conv3_2, conv3_3) where names allow.
  const groups = await fresh.evaluate(() =>
    Array.from(document.querySelectorAll('#layer-name optgroup'), (g) => [g.getAttribute('label'), g.children.length]),
  );
  assert.deepEqual(groups, [
    ['conv1', 2],
    ['conv2', 2],
    ['conv3', 3],
    ['conv4', 3],
    ['conv5', 3],
  ]);
});
