// @ts-check
// The page's time estimates without a browser: a step's work from the catalog's numbers (each layer's multiply-adds
// per input pixel, each mode's view), a run's pace smoothed from its second step, "estimating" until a few steps are
// measured, and a backend's rate known only once this page has measured it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.mjs';
import {
  PACE_SMOOTHING,
  Rates,
  STEPS_BEFORE_ESTIMATE,
  afterStep,
  stepMacs,
  timeLeft,
  unmeasured,
} from '../../www/estimate.js';

/** @type {import('../../www/protocol.js').Catalog} */
const catalog = JSON.parse(readFileSync(path.join(ROOT, 'www/catalog.json'), 'utf8'));

test("a step's work: the views' pixels times the layers' multiply-adds per pixel, up to the objective's layer", () => {
  // VGG16's conv1_1 (3 → 64, 3×3) on one 224 px image, untransformed: 224² × 3 × 64 × 9.
  assert.equal(
    stepMacs(catalog, { mode: 'classic', layer: 'conv1_1', filters: [0], size: 224 }),
    224 * 224 * 3 * 64 * 9,
  );
  // A grid of six: six times one picture's.
  const one = stepMacs(catalog, { mode: 'classic', layer: 'conv2_1', filters: [0], size: 64 });
  assert.equal(
    stepMacs(catalog, { mode: 'classic', layer: 'conv2_1', filters: [0, 1, 2, 3, 4, 5], size: 64 }),
    6 * one,
  );
  // conv2_1 after the first pool: conv1_1 and conv1_2 at full size, conv2_1 on a quarter of the pixels.
  assert.equal(one, 64 * 64 * (3 * 64 * 9 + 64 * 64 * 9 + (64 * 128 * 9) / 4));
  // Lucid pads 12 px a side and crops its jitter (8, then 4): a 128 px picture's view is 140 px.
  const lucid = stepMacs(catalog, { mode: 'lucid', layer: 'conv1_1', filters: [0], size: 128, jitter: 8 });
  assert.equal(lucid, 140 * 140 * 3 * 64 * 9);
  // Maco sees `crops` crops at its preset's side, whatever the picture's size.
  const maco = stepMacs(catalog, { mode: 'maco', layer: 'conv1_1', filters: [0], size: 256, crops: 4 });
  assert.equal(maco, 4 * 128 * 128 * 3 * 64 * 9);
  // An expression's deepest layer is the core's to find: the network's last bounds it.
  const deepest = stepMacs(catalog, { mode: 'classic', expressions: ['conv5_3:1'], size: 64 });
  assert.equal(deepest, stepMacs(catalog, { mode: 'classic', layer: 'conv5_3', filters: [0], size: 64 }));
});

test("a run's pace starts at its second step, is smoothed, and says the time left only after a few steps", () => {
  let pace = unmeasured();
  pace = afterStep(pace, 1, 5000); // compiling and warming up: not counted
  assert.deepEqual(pace, { msPerStep: null, measured: 0 });
  assert.equal(timeLeft(pace, 100), 'estimating the time left…');
  pace = afterStep(pace, 2, 100);
  assert.deepEqual(pace, { msPerStep: 100, measured: 1 });
  pace = afterStep(pace, 3, 200);
  assert.equal(pace.msPerStep, 100 + PACE_SMOOTHING * 100);
  assert.equal(timeLeft(pace, 100), 'estimating the time left…');
  for (let step = 4; pace.measured < STEPS_BEFORE_ESTIMATE; step++) pace = afterStep(pace, step, 100);
  // 100, then 120, then 116 ms a step: 600 steps take 70 s.
  assert.equal(pace.msPerStep, 116);
  assert.equal(timeLeft(pace, 600), 'about 1 min left');
  assert.equal(timeLeft({ msPerStep: 1000, measured: 5 }, 600), 'about 10 min left');
});

test("a backend's rate is this page's measurement, or nothing", () => {
  const rates = new Rates();
  assert.equal(rates.millis('flex', 1e9), null, 'no guess before a measurement');
  assert.equal(rates.millis(null, 1e9), null);
  rates.measured('flex', 2e9, 100);
  assert.equal(rates.millis('flex', 1e9), 50);
  assert.equal(rates.millis('wgpu', 1e9), null);
});
