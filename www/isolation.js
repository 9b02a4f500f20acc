// @ts-check
// Cross-origin isolation, which the threaded build needs (shared memory): from the server's headers where it sends
// them (`make serve` does), else from isolation-sw.js. The service worker only changes responses after it
// controls the page, so the first visit reloads once; if the browser still refuses isolation (or has no service
// workers: plain http from another host), the page carries on single-threaded and never reloads again in this tab.

const RELOADED = 'filterlens-isolation-reload';
/** How long the page waits for the service worker to take control before it starts single-threaded. */
const WAIT_MS = 5000;

/** Resolves to true when the page is about to reload into isolation (do nothing more), else false. */
export async function isolate() {
  if (globalThis.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return false;
  if (sessionStorage.getItem(RELOADED)) return false; // reloaded once already: the browser says no
  try {
    const registration = await navigator.serviceWorker.register(new URL('./isolation-sw.js', import.meta.url), {
      scope: './',
    });
    // Controlled, yet not isolated: this response came before the worker did (or past it: a hard reload). Else
    // wait for it to take control (clients.claim).
    if (!navigator.serviceWorker.controller) {
      const controlled = await new Promise((resolve) => {
        navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true), { once: true });
        setTimeout(() => resolve(false), WAIT_MS);
      });
      if (!controlled)
        throw new Error(
          `it did not take control within ${WAIT_MS / 1000} s (state: ${registration.installing?.state ?? registration.waiting?.state ?? registration.active?.state})`,
        );
    }
  } catch (e) {
    console.warn(
      `filterlens: no cross-origin isolation (service worker: ${e instanceof Error ? e.message : e}); Flex runs on one thread`,
    );
    return false;
  }
  sessionStorage.setItem(RELOADED, '1');
  location.reload();
  return true;
}
