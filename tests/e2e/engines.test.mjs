// @ts-check
// A visitor's core path in Firefox (Gecko) and WebKit as well as Chromium (the rest of the suite): the landing
// link's lucid grid paints to its end on the CPU path the engine offers (the threaded program where shared memory
// exists, else the single-threaded one, said on the page), a tile opens from the keyboard, a link restores its
// settings, a second visit takes the weights from Cache Storage and fetches a damaged part again, a picture of
// your own paints to its end, downloads as a PNG and starts a run again when dropped, Escape stops a run, axe finds nothing serious, and on a host
// without header control the service worker isolates the page, Copy link copies and the animation downloads. Neither
// engine offers WebGPU on Linux without a GPU: the page says so and runs Flex, which is what is checked. The
// screenshots are in tests/e2e/artifacts/engine-*.png.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { tabIn } from './engines.mjs';
import { ROOT, decodeApng, decodePng, neighbourCorrelation, servedSite } from './helpers.mjs';
import { serve } from './server.mjs';

const site = servedSite();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** @typedef {import('./engines.mjs').Tab} Tab */
/** @typedef {import('../../www/protocol.js').FromWorker} FromWorker */

/** The page's worker messages so far, of `type` if given. @param {Tab} tab @param {string} [type]
 *  @returns {Promise<any[]>} */
const events = (tab, type) =>
  tab.evaluate((type) => window.filterlens.events.filter((e) => !type || e.type === type), type);

/** What the page is doing, for a wait that failed: its isolation, its service worker, the run it is on, how far the
 *  program came in, and its worker's messages by type in order (a repeat counted). @param {Tab} tab */
const pageState = (tab) =>
  tab.evaluate(() => {
    /** @type {[string, number][]} */
    const runs = [];
    for (const e of window.filterlens?.events ?? []) {
      const name = `${e.type}${'phase' in e ? `:${e.phase}` : ''}${'id' in e ? `#${e.id}` : ''}`;
      const last = runs[runs.length - 1];
      if (last?.[0] === name) last[1] += 1;
      else runs.push([name, 1]);
    }
    return JSON.stringify({
      isolated: crossOriginIsolated,
      serviceWorker: Boolean(navigator.serviceWorker?.controller),
      runId: window.filterlens?.runId,
      program: window.filterlens?.events.findLast((e) => e.type === 'program'),
      events: runs.map(([name, n]) => (n > 1 ? `${name}×${n}` : name)).join(' '),
    });
  });

/** `tab`, whose failed waits say the page's state (pageState) as well. @param {Tab} tab @returns {Tab} */
const withPageState = (tab) => ({
  ...tab,
  waitFor: async (fn, arg, timeout) => {
    try {
      await tab.waitFor(fn, arg, timeout);
    } catch (e) {
      const state = await pageState(tab).catch((e) => `unreadable: ${e instanceof Error ? e.message : e}`);
      throw new Error(`${e instanceof Error ? e.message : e}; the page: ${state}`);
    }
  },
});

/** The page's errors so far (a refused run, the weights failing), to fail with. @param {Tab} tab */
const errors = (tab) =>
  tab.evaluate(() =>
    window.filterlens.events.filter((e) => e.type === 'error' || (e.type === 'weights' && e.phase === 'error')),
  );

/** Waits for the page's current run to end (or the page to report an error, which fails the test).
 *  @param {Tab} tab @param {number} timeout */
async function runToEnd(tab, timeout) {
  await tab.waitFor(
    () =>
      window.filterlens.events.some(
        (e) =>
          (e.type === 'done' && e.id === window.filterlens.runId) ||
          e.type === 'error' ||
          (e.type === 'weights' && e.phase === 'error'),
      ),
    undefined,
    timeout,
  );
  assert.deepEqual(await errors(tab), []);
  return /** @type {{ request: import('../../www/protocol.js').RunRequest, fromImage: boolean, steps: number }} */ (
    await tab.evaluate(() => ({
      request: /** @type {FilterlensRun} */ (window.filterlens.run).request,
      fromImage: /** @type {FilterlensRun} */ (window.filterlens.run).fromImage,
      steps: window.filterlens.events.filter((e) => e.type === 'step' && e.id === window.filterlens.runId).length,
    }))
  );
}

