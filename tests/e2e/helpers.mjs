// @ts-check
// Shared pieces of the browser tests: Chromium with or without a WebGPU adapter, the page under test, waiting on
// the page's own events (window.filterlens), main-thread long tasks, screenshots kept as artifacts, and a strict
// decoder for the PNGs the page exports.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const DIST = path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(here, 'artifacts');
/** The release CLI, in cargo's build folder as the Makefile sets it. */
export const CLI = path.join(
  process.env.CARGO_TARGET_DIR || path.join(homedir(), '.cache/filterlens/target'),
  'release/filterlens',
);

/** A copy of dist/ in `folder`/site with an atlas of VGG16 made by the CLI with `args` (on the page's f16 weights),
 *  served as `make dist ATLAS=…` serves one: the site's folder, and the atlas's in it.
 *  @param {string} folder @param {string[]} args */
export function atlasSite(folder, args) {
  const root = path.join(folder, 'site');
  cpSync(DIST, root, { recursive: true, dereference: true });
  const work = path.join(folder, 'atlas-work');
  const packed = path.join(root, 'atlas/vgg16');
  const quiet = { stdio: /** @type {'pipe'} */ ('pipe') };
  const weights = path.join(DIST, 'weights/vgg16-f16.safetensors');
  execFileSync(CLI, ['atlas', '--weights', weights, ...args, '--out', work], quiet);
  execFileSync(CLI, ['atlas', 'merge', '--out', work, '--into', packed], quiet);
  writeFileSync(path.join(root, 'atlas/index.json'), JSON.stringify({ networks: ['vgg16'] }));
  return { root, packed };
}

const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
// SwiftShader: a real (software) WebGPU adapter. Without these flags this Chromium has navigator.gpu but
// requestAdapter() resolves to null, which is the "no WebGPU" case the Flex path is tested with.
const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** The site every test of a file uses: `folder` (the repository root, so the page is under /dist/) served on
 *  loopback from before the first test to after the last. */
export function servedSite(folder = ROOT) {
  /** @type {Awaited<ReturnType<typeof serve>>} */
  let server;
  before(async () => {
    server = await serve(folder);
  });
  after(() => server.close());
  return {
    get url() {
      return server.url;
    },
    get requests() {
      return server.requests;
    },
  };
}

/** A browser for one test, closed after it. @param {import('node:test').TestContext} t
 *  @param {{ webgpu: boolean, args?: string[] }} options */
export async function browserFor(t, { webgpu, args = [] }) {
  const browser = await launch({ webgpu, args });
  t.after(() => browser.close());
  return browser;
}

/** The page at `url` in a fresh context (its own Cache Storage). @param {import('playwright-core').Browser} browser
 *  @param {string} url */
export async function open(browser, url) {
  return openPage(await openContext(browser), url);
}

/** @param {{ webgpu: boolean, args?: string[] }} options */
export async function launch({ webgpu, args = [] }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: false, // --headless=new is in the arguments
    args: [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : []), ...args],
  });
}

/** A host name that is not localhost, resolved by the browser to loopback: pages there are not a secure context
 *  (like plain http from another machine), while every byte stays on this machine. */
export const INSECURE_HOST = 'filterlens.test';
export const INSECURE_HOST_ARGS = [`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`];

/** Records main-thread long tasks (PerformanceObserver 'longtask') from the very start of every page. */
const LONGTASK_SCRIPT = () => {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
};

/** A new context (its own Cache Storage) and page, with console errors collected.
 *  @param {import('playwright-core').Browser} browser */
export async function openContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.addInitScript(LONGTASK_SCRIPT);
  return context;
}

/** `before` runs on the new page before it goes to `url`.
 *  @param {import('playwright-core').BrowserContext} context @param {string} url
 *  @param {{ before?: (page: import('playwright-core').Page) => Promise<void> }} [options]
 *  @returns {Promise<import('playwright-core').Page & { logs: string[] }>} */
