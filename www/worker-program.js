// @ts-check
// The program (the wasm module) the compute worker runs, in one of two builds. pkg/ (WebGPU, and Flex on this
// thread) works everywhere; pkg-threads/ runs Flex on a pool of Web Workers (rayon) but has no WebGPU (wgpu's
// browser types cannot cross threads), and needs shared memory, so a cross-origin-isolated page (isolation.js). The
// threaded build is chosen where the page is isolated and WebGPU would not run anyway: Flex or ndarray asked for, or
// `auto` on a browser that offers no WebGPU adapter or only a software one; and only where shared memory really
// exists (WebKit can be isolated without it) and the pool's workers start (a host's policy may refuse blob: workers):
// else the single-threaded build runs, and the page says why. The program is fetched with progress reports and
// compiled as it streams in.

/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').BackendChoice} BackendChoice */
/** The program's JS side; the threaded build adds `initThreadPool`.
 *  @typedef {typeof import('./pkg/filterlens.js') & { initThreadPool?: (threads: number) => Promise<unknown> }} Glue */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/** @typedef {import('./protocol.js').Unthreaded} Unthreaded */

/** The program as loaded: its `build`, its JS side (`glue`, once loaded), its memory (for `stats`); in the
 *  threaded build under `auto`, why WebGPU does not run (`passedOver`: what the browser offered); and why the
 *  threaded build cannot run on this page, once known (`unthreaded`: for good, in this worker). */
export const program = {
  build: /** @type {'pkg' | 'pkg-threads'} */ ('pkg'),
  glue: /** @type {Glue | null} */ (null),
  memory: /** @type {WebAssembly.Memory | null} */ (null),
  passedOver: /** @type {Pick<BackendInfo, 'adapter' | 'fallback'> | null} */ (null),
  unthreaded: /** @type {Unthreaded | null} */ (null),
};

/** Whether threads can share this worker's memory: a shared WebAssembly.Memory can be made and posted. (WebKit
 *  isolates a page without offering SharedArrayBuffer; posting one there fails with "The object can not be
 *  cloned".) */
function sharedMemory() {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(memory.buffer instanceof SharedArrayBuffer)) return false;
    const channel = new MessageChannel();
    channel.port1.postMessage(memory);
    channel.port1.close();
    return true;
  } catch {
    return false;
  }
}

/** What WebGPU the browser offers, asked before a build is chosen (the wasm asks again for its own device). */
async function webgpuOffer() {
  const gpu = /** @type {any} */ (scope.navigator).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (!adapter) return { adapter: null, fallback: /** @type {const} */ ({ kind: 'noAdapter' }) };
  const info = adapter.info ?? {};
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(', ');
  return {
    adapter: { name, software },
    fallback: software ? /** @type {const} */ ({ kind: 'softwareAdapter' }) : null,
  };
}

/** Whether the threaded build would serve `backend` on this page (see the top of this file).
 *  @param {BackendChoice} backend */
async function threadsWanted(backend) {
  if (!scope.crossOriginIsolated || backend === 'wgpu') return false;
  if (backend !== 'auto') return true;
  const offer = await webgpuOffer();
  if (!offer.fallback) return false;
  program.passedOver = offer;
  return true;
}

/** The build for this page and `backend`, and where the threaded one would serve but cannot run, why.
 *  @param {BackendChoice} backend
 *  @returns {Promise<{ build: 'pkg' | 'pkg-threads', unthreaded: Unthreaded | null }>} */
export async function chooseBuild(backend) {
  if (!(await threadsWanted(backend))) return { build: 'pkg', unthreaded: null };
  if (!program.unthreaded && !sharedMemory()) program.unthreaded = 'no-shared-memory';
  const { unthreaded } = program;
  return { build: unthreaded ? 'pkg' : 'pkg-threads', unthreaded };
}

/** The module's bytes, fetched with progress reports (`post`) and handed on as they stream in.
 *  @param {(message: FromWorker) => void} post */