/** The picture's pixels as the worker holds them. @param {Tab} tab */
const snapshot = (tab) =>
  tab.evaluate(async () => {
    const s = await window.filterlens.snapshot();
    return { width: s.width, height: s.height, data: s.data ? Array.from(s.data) : null };
  });

/** Makes the page keep what its next download hands the browser to save: the anchor's name and its blob. (The
 *  blob is read from the Blob itself: the page's connect-src does not let it fetch blob: addresses.) @param {Tab} tab */
const catchSaves = (tab) =>
  tab.evaluate(() => {
    const [click, create] = [HTMLAnchorElement.prototype.click, URL.createObjectURL];
    /** @type {Blob | null} */
    let blob = null;
    URL.createObjectURL = (object) => ((blob = /** @type {Blob} */ (object)), create(object));
    HTMLAnchorElement.prototype.click = function () {
      /** @type {any} */ (window).__saved = { name: this.download, blob };
      click.call(this);
    };
  });

/** What the page handed the browser to save (after catchSaves): its name and bytes. @param {Tab} tab */
async function savedFile(tab) {
  await tab.waitFor(() => /** @type {any} */ (window).__saved);
  const saved = await tab.evaluate(async () => {
    const { name, blob } = /** @type {any} */ (window).__saved;
    return { name, bytes: Array.from(new Uint8Array(await blob.arrayBuffer())) };
  });
  return { name: /** @type {string} */ (saved.name), bytes: Uint8Array.from(saved.bytes) };
}

/** The notices' texts. @param {Tab} tab */
const notices = (tab) =>
  tab.evaluate(() => Array.from(document.querySelectorAll('#notices li'), (li) => li.textContent ?? ''));

// A first run on the single-threaded CPU path (WebKit) takes about 1.5 s a step at the landing's size on this
// 2-core machine, so a run to its end has minutes.
const RUN_MS = 420_000;

