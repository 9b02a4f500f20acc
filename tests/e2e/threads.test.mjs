// @ts-check
// Flex on every core: the threaded build where the page is cross-origin isolated (the server's headers, or the
// page's own service worker on a host without them), the single-threaded one where it is not, and the same
// picture from both. Where the thread pool cannot start (a host's policy refuses blob: workers, or its workers never
// answer, twice), the single-threaded build takes over, the page says why, and a new worker does not wait again; a
// pool silent once is tried again in a fresh worker.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  INSECURE_HOST,
  INSECURE_HOST_ARGS,
  ROOT,
  browserFor,
  events,
  open,
  openPage,
  screenshot,
  servedSite,
  snapshot,
  waitForDone,
  waitForSteps,
} from './helpers.mjs';
import { CSP, NO_SERVICE_WORKER, serve } from './server.mjs';

const site = servedSite(); // with the isolation headers, as `make serve` sends them

/** The worker's report of its build and thread count. @param {import('playwright-core').Page} page */
async function cpu(page) {
  await page.waitForFunction(() => window.filterlens.events.some((e) => e.type === 'cpu'), null, { timeout: 240_000 });
  return (await events(page, 'cpu'))[0];
}

/** The exported picture after a fixed link's last step, as RGBA bytes. @param {import('playwright-core').Page} page */
async function finalPicture(page) {
  await waitForDone(page, 300_000);
  return snapshot(page);
}

const LINK = '#mode=classic&layer=conv3_1&filter=5&steps=4&size=64&seed=11&backend=flex';

test(
  "isolated by the server: the threaded build runs on the machine's cores and says so",
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${site.url}dist/${LINK}`);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const report = await cpu(page);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.deepEqual(report, { type: 'cpu', build: 'pkg-threads', threads: Math.min(cores, 8), unthreaded: null });
    await waitForSteps(page, 2, 240_000);
    assert.match(
      /** @type {string} */ (await page.locator('#status').textContent()),
      new RegExp(`Flex \\(CPU, ${report.threads} threads?\\)`),
    );
    await screenshot(page, 'threads-status');

    // A link may set the count (for benchmarks); it is not written into shared links unless set.
    const one = await open(browser, `${site.url}dist/${LINK}&threads=1`);
    assert.deepEqual(await cpu(one), { type: 'cpu', build: 'pkg-threads', threads: 1, unthreaded: null });
    await waitForSteps(one, 1, 240_000);
    assert.match(/** @type {string} */ (await one.locator('#status').textContent()), /Flex \(CPU, 1 thread\)/);
    assert.doesNotMatch(await page.evaluate(() => location.hash), /threads=/);
    assert.match(await one.evaluate(() => location.hash), /threads=1/);
  },
);

test(
  'the threaded and the single-threaded build paint the same picture for the same link',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const threaded = await open(browser, `${site.url}dist/${LINK}`);
    assert.equal((await cpu(threaded)).build, 'pkg-threads');
    const a = await finalPicture(threaded);
    // No isolation headers and a service worker that cannot install: the single-threaded build.
    const plain = await serve(ROOT, { isolate: false, answer: NO_SERVICE_WORKER });
    t.after(() => plain.close());
    const single = await open(browser, `${plain.url}dist/${LINK}`);
    assert.deepEqual(await cpu(single), { type: 'cpu', build: 'pkg', threads: 1, unthreaded: null });
    const b = await finalPicture(single);
    assert.equal(a.step, b.step);
    // Bit for bit: rayon splits each convolution's output among the threads, but every value is summed in the
    // same order as on one thread (gemm's blocking does not depend on the thread count).
    assert.equal(
      Buffer.compare(Buffer.from(/** @type {number[]} */ (a.data)), Buffer.from(/** @type {number[]} */ (b.data))),
      0,
      'the same pixels',
    );
  },
);

test(
  'a host without header control: the service worker isolates the page after one reload, under a sub-path',
  { timeout: 600_000 },
  async (t) => {
    const plain = await serve(ROOT, { isolate: false });
    t.after(() => plain.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${plain.url}dist/${LINK}`);
    const report = await cpu(page);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'isolated by the service worker');
    assert.equal(report.build, 'pkg-threads');
    await waitForSteps(page, 2, 240_000);
    const loads = plain.requests.filter((p) => p === '/dist/');
    assert.equal(loads.length, 2, `the page loaded twice (the first visit, the reload), no more: ${loads.length}`);
    assert.ok(plain.requests.includes('/dist/isolation-sw.js'));

    // A later visit in the same browser is isolated from the start: no reload.
    const again = await openPage(page.context(), `${plain.url}dist/${LINK}`);
    assert.equal((await cpu(again)).build, 'pkg-threads');
    assert.equal(plain.requests.filter((p) => p === '/dist/').length, 3, 'one more load, no reload');
  },
);

