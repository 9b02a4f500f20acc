// @ts-check
// The page's settings without a browser: a link to settings (every field from the catalog, defaults per mode,
// what was ignored and why), settings to a link and to the run request, and back.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.mjs';
import {
  MAX_THREADS,
  classesOf,
  defaults,
  filtersOf,
  maxCrops,
  parseLink,
  threadsFor,
  toLink,
  toRequest,
} from '../../www/settings.js';

/** @type {import('../../www/protocol.js').Catalog} */
const catalog = JSON.parse(readFileSync(path.join(ROOT, 'www/catalog.json'), 'utf8'));

test('an empty link is the original demo; a link round-trips', () => {
  const { settings, ignored } = parseLink(catalog, '');
  assert.deepEqual(ignored, []);
  assert.deepEqual(settings, defaults(catalog, 'classic'));
  assert.deepEqual(
    [settings.mode, settings.layer, settings.filter, settings.steps, settings.size, settings.stepSize],
    ['classic', 'conv3_2', 0, 150, 224, 2],
  );
  const link = toLink(catalog, settings);
  assert.equal(
    link,
    '#mode=classic&model=vgg16&layer=conv3_2&filter=0&grid=1&objective=channel&preRelu=false&minimise=false&diversity=0&accentuate=0&steps=150&size=224&stepSize=2&jitter=0&seed=0&backend=auto',
  );
  assert.deepEqual(parseLink(catalog, link), { settings, ignored: [] });
});

test("threads: a link may set them (1–MAX_THREADS); by default the machine's cores up to 8, and links leave them out", () => {
  const plain = parseLink(catalog, '#layer=conv1_1').settings;
  assert.equal(plain.threads, 0);
  assert.deepEqual(
    [threadsFor(plain, 2), threadsFor(plain, 8), threadsFor(plain, 64), threadsFor(plain, 0)],
    [2, 8, 8, 1],
  );
  assert.doesNotMatch(toLink(catalog, plain), /threads/);
  const four = parseLink(catalog, '#layer=conv1_1&threads=4');
  assert.deepEqual([four.settings.threads, four.ignored, threadsFor(four.settings, 2)], [4, [], 4]);
  assert.match(toLink(catalog, four.settings), /&threads=4$/);
  assert.ok(!('threads' in toRequest(catalog, four.settings)), 'not part of the run request');
  for (const bad of ['0', '2.5', 'all', String(MAX_THREADS + 1)]) {
    const { settings, ignored } = parseLink(catalog, `#threads=${bad}`);
    assert.equal(settings.threads, 0);
    assert.deepEqual(ignored, [`threads=${bad} is not a whole number from 1 to ${MAX_THREADS}`]);
  }
});

test("lucid takes its preset (with the page's 256 steps) and its own rate", () => {
  const { settings } = parseLink(catalog, '#mode=lucid&layer=conv5_3&filter=100');
  assert.deepEqual([settings.steps, settings.size, settings.lr], [256, 128, 0.05]);
  assert.deepEqual(toRequest(catalog, settings), {
    mode: 'lucid',
    model: 'vgg16',
    layer: 'conv5_3',
    filters: [100],
    objective: 'channel',
    preRelu: false,
    minimise: false,
    diversity: 0,
    accentuate: 0,
    steps: 256,
    size: 128,
    lr: 0.05,
    jitter: 8,
    seed: 0,
  });
  assert.match(toLink(catalog, settings), /&lr=0.05&/);
  assert.doesNotMatch(toLink(catalog, settings), /stepSize/);
});

