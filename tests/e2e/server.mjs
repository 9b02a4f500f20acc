// @ts-check
// A small static file server for the browser tests and `make serve`: serves a folder on 127.0.0.1, with the MIME
// types a wasm page needs, the headers that make it cross-origin isolated (so the threaded build runs), byte ranges
// (as static hosts, GitHub Pages included, serve them), no HTTP caching (so a second visit measures the page's own
// Cache Storage), and a log of the paths asked for. For first-visit measurements it can compress as hosts do
// (gzip or Brotli) and pace every byte through one shared link (so many Mbit/s, so many ms per request), logging
// when each byte left.
//
//   node tests/e2e/server.mjs FOLDER PORT      serves FOLDER on http://127.0.0.1:PORT/ until interrupted

import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

/** @type {Record<string, string>} */
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

/** What hosts compress: text and wasm, not the weights (f16 noise gains ~7% and would lose byte ranges). */
const COMPRESSIBLE = /^(text\/|application\/(json|wasm))/;
/** Compression on the fly, at the levels hosts use for it; a file's precompressed `.br` copy (make dist writes them
 *  for the programs, at quality 11) is served instead where there is one.
 *  @type {Record<'br' | 'gzip', (bytes: Buffer) => Buffer>} */
const ENCODERS = {
  gzip: (bytes) => gzipSync(bytes, { level: 6 }),
  br: (bytes) => brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } }),
};
/** A file's body in `encoding`: its precompressed copy if there is one, else compressed now.
 *  @param {string} file @param {'br' | 'gzip'} encoding */
async function encoded(file, encoding) {
  const copy = await fs.readFile(`${file}.${encoding === 'br' ? 'br' : 'gz'}`).catch(() => null);
  return copy ?? ENCODERS[encoding](await fs.readFile(file));
}

/** One shared link: every response's bytes queue for the same `mbit` per second, after `latencyMs` per request.
 *  @param {{ mbit: number, latencyMs: number }} pace */
function pacedLink({ mbit, latencyMs }) {
  const bytesPerMs = (mbit * 1e6) / 8 / 1000;
  let free = 0; // when the link has sent everything queued so far (performance.now())
  /** @param {number} ms */
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  return {
    latency: () => sleep(latencyMs),
    /** Resolves when `n` more bytes have crossed the link. @param {number} n */
    async send(n) {
      free = Math.max(free, performance.now()) + n / bytesPerMs;
      await sleep(free - performance.now());
    },
  };
}

/** Resolves when `res` can take more (or has closed). @param {import('node:http').ServerResponse} res */
const drained = (res) =>
  new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve(undefined);
    };
    res.on('drain', done).on('close', done);
  });

/** The byte range a `Range` header asks of a `size`-byte file: `[start, end)`, null for the whole file, 'bad' for
 *  one it cannot satisfy. Only the single ranges a browser's fetch sends (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
 *  @param {string | undefined} header @param {number} size @returns {[number, number] | null | 'bad'} */
function byteRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  const [start, end] =
    m[1] === ''
      ? [Math.max(0, size - Number(m[2])), size]
      : [Number(m[1]), m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)];
  return start < end ? [start, end] : 'bad';
}

/** Cross-origin isolation (shared memory for the threaded build); www/isolation-sw.js adds the same headers where a
 *  host cannot. */
export const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** An `answer` for a host where the page's service worker cannot install (its script answers 404): with
 *  `isolate: false`, a page that stays single-threaded without reloading. @param {string} path */
export const NO_SERVICE_WORKER = (path) => (path.endsWith('/isolation-sw.js') ? 404 : null);

/** The page's Content-Security-Policy, as www/index.html states it in a <meta>; the server sends it as a header too,
 *  so the tests exercise both. */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'; img-src 'self' blob: data:; connect-src 'self' https:";

/** Serves `folder` on `host` (127.0.0.1 unless told); resolves to `{ url, requests, sent, close() }`, `url` ending
 *  with a slash, `sent` a log of `{ path, at, bytes }` (Date.now() when that many body bytes left). `answer` may
 *  answer a path with an HTTP status of its own (a 503 for the weights, say), told what the request is for too (its
 *  Sec-Fetch-Dest: `script` for an import, `empty` for a fetch()); `cut` may drop the connection after
 *  that many bytes of a path's body (a download that breaks off). `csp`: the Content-Security-Policy header sent
 *  with HTML and JavaScript (a worker takes its policy from its own script's response, not from the page), CSP
 *  unless told; null sends none. `isolate`: send the ISOLATION headers (true unless told; false is a host without
 *  header control, where the page's own service worker isolates it). `ranges`: answer `Range` with 206 (true
 *  unless told; false is a host that ignores it and sends the whole file). `compress`: the encodings offered for
 *  text and wasm, best first, each where the browser accepts it (none unless told). `pace`: one link all bytes share (none unless told).
 *  `revalidate`: let the browser keep files and ask again with If-None-Match (a 304 moves no body), as static hosts
 *  do (false unless told: no-store, so that a second visit measures the page's own Cache Storage).
 *  @param {string} folder
 *  @param {{ host?: string, port?: number, answer?: (path: string, dest: string) => number | null, cut?: (path: string) => number | null,
 *    csp?: string | null, isolate?: boolean, ranges?: boolean, compress?: ('br' | 'gzip')[],
 *    pace?: { mbit: number, latencyMs: number } | null, revalidate?: boolean }} [options] */