test(
  'where isolation is not possible the page runs single-threaded, without reloading',
  { timeout: 600_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false, args: INSECURE_HOST_ARGS });
    // Plain http from another host: no isolation, no service workers.
    const port = new URL(site.url).port;
    const insecure = await open(browser, `http://${INSECURE_HOST}:${port}/dist/${LINK}`);
    assert.deepEqual(await cpu(insecure), { type: 'cpu', build: 'pkg', threads: 1, unthreaded: null });
    await waitForSteps(insecure, 1, 240_000);
    assert.match(/** @type {string} */ (await insecure.locator('#status').textContent()), /Flex \(CPU, 1 thread\)/);

    // A host without the headers where the service worker cannot install (its script answers 404).
    const broken = await serve(ROOT, { isolate: false, answer: NO_SERVICE_WORKER });
    t.after(() => broken.close());
    const page = await open(browser, `${broken.url}dist/${LINK}`);
    assert.deepEqual(await cpu(page), { type: 'cpu', build: 'pkg', threads: 1, unthreaded: null });
    await waitForSteps(page, 1, 240_000);
    assert.equal(broken.requests.filter((p) => p === '/dist/').length, 1, 'no reload');
    assert.ok(
      page.logs.some((l) => /no cross-origin isolation/.test(l)),
      page.logs.join('\n'),
    );
  },
);

/** The page's notices. @param {import('playwright-core').Page} page */
const notices = (page) => page.locator('#notices li').allTextContents();

test(
  'a host whose policy refuses blob: workers: the single-threaded build at once, and the page says why',
  { timeout: 600_000 },
  async (t) => {
    // A hardened host's policy (worker-src without blob:) and no isolation headers: the service worker isolates the
    // page, the threaded build is chosen, and the policy refuses its pool's workers.
    const hardened = await serve(ROOT, {
      isolate: false,
      csp: CSP.replace("worker-src 'self' blob:", "worker-src 'self'"),
    });
    t.after(() => hardened.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${hardened.url}dist/${LINK}`);
    // Refused (the violation seen), not timed out: the pool's bounded wait was not what ended it.
    assert.deepEqual(await cpu(page), { type: 'cpu', build: 'pkg', threads: 1, unthreaded: 'pool-refused' });
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await waitForDone(page, 300_000);
    assert.match(/** @type {string} */ (await page.locator('#status').textContent()), /Flex \(CPU, 1 thread\)/);
    assert.ok(
      (await notices(page)).some((n) =>
        /one CPU thread.*this site's security policy does not let the page start its helper threads/.test(n),
      ),
      String(await notices(page)),
    );
    await screenshot(page, 'threads-refused-by-policy');
  },
);

/** A server whose thread pools do not start (for the first `times` pools): the pool's script, which the program
 *  fetches to start each of its workers from, answers 503, so they never say they are ready (and nobody hears their
 *  errors). The program's own import of it is served. @param {number} times */
function silentPools(times) {
  let tries = 0;
  return serve(ROOT, {
    answer: (path, dest) => {
      if (path.endsWith('/pkg-threads/filterlens_bg.wasm')) tries += 1;
      return path.endsWith('/workerHelpers.no-bundler.js') && dest === 'empty' && tries <= times ? 503 : null;
    },
  });
}

/** How many times the threaded program was fetched: a worker trying the threaded build.
 *  @param {{ requests: string[] }} server */
const threadedTries = (server) => server.requests.filter((p) => p.endsWith('/pkg-threads/filterlens_bg.wasm')).length;

test(
  'a thread pool that does not start once: a fresh worker tries again, and Flex runs on every core',
  { timeout: 600_000 },
  async (t) => {
    // What Firefox ESR 153 does now and then (its worker stuck for good in `new Worker`), as the page sees it: a pool
    // that does not answer. A timer in the page notices; a worker started a moment later is not stuck.
    const once = await silentPools(1);
    t.after(() => once.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${once.url}dist/${LINK}`);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.deepEqual(await cpu(page), {
      type: 'cpu',
      build: 'pkg-threads',
      threads: Math.min(cores, 8),
      unthreaded: null,
    });
    assert.equal(threadedTries(once), 2, 'the threaded program, twice: the first pool was silent');
    await waitForSteps(page, 1, 240_000);
    assert.deepEqual(
      (await notices(page)).filter((n) => /one CPU thread/.test(n)),
      [],
      'nothing said about one thread',
    );
  },
);

test(
  'a thread pool that never answers: the single-threaded build after a second try, and no more waits',
  { timeout: 600_000 },
  async (t) => {
    const silent = await silentPools(Infinity);
    t.after(() => silent.close());
    const browser = await browserFor(t, { webgpu: false });
    const page = await open(browser, `${silent.url}dist/${LINK}`);
    assert.deepEqual(await cpu(page), { type: 'cpu', build: 'pkg', threads: 1, unthreaded: 'pool-silent' });
    assert.equal(threadedTries(silent), 2, 'two workers tried the threaded build');
    await waitForSteps(page, 1, 240_000);
    assert.ok(
      (await notices(page)).some((n) => /one CPU thread.*did not start within 10 seconds/.test(n)),
      String(await notices(page)),
    );

    // A new worker (after a crash) knows: the single-threaded build from the start, the threaded one not fetched.
    const asked = silent.requests.filter((p) => p.includes('/pkg-threads/')).length;
    await page.evaluate(() => window.filterlens.crashWorker());
    await page.waitForFunction(() => window.filterlens.events.filter((e) => e.type === 'cpu').length === 2, null, {
      timeout: 240_000,
    });
    assert.deepEqual((await events(page, 'cpu'))[1], {
      type: 'cpu',
      build: 'pkg',
      threads: 1,
      unthreaded: 'pool-silent',
    });
    assert.equal(silent.requests.filter((p) => p.includes('/pkg-threads/')).length, asked);
    await waitForSteps(page, 1, 240_000);
  },
);
