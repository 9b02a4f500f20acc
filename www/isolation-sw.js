// @ts-check
// A service worker with one job: cross-origin isolation on hosts that cannot send headers (GitHub Pages, say). It
// adds Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy to this site's own responses, which gives the
// page shared memory and so the threaded build (worker.js). It caches nothing and leaves other origins' requests
// alone. isolation.js registers it; a host that sends the headers itself never needs it.

const scope = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

scope.addEventListener('install', () => scope.skipWaiting());
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));

scope.addEventListener('fetch', (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== scope.location.origin) return;
  // A request the browser may only answer from its cache cannot be passed on to fetch() (it throws).
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(fetch(request).then(isolated));
});

/** `response` with the isolation headers added (an opaque or error response stays as it is).
 *  @param {Response} response */
function isolated(response) {
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
