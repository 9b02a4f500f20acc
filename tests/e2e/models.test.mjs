// @ts-check
// The other networks: a link names one, the page fetches that network's weights only, and the network menu, the
// layer slider, the layer menu and the link follow the catalog's graph for it. Switching networks keeps each one's
// weights (no second download). EfficientNet-Lite0's classes: the Class control names the classifier's filters. On
// Flex, at 64 px, a few steps.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, browserFor, open, screenshot, servedSite, waitForDone } from './helpers.mjs';

const site = servedSite();
/** @type {import('../../www/protocol.js').Catalog} */
const catalog = JSON.parse(readFileSync(path.join(ROOT, 'www/catalog.json'), 'utf8'));
/** @param {import('../../www/protocol.js').NetworkName} name */
const layersOf = (name) =>
  /** @type {import('../../www/protocol.js').ModelEntry} */ (catalog.models.find((m) => m.name === name)).layers;

/** What the page's network and layer controls show. @param {import('playwright-core').Page} page */
const controls = (page) =>
  page.evaluate(() => {
    const slider = /** @type {HTMLInputElement} */ (document.getElementById('layer'));
    const menu = /** @type {HTMLSelectElement} */ (document.getElementById('layer-name'));
    const model = /** @type {HTMLSelectElement} */ (document.getElementById('model'));
    const filter = /** @type {HTMLInputElement} */ (document.getElementById('filter'));
    return {
      model: model.value,
      models: Array.from(model.options, (o) => o.text),
      sliderMax: Number(slider.max),
      slider: Number(slider.value),
      layer: menu.value,
      layers: Array.from(menu.options, (o) => o.text),
      filterMax: Number(filter.max),
      status: document.getElementById('status')?.textContent ?? '',
      hash: location.hash,
    };
  });

/** The weights files the server was asked for since request `from`. @param {number} from */
const weightsAsked = (from) =>
  site.requests
    .slice(from)
    .filter((p) => p.includes('-f16.safetensors'))
    .map((p) => path.basename(p));

/** Waits for the current run to end, once its request's `field` is `value` (the page has taken the change).
 *  @param {import('playwright-core').Page} page @param {'model' | 'layer'} field @param {string} value */
const doneWith = (page, field, value) =>
  page.waitForFunction(
    ([field, value]) =>
      window.filterlens.events.some(
        (e) => e.type === 'done' && e.id === window.filterlens.runId && window.filterlens.run?.request[field] === value,
      ),
    /** @type {const} */ ([field, value]),
    { timeout: 120_000 },
  );