export async function openPage(context, url, { before } = {}) {
  const page = /** @type {import('playwright-core').Page & { logs: string[] }} */ (await context.newPage());
  page.logs = [];
  page.on('console', (m) => page.logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.logs.push(`pageerror: ${e.message}`));
  if (before) await before(page);
  await page.goto(url);
  await page.waitForFunction(() => window.filterlens !== undefined, null, { timeout: 60_000 }); // after the catalog
  return page;
}

/** Collects Content-Security-Policy violations from the very start of every page of `context` into
 *  `window.__violations` (the document's `securitypolicyviolation` events).
 *  @param {import('playwright-core').BrowserContext} context */
export async function recordViolations(context) {
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      ),
    );
  });
}

/**
 * Makes the policy violations inside `page`'s workers console errors (Chromium reports a worker's violations,
 * such as compiling wasm without 'wasm-unsafe-eval', to no console Playwright sees): each worker is held at its
 * start (CDP auto-attach), given a `securitypolicyviolation` listener that calls console.error, and let go.
 * Call before the page navigates. @param {import('playwright-core').Page} page
 */
export async function reportWorkerViolations(page) {
  const cdp = await page.context().newCDPSession(page);
  let id = 0;
  /** @param {string} sessionId @param {string} method @param {object} [params] */
  const send = (sessionId, method, params = {}) =>
    cdp
      .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: ++id, method, params }) })
      .catch(() => {});
  cdp.on('Target.attachedToTarget', async ({ sessionId, targetInfo }) => {
    if (targetInfo.type === 'worker') {
      await send(sessionId, 'Runtime.evaluate', {
        expression: `self.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation in the worker: ' +
          e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')))`,
      });
    }
    await send(sessionId, 'Runtime.runIfWaitingForDebugger');
  });
  // Not flattened: this session's own attachments, messages sent through the target (Playwright holds its own).
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
}

/** The page's worker messages so far (window.filterlens.events). @param {import('playwright-core').Page} page
 *  @param {string} [type] */
export const events = (page, type) =>
  page.evaluate((type) => window.filterlens.events.filter((e) => !type || e.type === type), type);

/** Waits until the current run (the page's runId) has reported at least `n` steps; returns those reports.
 *  A page from openPage has `logs`, reported with the page's errors; a plain page has none.
 *  @param {import('playwright-core').Page & { logs?: string[] }} page @param {number} n @param {number} [timeout] */
export async function waitForSteps(page, n, timeout = 120_000) {
  await page.waitForFunction(
    (n) => {
      const f = window.filterlens;
      if (f.events.some((e) => e.type === 'error' || (e.type === 'weights' && e.phase === 'error'))) return true;
      return f.events.filter((e) => e.type === 'step' && e.id === f.runId).length >= n;
    },
    n,
    { timeout, polling: 100 },
  );
  const errors = await page.evaluate(() =>
    window.filterlens.events.filter((e) => e.type === 'error' || (e.type === 'weights' && e.phase === 'error')),
  );
  if (errors.length) throw new Error(`the page reported: ${JSON.stringify(errors)}\n${page.logs?.join('\n') ?? ''}`);
  const steps = await page.evaluate(() =>
    window.filterlens.events.filter((e) => e.type === 'step' && e.id === window.filterlens.runId),
  );
  // `activation`: the mean over the tiles, as the page's status line and plot show it.
  return steps.map((s) => ({
    ...s,
    activation: /** @type {number[]} */ (s.activations).reduce((a, b) => a + b, 0) / s.activations.length,
  }));
}

/** The latest run's request, as the page sent it to the worker. @param {import('playwright-core').Page} page */
export const lastRequest = (page) => page.evaluate(() => /** @type {FilterlensRun} */ (window.filterlens.run).request);

/** The latest backend the worker announced (`BackendInfo`). @param {import('playwright-core').Page} page */
export const backendInfo = (page) =>
  page.evaluate(() => window.filterlens.events.filter((e) => e.type === 'backend').map((e) => e.info));

/** Waits for the page's current run to finish (its 'done' message). @param {import('playwright-core').Page} page
 *  @param {number} [timeout] */
