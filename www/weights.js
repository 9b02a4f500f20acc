// @ts-check
// Fetching a network's weights by layer: HTTP byte ranges, a SHA-256 per part checked against the manifest, Cache
// Storage.
//
// The manifest (weights/manifest.json, written by `make weights`) describes each network's f16 file
// (weights/{model}-f16.safetensors, the model named as the catalog names it) and its parts: the
// safetensors header, then one part per layer in depth order, each a byte range with its SHA-256. The bytes a layer
// needs are thus one prefix of the file: the page fetches the prefix its run needs (one `Range` request), starts,
// and fetches the deeper layers after. Each part is checked before use and kept in Cache Storage under a key naming
// its digest, so a second visit downloads nothing and a new file (new digests) is fetched once. A server that
// ignores `Range` sends the whole file, whose parts are taken as they stream in. Every failure is a WeightsError
// with a message meant for the page.

import { sha256 } from './sha256.js';
import { megabytes } from './units.js';

/** @param {unknown} e */
const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/** The page's weights file of a network. @param {string} model */
export const weightsFile = (model) => `${model}-f16.safetensors`;
/** MACO's ImageNet magnitude spectrum (a .npy file), fetched and checked as the weights files are. */
export const SPECTRUM_FILE = 'imagenet-spectrum.npy';
const CACHE_NAME = 'filterlens-weights';

export class WeightsError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'WeightsError';
  }
}

/** What a visitor reads when the server does not deliver a file. @param {string} what @param {number} status */
const unavailable = (what, status) =>
  `The ${what} is ${status === 404 ? 'missing on this site' : 'not available right now'} (HTTP ${status}). ` +
  'Retry in a moment; if it keeps failing, the site is incomplete.';

/** For whoever runs the site, not its visitors: where the weights come from. */
const builderHint = () =>
  console.warn(
    'filterlens: build the site with "make dist" (it runs "make weights"), which puts the weights in dist/weights/.',
  );

/** One piece of the weights file: the header, or a weighted node's tensors (`name` is the node's).
 *  @typedef {{ name: string, start: number, end: number, sha256: string }} Part */
/** The manifest's description of a file; a network's file says how many parts after the header each layer needs.
 *  @typedef {{ file: string, bytes: number, sha256: string, parts: Part[], layers?: Record<string, number> }} FileEntry */
/** @typedef {'cache' | 'network'} Source */

/** The manifest's entry for `file`, its parts checked to tile it, and the manifest's other files.
 *  @param {string | URL} base @param {string} file @returns {Promise<{ entry: FileEntry, files: FileEntry[] }>} */
async function manifestEntry(base, file) {
  const url = new URL('weights/manifest.json', base);
  let response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new WeightsError(`The weights manifest (weights/manifest.json) could not be fetched: ${messageOf(e)}`);
  }
  if (!response.ok) {
    builderHint();
    throw new WeightsError(unavailable('list of weights (weights/manifest.json)', response.status));
  }
  let manifest;
  try {
    manifest = await response.json();
  } catch (e) {
    throw new WeightsError(`The weights manifest (weights/manifest.json) is not valid JSON: ${messageOf(e)}`);
  }
  const entry = (manifest.files || []).find((/** @type {FileEntry} */ f) => f.file === file);
  const digest = (/** @type {string | undefined} */ d) => /^[0-9a-f]{64}$/.test(d || '');
  const parts = entry?.parts;
  const tiled =
    Array.isArray(parts) &&
    parts.length > 1 &&
    parts.every(
      (p, i) =>
        typeof p.name === 'string' && digest(p.sha256) && p.start === (i ? parts[i - 1].end : 0) && p.end > p.start,
    ) &&
    parts.at(-1).end === entry.bytes;
  if (!entry || !Number.isInteger(entry.bytes) || !digest(entry.sha256) || !tiled) {
    throw new WeightsError(
      `The weights manifest does not describe ${file} (its size, sha256 and parts): run "make weights" again.`,
    );
  }
  return { entry, files: manifest.files };
}

/** The Cache Storage key of a part of the file at `url`: the URL, the part's name and its digest.
 *  @param {URL} url @param {Part} part */
