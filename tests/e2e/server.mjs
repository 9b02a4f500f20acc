// @ts-check
// A small static file server for the browser tests: serves a folder on 127.0.0.1 at a free port, with the MIME
// types a wasm page needs, no HTTP caching (so a second visit measures the page's own Cache Storage), and a log of
// the paths asked for.

import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';

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

/** The page's Content-Security-Policy, as www/index.html states it in a <meta>; the server sends it as a header too,
 *  so the tests exercise both. */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'";

/** Serves `folder` on `host` (127.0.0.1 unless told); resolves to `{ url, requests, close() }`, `url` ending
 *  with a slash. `answer` may answer a path with an HTTP status of its own (a 503 for the weights, say); `cut`
 *  may drop the connection after that many bytes of a path's body (a download that breaks off). `csp`: the
 *  Content-Security-Policy header sent with HTML and JavaScript (a worker takes its policy from its own script's
 *  response, not from the page), CSP unless told; null sends none.
 *  @param {string} folder
 *  @param {{ host?: string, answer?: (path: string) => number | null, cut?: (path: string) => number | null,
 *    csp?: string | null }} [options] */
export async function serve(folder, { host = '127.0.0.1', answer = () => null, cut = () => null, csp = CSP } = {}) {
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
  await new Promise((resolve) => server.listen(0, host, () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${port}/`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
