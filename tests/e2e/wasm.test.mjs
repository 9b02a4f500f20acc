// @ts-check
// The WebAssembly modules themselves: both builds with SIMD (burn's `simd` feature and +simd128), which makes Flex
// in the browser 3.6× faster, and the threaded one with a shared, imported memory and atomics (without the link
// arguments in web.mk it builds without error, and wasm-bindgen silently skips its thread set-up). A build that
// lost its flags would still run, only slowly, so it is checked here.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DIST, ROOT } from './helpers.mjs';

/** wasm-opt's counts of each kind of instruction in `build`'s module. @param {string} build */
function metrics(build) {
  const text = execFileSync(
    path.join(ROOT, 'node_modules/.bin/wasm-opt'),
    ['--all-features', '--metrics', path.join(DIST, build, 'filterlens_bg.wasm'), '-o', '/dev/null'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  /** @param {RegExp} kind */
  const count = (kind) =>
    [...text.matchAll(new RegExp(`^\\s*${kind.source}\\w*\\s*:\\s*(\\d+)`, 'gm'))].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  return { text, count };
}

for (const build of ['pkg', 'pkg-threads']) {
  test(`${build}: the wasm module is full of SIMD instructions`, () => {
    const { text, count } = metrics(build);
    assert.ok(count(/SIMD/) > 5_000, `SIMD instructions in the module: ${count(/SIMD/)}\n${text}`);
  });
}

test('pkg-threads: a shared memory the page provides, and atomics; pkg: neither', async () => {
  /** @param {string} build */
  const imports = async (build) =>
    WebAssembly.Module.imports(await WebAssembly.compile(readFileSync(path.join(DIST, build, 'filterlens_bg.wasm'))));
  /** @param {WebAssembly.ModuleImportDescriptor[]} list */
  const memory = (list) => list.filter((i) => i.kind === 'memory');
  assert.equal(memory(await imports('pkg-threads')).length, 1, 'the threaded module imports its memory');
  assert.equal(memory(await imports('pkg')).length, 0, 'the single-threaded module has its own');
  const glue = readFileSync(path.join(DIST, 'pkg-threads/filterlens.js'), 'utf8');
  assert.match(glue, /shared:\s*true/, 'wasm-bindgen creates it shared');
  assert.ok(metrics('pkg-threads').count(/Atomic/) > 0, 'atomic instructions');
  assert.equal(metrics('pkg').count(/Atomic/), 0);
});