const partKey = (url, part) => `${url.href}?part=${part.name}&sha256=${part.sha256}`;

/** A promise with its resolve and reject. @template T */
function deferred() {
  /** @type {(value: T) => void} */
  let resolve = () => {};
  /** @type {(error: Error) => void} */
  let reject = () => {};
  const promise = /** @type {Promise<T>} */ (new Promise((yes, no) => ((resolve = yes), (reject = no))));
  promise.catch(() => {}); // a part nobody waits for may fail quietly; whoever waits sees it
  return { promise, resolve, reject };
}

/**
 * A file of the weights folder, part by part. `Weights.open(base, file)` reads the manifest; `upTo(count, onProgress)` brings the
 * first `count` parts (the header and count − 1 layers), from Cache Storage or the network; `take()` hands out the
 * checked parts in file order, each once.
 */
export class Weights {
  /** @param {URL} url @param {FileEntry} entry @param {Cache | null} cache */
  constructor(url, entry, cache) {
    this.url = url;
    this.entry = entry;
    this.cache = cache;
    /** The checked bytes of each part, once in. @type {(Uint8Array | null)[]} */
    this.bytes = entry.parts.map(() => null);
    /** Where each part came from. @type {(Source | null)[]} */
    this.source = entry.parts.map(() => null);
    /** Bytes of each part received so far (for progress). */
    this.received = entry.parts.map(() => 0);
    /** Each part's arrival, while a download or a cache read brings it. @type {(ReturnType<typeof deferred<void>> | null)[]} */
    this.arriving = entry.parts.map(() => null);
    /** Parts handed out by `take`. */
    this.taken = 0;
  }

  /** The manifest's description of `file` (a network's weights, `weightsFile(model)`, or SPECTRUM_FILE), and Cache
   *  Storage (older copies removed). `base`: the URL the `weights/` folder is relative to.
   *  @param {string | URL} base @param {string} file */
  static async open(base, file) {
    const { entry, files } = await manifestEntry(base, file);
    const url = new URL(`weights/${file}`, base);
    const cache = self.caches ? await self.caches.open(CACHE_NAME).catch(() => null) : null;
    const weights = new Weights(url, entry, cache);
    if (cache) {
      // Copies of what the manifest no longer lists (other digests, the whole-file copies of earlier versions) go;
      // the parts of the manifest's other files (another network's) stay.
      const listed = files.flatMap((f) =>
        Array.isArray(f.parts) ? f.parts.map((p) => partKey(new URL(`weights/${f.file}`, base), p)) : [],
      );
      const current = new Set(listed);
      for (const old of await cache.keys().catch(() => []))
        if (!current.has(old.url)) await cache.delete(old).catch(() => {});
    }
    return weights;
  }

  /** The whole file's length. */
  get fileLength() {
    return this.entry.bytes;
  }

  /** The parts: the header, then a part per layer (named after it). */
  get parts() {
    return this.entry.parts;
  }

  /** The Cache Storage key of part `i`. @param {number} i */
  key(i) {
    return partKey(this.url, this.entry.parts[i]);
  }

  /** Whether the first `count` parts are in. @param {number} count */
  has(count) {
    return this.bytes.slice(0, count).every(Boolean);
  }

  /** The checked parts not handed out yet (`most` of them at most), in file order, each once; stops at the first
   *  part not in. */
  take(most = Infinity) {
    const out = [];
    while (out.length < most && this.taken < this.bytes.length && this.bytes[this.taken]) {
      out.push(/** @type {Uint8Array} */ (this.bytes[this.taken++]));
    }
    return out;
  }