export async function waitForDone(page, timeout = 120_000) {
  await page.waitForFunction(
    () => window.filterlens.events.some((e) => e.type === 'done' && e.id === window.filterlens.runId),
    null,
    { timeout, polling: 100 },
  );
}

/** The picture's pixels as the worker holds them: `{ width, height, step, data: number[] }`.
 *  @param {import('playwright-core').Page} page */
export const snapshot = (page) =>
  page.evaluate(async () => {
    const s = await window.filterlens.snapshot();
    return { width: s.width, height: s.height, step: s.step, data: s.data ? Array.from(s.data) : null };
  });

/** The mean absolute difference of two pictures' pixels (Infinity when their sizes differ). Both have pixels (a
 *  snapshot's `data` is null only before the first picture). @param {{ data: ArrayLike<number> | null }} a
 *  @param {{ data: ArrayLike<number> | null }} b */
export function pixelDifference(a, b) {
  const [p, q] = /** @type {ArrayLike<number>[]} */ ([a.data, b.data]);
  if (p.length !== q.length) return Infinity;
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i] - q[i]);
  return sum / p.length;
}

/** Long tasks on the page's main thread that started after `since` (ms, performance.now()).
 *  @param {import('playwright-core').Page} page @param {number} [since] */
export const longTasks = (page, since = 0) =>
  page.evaluate((since) => window.__longtasks.filter((t) => t.start >= since), since);

/** @param {import('playwright-core').Page} page @param {string} name */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Screenshot of the visible canvas element only (what a person sees, via the placeholder canvas).
 *  @param {import('playwright-core').Page} page */
export const canvasShot = (page) => page.locator('#view').screenshot();

/** How much neighbouring pixels agree (grey levels), best over four directions: about 0 for the starting noise,
 *  clearly positive once a texture forms. The picture has pixels (a snapshot's `data` is null only before the first).
 *  @param {{ width: number, height: number, data: ArrayLike<number> | null }} picture */
export function neighbourCorrelation({ width: w, height: h, data }) {
  const pixels = /** @type {ArrayLike<number>} */ (data);
  const g = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) g[i] = (pixels[4 * i] + pixels[4 * i + 1] + pixels[4 * i + 2]) / 3;
  const mean = g.reduce((a, b) => a + b, 0) / g.length;
  /** @param {number} dx @param {number} dy */
  const corr = (dx, dy) => {
    let s = 0;
    let q = 0;
    for (let y = 0; y < h - dy; y++) {
      for (let x = Math.max(0, -dx); x < w - Math.max(0, dx); x++) {
        const a = g[y * w + x] - mean;
        s += a * (g[(y + dy) * w + x + dx] - mean);
        q += a * a;
      }
    }
    return q > 0 ? s / q : 0;
  };
  return Math.max(corr(1, 0), corr(0, 1), corr(1, 1), corr(-1, 1));
}

/** Decodes a PNG file as filterlens writes them (8-bit RGBA, not interlaced; or RGB, as screenshots come), checking the signature, every chunk's
 *  CRC and the IEND; throws on anything else. Returns `{ width, height, data }` like a snapshot.
 *  @param {Uint8Array} bytes */
export function decodePng(bytes) {
  const { width, height, channels, chunks } = readChunks(bytes);
  const rows = unfilter(
    inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.body))),
    width,
    height,
    channels,
  );
  if (channels === 4) return { width, height, data: rows };
  const data = new Uint8Array(4 * width * height).fill(255);
  for (let i = 0; i < width * height; i++) data.set(rows.subarray(3 * i, 3 * i + 3), 4 * i);
  return { width, height, data };
}

/** Chooses `count` distinct pictures in the page's natural-examples panel as a visitor would: 256 px PNG files, made
 *  in the page (a colour field crossed by lines, picture k the same on every run).
 *  @param {import('playwright-core').Page} page @param {number} count */
