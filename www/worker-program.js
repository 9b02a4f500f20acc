// @ts-check
// The program (the wasm module) the compute worker runs, in one of two builds. pkg/ (WebGPU, and Flex on this
// thread) works everywhere; pkg-threads/ runs Flex on a pool of Web Workers (rayon) but has no WebGPU (wgpu's
// browser types cannot cross threads), and needs shared memory, so a cross-origin-isolated page (isolation.js). The
// threaded build is chosen where the page is isolated and WebGPU would not run anyway: Flex or ndarray asked for, or
// `auto` on a browser that offers no WebGPU adapter or only a software one. The program is fetched with progress
// reports and compiled as it streams in.

/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').BackendInfo} BackendInfo */
/** @typedef {import('./protocol.js').BackendChoice} BackendChoice */
/** The program's JS side; the threaded build adds `initThreadPool`.
 *  @typedef {typeof import('./pkg/filterlens.js') & { initThreadPool?: (threads: number) => Promise<unknown> }} Glue */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/** The program as loaded: its `build`, its JS side (`glue`, once loaded), its memory (for `stats`), and in the
 *  threaded build under `auto`, why WebGPU does not run (`passedOver`: what the browser offered). */
export const program = {
  build: /** @type {'pkg' | 'pkg-threads'} */ ('pkg'),
  glue: /** @type {Glue | null} */ (null),
  memory: /** @type {WebAssembly.Memory | null} */ (null),
  passedOver: /** @type {Pick<BackendInfo, 'adapter' | 'fallback'> | null} */ (null),
};

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

/** The build for this page and backend (see the top of this file). @param {BackendChoice} backend */
export async function chooseBuild(backend) {
  if (!scope.crossOriginIsolated || backend === 'wgpu') return 'pkg';
  if (backend !== 'auto') return 'pkg-threads';
  const offer = await webgpuOffer();
  if (!offer.fallback) return 'pkg';
  program.passedOver = offer;
  return 'pkg-threads';
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

/** Loads the program for `backend`, with Flex's pool of `threads` in the threaded build, and tells the page which
 *  build and how many threads (`cpu`). @param {{ backend: BackendChoice, threads: number }} init
 *  @param {(message: FromWorker) => void} post */
export async function loadProgram({ backend, threads: threadsAsked }, post) {
  program.build = await chooseBuild(backend);
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
  let threads = 1;
  if (program.glue.initThreadPool) {
    threads = threadsAsked;
    await program.glue.initThreadPool(threads); // rayon's workers, nested in this one: tens of milliseconds
  }
  post({ type: 'cpu', threads, build });
}