test(
  "an AlexNet link fetches AlexNet's weights only; its controls follow AlexNet's table",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const before = site.requests.length;
    const page = await open(
      browser,
      `${site.url}dist/#mode=classic&model=alexnet&layer=conv5&filter=200&steps=3&size=64&seed=1&backend=flex`,
    );
    await waitForDone(page);
    const shown = await controls(page);
    assert.equal(shown.model, 'alexnet');
    assert.deepEqual(
      shown.models,
      catalog.models.map((m) => m.title),
    );
    assert.deepEqual(
      shown.layers,
      layersOf('alexnet').map((l) => `${l.name} (${l.channels})`),
    );
    assert.deepEqual([shown.sliderMax, shown.slider, shown.layer, shown.filterMax], [4, 4, 'conv5', 255]);
    assert.match(shown.status, /^AlexNet conv5 filter 200 · Flex/);
    assert.match(shown.hash, /^#mode=classic&model=alexnet&layer=conv5&filter=200&/);
    assert.deepEqual(
      [...new Set(weightsAsked(before))],
      ['alexnet-f16.safetensors'],
      'no VGG16 bytes for an AlexNet link',
    );
    const [request] = await page.evaluate(() => [window.filterlens.run?.request ?? null]);
    assert.equal(request?.model, 'alexnet');

    // VGG16 from the menu: its default layer, its 13 stops, its weights fetched now; the filter (200) fits conv3_2.
    let asked = site.requests.length;
    await page.selectOption('#model', 'vgg16');
    await doneWith(page, 'model', 'vgg16');
    const vgg = await controls(page);
    assert.deepEqual([vgg.model, vgg.sliderMax, vgg.layer, vgg.filterMax], ['vgg16', 12, 'conv3_2', 255]);
    assert.deepEqual(
      vgg.layers,
      layersOf('vgg16').map((l) => `${l.name} (${l.channels})`),
    );
    assert.match(vgg.hash, /^#mode=classic&model=vgg16&layer=conv3_2&filter=200&/);
    assert.match(vgg.status, /^VGG16 conv3_2 filter 200 · /);
    assert.deepEqual([...new Set(weightsAsked(asked))], ['vgg16-f16.safetensors']);

    // Back to AlexNet: its default layer, its weights still in the worker (nothing fetched); a layer of 64 filters
    // clamps the filter.
    asked = site.requests.length;
    await page.selectOption('#model', 'alexnet');
    await page.locator('#layer-name').selectOption('conv1');
    await doneWith(page, 'layer', 'conv1');
    const back = await controls(page);
    assert.deepEqual([back.model, back.layer, back.slider, back.filterMax], ['alexnet', 'conv1', 0, 63]);
    assert.match(back.hash, /^#mode=classic&model=alexnet&layer=conv1&filter=63&/);
    // (VGG16's deeper layers may still be arriving in the background, after its first picture.)
    assert.deepEqual(
      weightsAsked(asked).filter((f) => f.startsWith('alexnet')),
      [],
      "AlexNet's weights were already in",
    );
    assert.deepEqual(
      page.logs.filter((l) => l.startsWith('pageerror') || l.startsWith('error')),
      [],
    );
  },
);

test(
  "an EfficientNet-Lite0 link paints a block's filter; its classes are filters of the classifier, by name",
  { timeout: 300_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const before = site.requests.length;
    const page = await open(
      browser,
      `${site.url}dist/#mode=classic&model=efficientnet-lite0&layer=block6&filter=5&steps=3&size=64&seed=1&backend=flex`,
    );
    await waitForDone(page);
    const shown = await controls(page);
    const layers = layersOf('efficientnet-lite0');
    assert.deepEqual(
      shown.layers,
      layers.map((l) => `${l.name} (${l.channels})`),
    );
    const at = layers.findIndex((l) => l.name === 'block6');
    assert.deepEqual(
      [shown.sliderMax, shown.slider, shown.layer, shown.filterMax],
      [layers.length - 1, at, 'block6', 79],
    );
    assert.match(shown.status, /^EfficientNet-Lite0 block6 filter 5 · Flex/);
    assert.deepEqual([...new Set(weightsAsked(before))], ['efficientnet-lite0-f16.safetensors']);
    assert.equal(await page.locator('#row-class').isHidden(), true, 'no Class control on a block');

    // The classifier's layer: the Class control appears, a name (any case) sets the filter to its class.
    await page.locator('#layer-name').selectOption('logits');
    await doneWith(page, 'layer', 'logits');
    assert.equal(await page.locator('#row-class').isVisible(), true);
    await page.locator('#class-name').fill('Giant Panda');
    await page.locator('#class-name').press('Enter');
    await page.waitForFunction(() => window.filterlens.run?.request.filters?.[0] === 388, null, { timeout: 60_000 });
    await doneWith(page, 'layer', 'logits');
    const panda = await controls(page);
    assert.match(panda.hash, /^#mode=classic&model=efficientnet-lite0&layer=logits&filter=388&/);
    assert.match(panda.status, /^EfficientNet-Lite0 logits filter 388 · Flex/);
    assert.equal(await page.locator('#class-name').inputValue(), 'giant panda');
    await screenshot(page, 'efficientnet-class-panda');

    // A name no class has: said where the eye is, and the filter stays.
    await page.locator('#class-name').fill('unicorn');
    await page.locator('#class-name').press('Enter');
    await page.waitForFunction(() => /no class is named 'unicorn'/.test(document.body.textContent ?? ''));
    assert.equal(await page.locator('#class-name').inputValue(), 'giant panda');
    assert.match((await controls(page)).hash, /&filter=388&/);
    assert.deepEqual(
      page.logs.filter((l) => l.startsWith('pageerror') || l.startsWith('error')),
      [],
    );
  },
);
