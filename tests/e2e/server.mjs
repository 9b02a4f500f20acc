// @ts-check
// A small static file server for the browser tests and `make serve`: serves a folder on 127.0.0.1, with the MIME
// types a wasm page needs, the headers that make it cross-origin isolated (so the threaded build runs), no HTTP
// caching (so a second visit measures the page's own Cache Storage), and a log of the paths asked for.
//
//   node tests/e2e/server.mjs FOLDER PORT      serves FOLDER on http://127.0.0.1:PORT/ until interrupted

import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

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

/** Cross-origin isolation (shared memory for the threaded build); www/isolation-sw.js adds the same headers where a
 *  host cannot. */
export const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** An `answer` for a host where the page's service worker cannot install (its script answers 404): with
 *  `isolate: false`, a page that stays single-threaded without reloading. @param {string} path */
export const NO_SERVICE_WORKER = (path) => (path.endsWith('/isolation-sw.js') ? 404 : null);

/** The page's Content-Security-Policy, as www/index.html states it in a <meta>; the server sends it as a header too,
 *  so the tests exercise both. */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'";

/** Serves `folder` on `host` (127.0.0.1 unless told); resolves to `{ url, requests, close() }`, `url` ending
 *  with a slash. `answer` may answer a path with an HTTP status of its own (a 503 for the weights, say); `cut`
 *  may drop the connection after that many bytes of a path's body (a download that breaks off). `csp`: the
 *  Content-Security-Policy header sent with HTML and JavaScript (a worker takes its policy from its own script's
 *  response, not from the page), CSP unless told; null sends none. `isolate`: send the ISOLATION headers (true
 *  unless told; false is a host without header control, where the page's own service worker isolates it).
 *  @param {string} folder
 *  @param {{ host?: string, port?: number, answer?: (path: string) => number | null, cut?: (path: string) => number | null,
 *    csp?: string | null, isolate?: boolean }} [options] */
export async function serve(folder, { host = '127.0.0.1', port = 0, answer = () => null, cut = () => null, csp = CSP, isolate = true } = {}) {
  const root = path.resolve(folder);
  const requests = [];
  const server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    requests.push(pathname);
    const status = answer(pathname);
    if (status) {
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`answered ${status} for the test`);
      return;
    }
    let file = path.join(root, path.normalize(pathname));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
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
      const type = TYPES[path.extname(file)] || 'application/octet-stream';
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': stat.size,
        'Cache-Control': 'no-store',
        ...(isolate ? ISOLATION : {}),
        ...(csp && /^text\/(html|javascript)/.test(type) ? { 'Content-Security-Policy': csp } : {}),
      });
      const cutAt = cut(pathname);
      if (req.method === 'HEAD') res.end();
      else if (cutAt !== null) {
        createReadStream(file, { end: cutAt - 1 })
          .on('end', () => setTimeout(() => res.socket?.destroy(), 50))
          .pipe(res, { end: false });
      } else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(port, host, () => resolve(undefined)));
  const { port: listening } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${listening}/`,
    requests,
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
  const { url } = await serve(folder, { port: Number(port) });
  console.log(`filterlens: ${url} (cross-origin isolated: Flex on every core)`);
}