for (const engine of /** @type {const} */ (['firefox', 'webkit'])) {
  describe(engine, { timeout: 1_200_000 }, () => {
    /** @type {Tab} */
    let tab;
    /** @type {(() => unknown)[]} */
    const closing = [];
    before(async () => {
      tab = withPageState(await tabIn(engine, (close) => closing.push(close)));
    });
    after(async () => {
      for (const close of closing.reverse()) await close();
    });

    test("the landing link's lucid grid paints to its end, on the CPU path this engine offers", async (t) => {
      await tab.goto(`${site.url}dist/`);
      const run = await runToEnd(tab, RUN_MS);
      assert.equal(run.request.mode, 'lucid');
      assert.deepEqual(run.request.filters, [5, 6, 7, 8, 9, 10]);
      assert.equal(run.steps, run.request.steps, 'every step painted');
      const structure = neighbourCorrelation(await snapshot(tab));
      assert.ok(structure > 0.5, `textures, not noise (neighbour correlation ${structure.toFixed(3)})`);

      const [cpu] = await events(tab, 'cpu');
      const [backend] = await events(tab, 'backend');
      const shared = await tab.evaluate(() => typeof SharedArrayBuffer === 'function' && crossOriginIsolated);
      t.diagnostic(
        `${engine}: ${JSON.stringify(cpu)}; backend ${JSON.stringify(backend.info)}; shared memory ${shared}`,
      );
      assert.equal(backend.info.backend, 'flex', 'no WebGPU adapter here: Flex');
      const said = await notices(tab);
      assert.ok(
        said.some((n) => /offers no WebGPU adapter/.test(n)),
        `the page says why not WebGPU: ${said}`,
      );
      if (shared) {
        const cores = await tab.evaluate(() => navigator.hardwareConcurrency);
        assert.deepEqual(
          [cpu.build, cpu.threads, cpu.unthreaded],
          ['pkg-threads', Math.min(cores, 8), null],
          'the threaded program on every core (up to 8)',
        );
      } else {
        assert.deepEqual([cpu.build, cpu.threads, cpu.unthreaded], ['pkg', 1, 'no-shared-memory']);
        assert.ok(
          said.some((n) => /one CPU thread.*does not share memory between threads/.test(n)),
          `the page says why one thread: ${said}`,
        );
      }
      await tab.screenshot(`engine-${engine}-landing`);
    });

    test('a tile of the grid opens from the keyboard', async () => {
      await tab.evaluate(() => /** @type {HTMLElement} */ (document.querySelector('#view')).focus());
      await tab.press('ArrowRight');
      await tab.press('Enter');
      await tab.waitFor(() => window.filterlens.run?.request.filters?.length === 1);
      assert.deepEqual((await runToEnd(tab, RUN_MS)).request.filters, [6]);
      await tab.screenshot(`engine-${engine}-tile`);
    });

    test('a link restores its settings; a second visit takes the weights from Cache Storage', async () => {
      // A new document (the query), not a change of hash: a visit.
      await tab.goto(`${site.url}dist/?visit=2#mode=classic&layer=conv1_2&filter=7&steps=6&size=64`);
      const run = await runToEnd(tab, RUN_MS);
      assert.deepEqual(
        [run.request.mode, run.request.layer, run.request.filters, run.request.steps, run.request.size],
        ['classic', 'conv1_2', [7], 6, 64],
      );
      const controls = await tab.evaluate(() =>
        ['mode', 'layer-name', 'filter-n', 'steps-n'].map(
          (id) => /** @type {HTMLInputElement} */ (document.getElementById(id)).value,
        ),
      );
      assert.deepEqual(controls, ['classic', 'conv1_2', '7', '6'], 'the controls show the link');
      const ready = (await events(tab, 'weights')).find((e) => e.phase === 'ready');
      assert.equal(ready.source, 'cache');
    });

    test('a damaged part in Cache Storage is fetched again', async () => {
      const damaged = await tab.evaluate(async () => {
        const cache = await caches.open('filterlens-weights');
        const part = (await cache.keys()).find((r) => r.url.includes('part=conv1_1&'));
        if (!part) return null;
        const bytes = new Uint8Array(await /** @type {Response} */ (await cache.match(part)).arrayBuffer());
        bytes[bytes.length >> 1] ^= 0xff;
        await cache.put(part, new Response(bytes));
        return part.url;
      });
      assert.ok(damaged, "conv1_1's part is in Cache Storage");
      await tab.goto(`${site.url}dist/?visit=3#mode=classic&layer=conv1_1&steps=2&size=64`);
      assert.equal((await runToEnd(tab, RUN_MS)).steps, 2);
      const ready = (await events(tab, 'weights')).find((e) => e.phase === 'ready');
      assert.equal(ready.source, 'network', 'the damaged part came from the network again');
    });

    test('a picture of your own paints to its end, downloads as a PNG and dropped starts a run; Escape; axe', async (t) => {
      const picture = await tab.screenshot(`engine-${engine}-before-own-picture`);
      await tab.choose('#image-file', picture);
      await tab.waitFor(() => window.filterlens.run?.fromImage);
      const run = await runToEnd(tab, RUN_MS);
      assert.equal(run.fromImage, true);
      assert.equal(run.steps, 2);
      assert.ok(
        await tab.evaluate(() => !(/** @type {HTMLElement} */ (document.querySelector('#start-thumb')).hidden)),
      );
      await tab.screenshot(`engine-${engine}-own-picture`);

      await catchSaves(tab);
      await tab.click('#download');
      const saved = await savedFile(tab);
      assert.match(saved.name, /^filterlens-vgg16-conv1_1-0-classic-seed\d+-own-image-step2\.png$/);
      const png = decodePng(saved.bytes);
      assert.deepEqual([png.width, png.height], [64, 64]);

      // The saved picture dropped back onto the picture (a drop as the page hears it: WebDriver cannot drag a file
      // from disk) starts a run from it.
      const runBefore = await tab.evaluate(() => window.filterlens.runId);
      await tab.evaluate(
        ([name, bytes]) => {
          const dataTransfer = new DataTransfer();
          dataTransfer.items.add(new File([Uint8Array.from(bytes)], name, { type: 'image/png' }));
          /** @type {HTMLElement} */ (document.getElementById('frame')).dispatchEvent(
            new DragEvent('drop', { dataTransfer, bubbles: true, cancelable: true }),
          );
        },
        /** @type {[string, number[]]} */ ([saved.name, Array.from(saved.bytes)]),
      );
      await tab.waitFor((before) => window.filterlens.runId > before && window.filterlens.run?.fromImage, runBefore);
      assert.equal((await runToEnd(tab, RUN_MS)).fromImage, true);
      const startName = await tab.evaluate(() => document.getElementById('start-name')?.textContent ?? '');
      assert.ok(startName.includes(saved.name), `the dropped file is the starting picture: ${startName}`);

      await tab.goto(`${site.url}dist/?visit=4#layer=conv1_1&steps=400&size=64`);
      await tab.waitFor(() => window.filterlens.events.some((e) => e.type === 'step'), undefined, RUN_MS);
      await tab.evaluate(() => /** @type {HTMLElement} */ (document.querySelector('#layer')).focus());
      await tab.press('Escape');
      await tab.waitFor(() => window.filterlens.events.some((e) => e.type === 'stopped'));

      if (!(await tab.evaluate(() => 'axe' in window))) await tab.inject(AXE);
      const violations = await tab.evaluate(async () => {
        const { violations } = await /** @type {any} */ (window).axe.run(document, { resultTypes: ['violations'] });
        return violations.map((/** @type {any} */ v) => ({ id: v.id, impact: v.impact, help: v.help }));
      });
      for (const v of violations) t.diagnostic(`${v.impact} ${v.id}: ${v.help}`);
      assert.deepEqual(
        violations.filter((/** @type {any} */ v) => v.impact === 'serious' || v.impact === 'critical'),
        [],
      );
    });

    test('a host without header control: the service worker isolates the page; Copy link; Download animation', async () => {
      const plain = await serve(ROOT, { isolate: false });
      try {
        await tab.goto(`${plain.url}dist/#layer=conv1_1&steps=3&size=64`);
        // The first visit reloads once, into isolation; the run then goes to its end.
        await tab.waitFor(() => crossOriginIsolated && window.filterlens?.events.some((e) => e.type === 'cpu'));
        assert.equal((await runToEnd(tab, RUN_MS)).steps, 3);
        assert.equal(plain.requests.filter((p) => p === '/dist/').length, 2, 'one reload');
        const [cpu] = await events(tab, 'cpu');
        const shared = await tab.evaluate(() => typeof SharedArrayBuffer === 'function');
        assert.equal(cpu.build, shared ? 'pkg-threads' : 'pkg', 'the same CPU path as with the headers');

        await tab.click('#copy');
        await tab.waitFor(() =>
          Array.from(document.querySelectorAll('#notices li')).some((li) => /^Link copied/.test(li.textContent ?? '')),
        );

        await catchSaves(tab);
        await tab.click('#download-animation');
        const saved = await savedFile(tab);
        assert.match(saved.name, /^filterlens-vgg16-conv1_1-0-classic-seed\d+-animation\.png$/);
        const animation = decodeApng(saved.bytes);
        assert.ok(animation.frames.length >= 2, `frames: ${animation.frames.length}`);
      } finally {
        await plain.close();
      }
    });
  });
}