export const choosePicturesMadeInPage = (page, count) =>
  page.evaluate(async (count) => {
    const files = [];
    for (let k = 0; k < count; k++) {
      const canvas = new OffscreenCanvas(256, 256);
      const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
      ctx.fillStyle = `hsl(${(k * 47) % 360} 70% ${30 + (k % 5) * 10}%)`;
      ctx.fillRect(0, 0, 256, 256);
      ctx.strokeStyle = `hsl(${(k * 91) % 360} 80% 60%)`;
      ctx.lineWidth = 2 + (k % 7);
      for (let i = 0; i < 12; i++) {
        ctx.beginPath();
        ctx.moveTo((k * 13 + i * 29) % 256, 0);
        ctx.lineTo((k * 7 + i * 41) % 256, 256);
        ctx.stroke();
      }
      files.push(new File([await canvas.convertToBlob()], `made${k}.png`, { type: 'image/png' }));
    }
    const transfer = new DataTransfer();
    for (const f of files) transfer.items.add(f);
    const box = /** @type {HTMLInputElement} */ (document.getElementById('examples-files'));
    box.files = transfer.files;
    box.dispatchEvent(new Event('change'));
  }, count);

/** An 8-bit RGBA PNG file of `data` (`width`×`height`), unfiltered: the pictures tests hand to the page.
 *  @param {number} width @param {number} height @param {Uint8Array} data */
