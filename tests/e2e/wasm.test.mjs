// @ts-check
// The WebAssembly module itself: built with SIMD (burn's `simd` feature and +simd128), which makes Flex in the
// browser 3.6× faster; a build that lost the flags would still run, only slowly, so it is checked here.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { DIST, ROOT } from './helpers.mjs';

test('the wasm module is full of SIMD instructions', () => {
  const metrics = execFileSync(
    path.join(ROOT, 'node_modules/.bin/wasm-opt'),
    ['--all-features', '--metrics', path.join(DIST, 'pkg/filterlens_bg.wasm'), '-o', '/dev/null'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const simd = [...metrics.matchAll(/^\s*SIMD\w*\s*:\s*(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.ok(simd > 5_000, `SIMD instructions in the module: ${simd}\n${metrics}`);
});