  /**
   * Brings the first `count` parts: from Cache Storage where a checked copy is there, the rest in as few byte-range
   * requests as there are gaps. `onProgress(loaded, total, source)`, ten times a second and at the end, counts the
   * bytes of those parts only. Resolves to where they came from ('network' if any byte did) and how many bytes they
   * hold.
   * @param {number} count @param {(loaded: number, total: number, source: Source) => void} [onProgress]
   * @returns {Promise<{ source: Source, bytes: number }>}
   */
  async upTo(count, onProgress = () => {}) {
    const wanted = this.entry.parts.slice(0, count);
    const total = wanted.at(-1)?.end ?? 0;
    // From the cache only once every part came from it: before they arrive, a first visit's parts are coming over
    // the network.
    /** @returns {Source} */
    const source = () => (this.source.slice(0, count).every((s) => s === 'cache') ? 'cache' : 'network');
    const report = () =>
      onProgress(
        wanted.reduce((n, _, i) => n + this.received[i], 0),
        total,
        source(),
      );
    const timer = setInterval(report, 100);
    try {
      for (let i = 0; i < count; i++) if (!this.bytes[i] && !this.arriving[i]) this.#bringFrom(i, count);
      await Promise.all(this.arriving.slice(0, count).map((a) => a?.promise));
    } finally {
      clearInterval(timer);
    }
    if (!this.has(count)) throw new WeightsError('The weights could not be loaded. Retry to try again.'); // not expected
    report();
    return { source: source(), bytes: total };
  }