test("maco takes its preset (with the page's 4 crops), its own rate and crops, and no jitter; transparency is the page's", () => {
  const { settings, ignored } = parseLink(catalog, '#mode=maco&layer=conv4_3&filter=20&jitter=4');
  assert.deepEqual([settings.steps, settings.size, settings.lr, settings.crops], [256, 256, 1, 4]);
  assert.deepEqual(ignored, ['jitter does not apply to maco mode']);
  assert.deepEqual(toRequest(catalog, settings), {
    mode: 'maco',
    model: 'vgg16',
    layer: 'conv4_3',
    filters: [20],
    objective: 'channel',
    preRelu: false,
    minimise: false,
    diversity: 0,
    accentuate: 0,
    steps: 256,
    size: 256,
    lr: 1,
    crops: 4,
    seed: 0,
  });
  const link = toLink(catalog, settings);
  assert.match(link, /&lr=1&crops=4&seed=0&backend=auto$/);
  assert.doesNotMatch(link, /jitter|stepSize|transparency/);
  const shown = parseLink(catalog, `${link}&transparency=1`);
  assert.deepEqual([shown.settings.transparency, shown.ignored], [true, []]);
  assert.match(toLink(catalog, shown.settings), /&transparency=1&backend=auto$/);
  assert.ok(!('transparency' in toRequest(catalog, shown.settings)), 'a view, not part of the run request');
  assert.deepEqual(parseLink(catalog, '#mode=lucid&crops=8&transparency=on').ignored, [
    'transparency=on is not 1 (shown) or 0',
    'crops does not apply to lucid mode',
  ]);
});

test('maco keeps tiles × crops within MAX_VIEWS: fewer crops for a grid, no grid of 64', () => {
  assert.deepEqual([1, 6, 16, 64].map(maxCrops), [24, 4, 1, 0]);
  const six = parseLink(catalog, '#mode=maco&grid=6&crops=8&size=64');
  assert.deepEqual(
    [six.settings.grid, six.settings.crops, six.ignored],
    [6, 4, ['crops=8 is more than a grid of 6 may take a step here: 4 instead']],
  );
  const many = parseLink(catalog, '#mode=maco&grid=64&size=64');
  assert.deepEqual([many.settings.grid, many.settings.crops], [16, 1]);
  // The link asked for no crops: the page's own number simply fits the grid, without a word.
  assert.deepEqual(many.ignored, ['grid=64 is more than maco mode can show here: 16 instead']);
  assert.deepEqual(parseLink(catalog, '#mode=lucid&grid=64&size=64').ignored, [], 'other modes keep their grids');
});

test('unusable fields fall back to their defaults, one by one, and are named', () => {
  const { settings, ignored } = parseLink(
    catalog,
    '#layer=conv9_9&filter=-3&size=100000&mode=LUCID&lr=1e9&steps=abc&grid=5&backend=cuda&blur=3',
  );
  assert.deepEqual(
    [settings.mode, settings.layer, settings.filter, settings.size, settings.steps, settings.grid, settings.backend],
    ['classic', 'conv3_2', 0, 256, 150, 1, 'auto'],
  );
  for (const word of [
    'mode=LUCID',
    'layer=conv9_9',
    'filter=-3',
    'size=',
    'lr does not apply',
    'steps=abc',
    'grid=5',
    'backend=cuda',
    'blur',
  ]) {
    assert.ok(
      ignored.some((i) => i.includes(word)),
      `${word} in ${JSON.stringify(ignored)}`,
    );
  }
});

test("an older link's `step` is the step size; grids take consecutive filters within the layer", () => {
  const { settings } = parseLink(catalog, '#layer=conv1_1&filter=62&grid=6&step=1.5&size=64');
  assert.equal(settings.stepSize, 1.5);
  assert.deepEqual(filtersOf(catalog, settings), [58, 59, 60, 61, 62, 63]);
});