export async function serve(
  folder,
  {
    host = '127.0.0.1',
    port = 0,
    answer = () => null,
    cut = () => null,
    csp = CSP,
    isolate = true,
    ranges = true,
    compress = [],
    pace = null,
    revalidate = false,
  } = {},
) {
  const root = path.resolve(folder);
  /** @type {string[]} */
  const requests = [];
  /** @type {{ path: string, at: number, bytes: number }[]} */
  const sent = [];
  const link = pace ? pacedLink(pace) : null;
  /** Compressed copies, by file and encoding (the files do not change while a test serves them).
   *  @type {Map<string, Buffer>} */
  const compressed = new Map();
  const server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    requests.push(pathname);
    await link?.latency();
    const status = answer(pathname, req.headers['sec-fetch-dest'] ?? '');
    if (status) {
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`answered ${status} for the test`);
      return;
    }
    let file = path.join(root, path.normalize(pathname));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    let type;
    try {
      let stat = await fs.stat(file);
      if (stat.isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { Location: `${pathname}/` }).end();
          return;
        }
        file = path.join(file, 'index.html');
        stat = await fs.stat(file);
      }
      type = TYPES[path.extname(file)] || 'application/octet-stream';
      body = { size: stat.size, etag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"` };
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    if (revalidate && req.headers['if-none-match'] === body.etag) {
      res.writeHead(304, { ETag: body.etag, 'Cache-Control': 'no-cache', ...(isolate ? ISOLATION : {}) }).end();
      return;
    }
    /** @type {import('node:http').OutgoingHttpHeaders} */
    const headers = {
      'Content-Type': type,
      ...(revalidate ? { 'Cache-Control': 'no-cache', ETag: body.etag } : { 'Cache-Control': 'no-store' }),
      ...(isolate ? ISOLATION : {}),
      ...(csp && /^text\/(html|javascript)/.test(type) ? { 'Content-Security-Policy': csp } : {}),
    };
    /** @type {Buffer | null} */
    let bytes = null;
    let range = null;
    let code = 200;
    const accepted = req.headers['accept-encoding'] ?? '';
    const encoding = COMPRESSIBLE.test(type) ? compress.find((e) => accepted.includes(e)) : undefined;
    if (encoding) {
      const key = `${file}:${encoding}`;
      if (!compressed.has(key)) compressed.set(key, await encoded(file, encoding));
      bytes = /** @type {Buffer} */ (compressed.get(key)); // set just above if it was not there
      Object.assign(headers, { 'Content-Encoding': encoding, 'Content-Length': bytes.length, Vary: 'Accept-Encoding' });
    } else {
      headers['Accept-Ranges'] = ranges ? 'bytes' : 'none';
      range = ranges ? byteRange(req.headers.range, body.size) : null;
      if (range === 'bad') {
        res.writeHead(416, { 'Content-Range': `bytes */${body.size}` }).end();
        return;
      }
      if (range) {
        code = 206;
        headers['Content-Range'] = `bytes ${range[0]}-${range[1] - 1}/${body.size}`;
      }
      headers['Content-Length'] = range ? range[1] - range[0] : body.size;
    }
    res.writeHead(code, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cutAt = cut(pathname);
    const [start, end] = range ?? [0, bytes ? bytes.length : body.size];
    const stop = cutAt === null ? end : Math.min(end, start + cutAt);
    const stream = bytes
      ? [bytes.subarray(start, stop)]
      : createReadStream(file, { start, end: stop - 1, highWaterMark: 16384 });
    try {
      for await (const chunk of stream) {
        for (let at = 0; at < chunk.length; at += 16384) {
          const piece = chunk.subarray(at, at + 16384);
          await link?.send(piece.length);
          if (res.destroyed) return;
          if (!res.write(piece)) await drained(res);
          sent.push({ path: pathname, at: Date.now(), bytes: piece.length });
        }
      }
    } catch {
      return; // the browser went away
    }
    if (stop < end) setTimeout(() => res.socket?.destroy(), 50);
    else res.end();
  });
  await new Promise((resolve) => server.listen(port, host, () => resolve(undefined)));
  const { port: listening } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${listening}/`,
    requests,
    sent,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [folder, port] = process.argv.slice(2);
  if (!folder || !Number.isInteger(Number(port))) {
    console.error('usage: node tests/e2e/server.mjs FOLDER PORT');
    process.exit(1);
  }
  const { url } = await serve(folder, { port: Number(port), compress: ['br', 'gzip'], revalidate: true });
  console.log(`filterlens: ${url} (cross-origin isolated: Flex on every core; Brotli or gzip; byte ranges)`);
}