  /** Starts bringing part `first` and those after it up to `count` that are neither in nor on their way: each from
   *  the cache where it is there, the others (from the first missing one to the last) in one byte-range request.
   *  @param {number} first @param {number} count */
  #bringFrom(first, count) {
    let last = first;
    while (last + 1 < count && !this.bytes[last + 1] && !this.arriving[last + 1]) last += 1;
    for (let i = first; i <= last; i++) this.arriving[i] = deferred();
    this.#fill(first, last).catch((e) => {
      const error =
        e instanceof WeightsError
          ? e
          : new WeightsError(`The weights could not be loaded: ${e instanceof Error ? e.message : e}`);
      for (let i = first; i <= last; i++) this.#failed(i, error);
    });
  }

  /** Part `i`, unless it is in, failed to arrive: whoever waits for it hears why, and a later call may try again.
   *  @param {number} i @param {Error} error */
  #failed(i, error) {
    if (this.bytes[i]) return;
    this.arriving[i]?.reject(error);
    this.arriving[i] = null;
    this.received[i] = 0;
  }

  /** Parts `first`..=`last`: the cached ones, then the others from the network. @param {number} first @param {number} last */
  async #fill(first, last) {
    const missing = [];
    for (let i = first; i <= last; i++) {
      if (await this.#fromCache(i)) continue;
      missing.push(i);
    }
    // One request from the first missing part to the last (parts cached in between come again: rare).
    if (missing.length) await this.#download(missing[0], /** @type {number} */ (missing.at(-1)));
  }

  /** Part `i` from Cache Storage, if a copy there matches its digest (a damaged copy is removed). @param {number} i */
  async #fromCache(i) {
    if (!this.cache) return false;
    const hit = await this.cache.match(this.key(i)).catch(() => undefined);
    if (!hit) return false;
    const bytes = new Uint8Array(await hit.arrayBuffer());
    const part = this.entry.parts[i];
    if (bytes.length === part.end - part.start && (await sha256(bytes)) === part.sha256) {
      this.#arrived(i, bytes, 'cache');
      return true;
    }
    await this.cache.delete(this.key(i)).catch(() => {});
    return false;
  }

  /** @param {number} i @param {Uint8Array} bytes @param {Source} source */
  #arrived(i, bytes, source) {
    this.bytes[i] = bytes;
    this.source[i] = source;
    this.received[i] = bytes.length;
    this.arriving[i]?.resolve();
    this.arriving[i] = null;
  }

  /** Downloads parts `first`..=`last` with one byte-range request; a server that ignores the range sends the whole
   *  file, whose every part is then taken. @param {number} first @param {number} last */
  async #download(first, last) {
    const { parts, bytes: fileLength } = this.entry;
    const [start, end] = [parts[first].start, parts[last].end];
    let response;
    try {
      response = await fetch(this.url, { cache: 'no-store', headers: { Range: `bytes=${start}-${end - 1}` } });
    } catch (e) {
      throw new WeightsError(`The weights file (weights/${this.entry.file}) could not be fetched: ${messageOf(e)}`);
    }
    if (!response.ok || !response.body) {
      builderHint();
      throw new WeightsError(unavailable('weights file', response.status));
    }
    let at; // the file offset of the body's first byte
    let length; // the file's length, as the server tells it
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('Content-Range') ?? '');
      if (!range || Number(range[1]) !== start)
        throw new WeightsError(`The server answered the weights request with another range (${range?.[0] ?? 'none'}).`);
      at = start;
      length = Number(range[3]);
    } else {
      at = 0; // the whole file
      length = Number(response.headers.get('Content-Length') || fileLength);
    }
    if (length !== fileLength) {
      throw new WeightsError(
        `The weights file on this site is ${length} bytes, not ${fileLength} as the list of weights says: it is truncated or out of date. ` +
          'Retry in a moment; if it keeps failing, the site is incomplete.',
      );
    }
    // The whole file brings every part; keep those nobody has asked for yet too (their arrival is this download's).
    const lastTaken = response.status === 206 ? last : parts.length - 1;
    const extra = [];
    for (let i = last + 1; i <= lastTaken; i++) {
      if (this.bytes[i] || this.arriving[i]) continue;
      this.arriving[i] = deferred();
      extra.push(i);
    }
    try {
      await this.#read(response, at, first, lastTaken, response.status === 206 ? end : fileLength);
    } catch (e) {
      for (const i of extra) this.#failed(i, e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  /** Reads `response`'s body, which starts at file offset `at` and ends at `end`, into parts, checking each as it
   *  completes, up to part `lastTaken`. @param {Response} response @param {number} at @param {number} first
   *  @param {number} lastTaken @param {number} end */
  async #read(response, at, first, lastTaken, end) {
    const { parts, bytes: fileLength } = this.entry;
    const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
    let part = at === 0 ? 0 : first;
    let buffer = new Uint8Array(parts[part].end - parts[part].start);
    let filled = 0;
    const expected = end - at;
    let moved = 0;
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new WeightsError(
          `The weights download broke off after ${megabytes(moved)} of ${megabytes(expected)}: ${messageOf(e)}. Retry to try again.`,
        );
      }
      if (chunk.done) break;
      let value = chunk.value;
      moved += value.length;
      while (value.length) {
        if (part > lastTaken) {
          await reader.cancel();
          throw new WeightsError(
            `The weights file is larger than the list of weights says (${fileLength} bytes): it is damaged or out of date.`,
          );
        }
        const n = Math.min(value.length, buffer.length - filled);
        buffer.set(value.subarray(0, n), filled);
        filled += n;
        value = value.subarray(n);
        if (!this.bytes[part]) this.received[part] = filled;
        if (filled === buffer.length) {
          await this.#check(part, buffer);
          part += 1;
          buffer = part <= lastTaken ? new Uint8Array(parts[part].end - parts[part].start) : new Uint8Array(0);
          filled = 0;
        }
      }
    }
    if (part <= lastTaken) {
      throw new WeightsError(
        `The weights download broke off after ${megabytes(moved)} of ${megabytes(expected)}. Retry to try again.`,
      );
    }
  }

  /** Checks a downloaded part against its digest; keeps it (and caches it) if it matches. @param {number} i @param {Uint8Array} bytes */
  async #check(i, bytes) {
    if (this.bytes[i]) return; // already in (from the cache): the download brought it again
    const part = this.entry.parts[i];
    const digest = await sha256(bytes);
    if (digest !== part.sha256) {
      throw new WeightsError(
        `The weights file is damaged or out of date: its ${part.name} part has SHA-256 ${digest.slice(0, 12)}…, not ${part.sha256.slice(0, 12)}… ` +
          'as the manifest says. Nothing of it was cached; retry to try again.',
      );
    }
    this.#arrived(i, bytes, 'network');
    // A full disk only costs the next visit a download.
    await this.cache
      ?.put(
        this.key(i),
        new Response(/** @type {Uint8Array<ArrayBuffer>} */ (bytes), {
          headers: { 'Content-Type': 'application/octet-stream' },
        }),
      )
      .catch((e) => console.warn('filterlens: could not cache the weights:', e));
  }
}