test("a link names the network; its layer is one of that network's, its default layer otherwise", () => {
  const alexnet = parseLink(catalog, '#model=alexnet&layer=conv5&filter=200');
  assert.deepEqual(alexnet.ignored, []);
  assert.deepEqual(
    [alexnet.settings.model, alexnet.settings.layer, alexnet.settings.filter],
    ['alexnet', 'conv5', 200],
  );
  assert.match(toLink(catalog, alexnet.settings), /^#mode=classic&model=alexnet&layer=conv5&filter=200&/);
  assert.deepEqual(
    [toRequest(catalog, alexnet.settings).model, toRequest(catalog, alexnet.settings).filters],
    ['alexnet', [200]],
  );
  assert.deepEqual(parseLink(catalog, toLink(catalog, alexnet.settings)), alexnet);
  // Without a layer, or with one of the other network's: the network's own default layer, and a word why.
  assert.equal(parseLink(catalog, '#model=alexnet').settings.layer, 'conv3');
  const vggLayer = parseLink(catalog, '#model=alexnet&layer=conv3_2&filter=400');
  assert.equal(vggLayer.settings.layer, 'conv3');
  assert.deepEqual(vggLayer.ignored, [
    'layer=conv3_2 is not a layer of AlexNet (conv1, conv2, conv3, conv4, conv5)',
    'filter=400 is out of range: conv3 has filters 0–383',
  ]);
  // An unknown network: VGG16, and the layer still read against it.
  const unknown = parseLink(catalog, '#model=resnet50&layer=conv4_3');
  assert.deepEqual([unknown.settings.model, unknown.settings.layer], ['vgg16', 'conv4_3']);
  assert.deepEqual(unknown.ignored, ['model=resnet50 is not one of vgg16, alexnet, efficientnet-lite0']);
  // A link written before there was a choice of network is VGG16's.
  assert.equal(parseLink(catalog, '#layer=conv4_3').settings.model, 'vgg16');
});

test('an expression replaces the layer, the filter and the objective kind; a grid repeats it', () => {
  const { settings, ignored } = parseLink(
    catalog,
    '#mode=lucid&expressions=conv4_3:20%20%2B%200.5*conv4_3:33&grid=6&diversity=10',
  );
  assert.deepEqual(ignored, []);
  assert.equal(settings.expressions, 'conv4_3:20 + 0.5*conv4_3:33');
  const request = toRequest(catalog, settings);
  assert.deepEqual(request.expressions, Array(6).fill('conv4_3:20 + 0.5*conv4_3:33'));
  assert.ok(!('layer' in request) && !('filters' in request) && !('objective' in request), JSON.stringify(request));
  assert.match(toLink(catalog, settings), /&expressions=conv4_3%3A20\+%2B\+0\.5\*conv4_3%3A33&/);
  assert.deepEqual(parseLink(catalog, toLink(catalog, settings)), { settings, ignored: [] });
  // No expression: none in the link, and the classic request.
  const plain = parseLink(catalog, '#layer=conv4_3&filter=20').settings;
  assert.doesNotMatch(toLink(catalog, plain), /expressions/);
  assert.deepEqual([toRequest(catalog, plain).filters, 'expressions' in toRequest(catalog, plain)], [[20], false]);
  assert.deepEqual(parseLink(catalog, `#expressions=${'x'.repeat(1001)}`).ignored, [
    'expressions is longer than 1000 characters',
  ]);
});

test("a grid with towards interpolates from the filter to that one, in the core's words", () => {
  const { settings, ignored } = parseLink(catalog, '#layer=conv4_3&filter=20&grid=6&towards=33');
  assert.deepEqual(ignored, []);
  // What src/expression.rs `interpolation("conv4_3", 20, 33, 6)` writes (f32 weights, printed shortest).
  assert.deepEqual(toRequest(catalog, settings).expressions, [
    'conv4_3:20',
    '0.8*conv4_3:20 + 0.2*conv4_3:33',
    '0.6*conv4_3:20 + 0.4*conv4_3:33',
    '0.39999998*conv4_3:20 + 0.6*conv4_3:33',
    '0.19999999*conv4_3:20 + 0.8*conv4_3:33',
    'conv4_3:33',
  ]);
  assert.match(toLink(catalog, settings), /&grid=6&towards=33&/);
  // With one picture, or with diversity, there is nothing to interpolate: filters as before.
  assert.deepEqual(toRequest(catalog, { ...settings, grid: 1 }).filters, [20]);
  assert.deepEqual(toRequest(catalog, { ...settings, diversity: 10 }).filters, Array(6).fill(20));
  assert.deepEqual(parseLink(catalog, '#layer=conv1_1&towards=70').ignored, [
    'towards=70 is out of range: conv1_1 has filters 0–63',
  ]);
});

test("a class is a filter of the classifier's layer, or of the probabilities after it; no other layer has classes", () => {
  const at = (/** @type {string} */ link) => classesOf(catalog, parseLink(catalog, link).settings);
  const logits = at('#model=efficientnet-lite0&layer=logits&filter=388');
  assert.equal(logits?.length, 1000);
  assert.equal(logits?.[388], 'giant panda');
  assert.equal(at('#model=efficientnet-lite0&layer=probabilities'), logits);
  assert.equal(at('#model=efficientnet-lite0&layer=head'), null);
  assert.equal(at('#model=vgg16&layer=conv5_3'), null);
});