async function download(post) {
  const response = await fetch(new URL(`./${program.build}/filterlens_bg.wasm`, import.meta.url));
  if (!response.ok || !response.body) throw new Error(`the server answered HTTP ${response.status}`);
  // A compressed transfer's Content-Length counts compressed bytes: then the total is unknown (0).
  const total = response.headers.get('Content-Encoding') ? 0 : Number(response.headers.get('Content-Length')) || 0;
  let loaded = 0;
  let lastPost = 0;
  const counted = response.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        loaded += chunk.length;
        const now = performance.now();
        if (now - lastPost > 50 || loaded === total) {
          lastPost = now;
          post({ type: 'program', loaded, total });
        }
        controller.enqueue(chunk);
      },
      flush() {
        post({ type: 'program', loaded, total: loaded });
      },
    }),
  );
  return new Response(counted, { headers: { 'Content-Type': 'application/wasm' } });
}

/** Starts Flex's pool of `threads` workers (after saying so, `pool`); resolves to null once they run, or to why they
 *  do not: the policy refused a worker (its `securitypolicyviolation`) or the pool failed. A pool that stays silent
 *  is the page's to notice (worker-client.js): this worker may not hear a timer of its own then.
 *  @param {Glue} glue @param {number} threads @param {(message: FromWorker) => void} post
 *  @returns {Promise<Unthreaded | null>} */
function startPool(glue, threads, post) {
  let stopListening = () => {};
  return /** @type {Promise<Unthreaded | null>} */ (
    new Promise((resolve) => {
      /** A worker's violations come to its global scope (the worker lib's types do not list them). @param {Event} e */
      const refused = (e) => {
        const { effectiveDirective } = /** @type {SecurityPolicyViolationEvent} */ (e);
        if (/^(worker-src|child-src|script-src)/.test(effectiveDirective)) resolve('pool-refused');
      };
      scope.addEventListener('securitypolicyviolation', refused);
      stopListening = () => scope.removeEventListener('securitypolicyviolation', refused);
      post({ type: 'pool', threads });
      /** @type {NonNullable<Glue['initThreadPool']>} */ (glue.initThreadPool)(threads).then(
        () => resolve(null),
        () => resolve('pool-failed'),
      );
    })
  ).finally(() => stopListening());
}

/** Loads the program for `backend`, with Flex's pool of `threads` in the threaded build, and tells the page which
 *  build, how many threads and, where the threaded build was wanted but does not run, why (`cpu`). A pool refused or
 *  failed leaves the single-threaded build running in its place (a silent one, the page replaces); `unthreaded`, why
 *  an earlier worker of the page ran without threads, spares a new worker the same wait.
 *  @param {{ backend: BackendChoice, threads: number, unthreaded: Unthreaded | null }} init
 *  @param {(message: FromWorker) => void} post */
export async function loadProgram({ backend, threads: threadsAsked, unthreaded: known }, post) {
  program.unthreaded = known;
  let { build, unthreaded } = await chooseBuild(backend);
  program.build = build;
  await instantiate(post);
  const glue = /** @type {Glue} */ (program.glue);
  let threads = 1;
  if (glue.initThreadPool) {
    unthreaded = await startPool(glue, threadsAsked, post);
    if (unthreaded) {
      program.unthreaded = unthreaded;
      program.build = 'pkg';
      await instantiate(post);
    } else threads = threadsAsked;
  }
  post({ type: 'cpu', threads, build: program.build, unthreaded });
}

/** Fetches and instantiates `program.build`. @param {(message: FromWorker) => void} post */
async function instantiate(post) {
  const { build } = program;
  try {
    const glue = /** @type {Glue} */ (await import(new URL(`./${build}/filterlens.js`, import.meta.url).href));
    program.memory = (await glue.default({ module_or_path: download(post) })).memory;
    program.glue = glue;
  } catch (e) {
    program.glue = null;
    throw new Error(
      `The program (${build}/filterlens_bg.wasm) failed to load: ${e instanceof Error ? e.message : e}. Retry to try again.`,
    );
  }
}