export function encodePng(width, height, data) {
  const rows = Buffer.alloc((4 * width + 1) * height);
  for (let y = 0; y < height; y++) rows.set(data.subarray(4 * width * y, 4 * width * (y + 1)), y * (4 * width + 1) + 1);
  /** @param {string} type @param {Uint8Array} body */
  const chunk = (type, body) => {
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const out = Buffer.alloc(12 + body.length);
    out.writeUInt32BE(body.length, 0);
    typed.copy(out, 4);
    out.writeUInt32BE(crc32(typed), 8 + body.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8);
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A strict decoder for the animated PNGs filterlens writes (every frame whole, RGBA): `{ width, height, plays,
 *  frames: [{ delay (seconds), data }] }`, frames in their sequence order. @param {Uint8Array} bytes */
export function decodeApng(bytes) {
  const { width, height, channels, chunks } = readChunks(bytes);
  assert.equal(channels, 4);
  const actl = chunks.find((c) => c.type === 'acTL');
  assert.ok(actl, 'an acTL chunk: an animated PNG');
  assert.ok(chunks.indexOf(actl) < chunks.findIndex((c) => c.type === 'IDAT'), 'acTL before the image data');
  const [count, plays] = [actl.body.readUInt32BE(0), actl.body.readUInt32BE(4)];
  /** @type {{ delay: number, parts: Buffer[] }[]} */
  const frames = [];
  let sequence = 0;
  for (const chunk of chunks) {
    if (chunk.type === 'fcTL') {
      const b = chunk.body;
      assert.equal(b.readUInt32BE(0), sequence++, 'fcTL sequence number');
      assert.deepEqual(
        [b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12), b.readUInt32BE(16)],
        [width, height, 0, 0],
        'a whole frame',
      );
      frames.push({ delay: b.readUInt16BE(20) / (b.readUInt16BE(22) || 100), parts: [] });
    } else if (chunk.type === 'IDAT') {
      assert.ok(frames.length === 1, 'the default image is the first frame');
      frames[0].parts.push(chunk.body);
    } else if (chunk.type === 'fdAT') {
      assert.equal(chunk.body.readUInt32BE(0), sequence++, 'fdAT sequence number');
      /** @type {(typeof frames)[number]} */ (frames.at(-1)).parts.push(chunk.body.subarray(4)); // after an fcTL
    }
  }
  assert.equal(frames.length, count, 'acTL counts the frames');
  return {
    width,
    height,
    plays,
    frames: frames.map((f) => ({
      delay: f.delay,
      data: unfilter(inflateSync(Buffer.concat(f.parts)), width, height, 4),
    })),
  };
}

/** A PNG's chunks, each CRC checked, and its header: 8-bit RGB or RGBA, not interlaced. @param {Uint8Array} bytes */
function readChunks(bytes) {
  const buffer = Buffer.from(bytes);
  assert.deepEqual([...buffer.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  const chunks = [];
  for (let at = 8; at < buffer.length;) {
    const length = buffer.readUInt32BE(at);
    const type = buffer.toString('latin1', at + 4, at + 8);
    const body = buffer.subarray(at + 8, at + 8 + length);
    assert.equal(buffer.readUInt32BE(at + 8 + length), crc32(buffer.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunks.push({ type, body });
    at += 12 + length;
  }
  assert.equal(chunks[0].type, 'IHDR');
  assert.equal(chunks.at(-1)?.type, 'IEND'); // chunks[0] is there
  const ihdr = chunks[0].body;
  const [width, height] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4)];
  assert.ok([2, 6].includes(ihdr[9]) && ihdr[8] === 8 && ihdr[12] === 0, '8-bit RGB or RGBA, not interlaced');
  const channels = ihdr[9] === 6 ? 4 : 3; // filterlens writes RGBA; screenshots may come as RGB
  return { width, height, channels, chunks };
}

/** Undoes PNG's row filters. @param {Buffer} raw @param {number} width @param {number} height @param {number} channels */
function unfilter(raw, width, height, channels) {
  const stride = channels * width;
  assert.equal(raw.length, height * (1 + stride), 'image data size');
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (1 + stride)];
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? rows[y * stride + x - channels] : 0;
      const b = y > 0 ? rows[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? rows[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      assert.notEqual(predictor, undefined, `row filter ${filter}`);
      rows[y * stride + x] = (raw[y * (1 + stride) + 1 + x] + predictor) & 255;
    }
  }
  return rows;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** @param {Uint8Array} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A soak's samples as a small SVG: the wasm memory (left scale) and the page's JS heap (right scale), MB over
 *  seconds, its phases shaded. @param {{ phase: string, at: number, wasm: number, heap: number }[]} samples */
export function soakPlot(samples) {
  const [w, h, pad] = [640, 220, 40];
  const tMax = Math.max(...samples.map((s) => s.at), 1);
  /** @param {'wasm' | 'heap'} key */
  const top = (key) => (Math.max(...samples.map((s) => s[key])) / 1e6) * 1.15;
  const [wasmTop, heapTop] = [top('wasm'), top('heap')];
  /** @param {number} v */
  const x = (v) => pad + ((w - 2 * pad) * v) / tMax;
  /** @param {number} mb @param {number} max */
  const y = (mb, max) => h - pad - ((h - 2 * pad) * mb) / max;
  /** @param {'wasm' | 'heap'} key @param {number} max @param {string} colour */
  const line = (key, max, colour) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${samples.map((s) => `${x(s.at).toFixed(1)},${y(s[key] / 1e6, max).toFixed(1)}`).join(' ')}"/>`;
  const phases = ['steps', 'restarts', 'grid'].map((p, i) => {
    const inPhase = samples.filter((s) => s.phase === p);
    if (!inPhase.length) return '';
    const [a, b] = [x(inPhase[0].at), x(/** @type {(typeof samples)[number]} */ (inPhase.at(-1)).at)];
    return `<rect x="${a.toFixed(1)}" y="${pad}" width="${Math.max(b - a, 1).toFixed(1)}" height="${h - 2 * pad}" fill="${['#f4f4f4', '#eaf2fb', '#fbf1e8'][i]}"/><text x="${(a + 3).toFixed(1)}" y="${pad + 12}" font-size="11">${p}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="${w}" height="${h}" fill="#fff"/>${phases.join('')}
${line('wasm', wasmTop, '#c2410c')}${line('heap', heapTop, '#2b6cb0')}
<text x="${pad}" y="${pad - 22}" font-size="11" fill="#c2410c">wasm memory, MB (left: 0 to ${wasmTop.toFixed(0)})</text>
<text x="${w - pad}" y="${pad - 22}" font-size="11" fill="#2b6cb0" text-anchor="end">page JS heap after GC, MB (right: 0 to ${heapTop.toFixed(1)})</text>
<text x="${pad}" y="${h - 22}" font-size="11">0 s</text><text x="${w - pad}" y="${h - 22}" font-size="11" text-anchor="end">${tMax.toFixed(0)} s</text>
</svg>
`;
}
