// @ts-check
// Models of one's own, from ONNX files: opened from the visitor's disk (Open a model…, or dropped on the page) or
// fetched from the model URL a link names (same origin or CORS, with progress, a size cap, and Cache Storage keyed by
// the file's SHA-256). The worker reads them (the core's src/net/onnx); the network menu gains each under its file's
// name. A file opened from disk never leaves the visitor's machine. The files are kept here, so that a new worker (a
// crash, the other build) is handed them again.

import { select } from './dom.js';
import { sha256 } from './sha256.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').OpenedModel} OpenedModel */
/** @typedef {import('./protocol.js').ToWorker} ToWorker */

/** The largest model file the page opens: the file, its weights and the model's copy on the device all live in the
 *  program's 4 GB (the core refuses weights over 1 GiB as f32, said with their size). */
export const MAX_MODEL_BYTES = 512 * 2 ** 20;
/** Where fetched models are kept, by SHA-256. */
const CACHE = 'filterlens-models-v1';

/** The network name the core gives a file (src/net/onnx `import`). @param {string} fileName */
function ownName(fileName) {
  const stem = fileName.replace(/\.onnx$/, '');
  return `onnx:${stem.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** Each model opened, by network name: its file's name and bytes, how it was preprocessed, and its URL (and the
 *  file's SHA-256) where it was fetched from one.
 *  @type {Map<string, { fileName: string, bytes: ArrayBuffer, preprocess: string, url: string, sha256: string }>} */
const files = new Map();

/** Hands a model to the worker to open (a copy: the page keeps the file for a new worker).
 *  @param {(m: ToWorker, transfer?: Transferable[]) => void} post @param {string} name */
function send(post, name) {
  const file = /** @type {NonNullable<ReturnType<typeof files.get>>} */ (files.get(name));
  const bytes = file.bytes.slice(0);
  post({ type: 'open-model', fileName: file.fileName, bytes, preprocess: file.preprocess }, [bytes]);
}

/** Opens `bytes` (a file named `fileName`) with `preprocess`; the worker's answer (a `model` message) registers it.
 *  @param {(m: ToWorker, transfer?: Transferable[]) => void} post @param {string} fileName @param {ArrayBuffer} bytes
 *  @param {string} preprocess @param {{ url?: string, sha256?: string }} [origin] */
export function open(post, fileName, bytes, preprocess, { url = '', sha256: hash = '' } = {}) {
  if (bytes.byteLength > MAX_MODEL_BYTES)
    throw new Error(
      `${fileName} is ${mib(bytes.byteLength)}; the page opens models of at most ${mib(MAX_MODEL_BYTES)}`,
    );
  const name = ownName(fileName);
  files.set(name, { fileName, bytes, preprocess, url, sha256: hash });
  send(post, name);
  return name;
}

/** Opens `name` again with another preprocessing. @param {(m: ToWorker, transfer?: Transferable[]) => void} post
 *  @param {string} name @param {string} preprocess */
export function reopen(post, name, preprocess) {
  const file = files.get(name);
  if (!file || file.preprocess === preprocess) return;
  file.preprocess = preprocess;
  send(post, name);
}

/** A new worker: every model opened so far, opened again there. @param {(m: ToWorker, transfer?: Transferable[]) => void} post */
export function resend(post) {
  for (const name of files.keys()) send(post, name);
}

/** Where `name` came from: its URL and SHA-256 (empty for a file from disk, which a link cannot carry).
 *  @param {string} name */
export const originOf = (name) => files.get(name) ?? null;

/** The model the worker opened, in the page's catalog (replacing one of its name) and the network menu.
 *  @param {PageState} page @param {OpenedModel} opened */
export function register(page, opened) {
  const { catalog } = page;
  const at = catalog.models.findIndex((m) => m.name === opened.model.name);
  if (at >= 0) catalog.models[at] = opened.model;
  else catalog.models.push(opened.model);
  const field = catalog.fields.find((f) => f.name === 'model');
  if (field?.kind === 'choice' && !field.choices.includes(opened.model.name)) field.choices.push(opened.model.name);
  const menu = select('model');
  if (![...menu.options].some((o) => o.value === opened.model.name))
    menu.add(new Option(opened.model.title, opened.model.name));
}

/** @param {number} bytes */
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * The model file at `url` (resolved against the page), from Cache Storage where a copy with the SHA-256 `expected`
 * is there, else fetched (same origin, or a server that allows it by CORS) with `progress(loaded, total)`, at most
 * MAX_MODEL_BYTES, and kept. A link's `expected` hash must match: the file at a URL may have changed since.
 * @param {string} url @param {string} expected @param {(loaded: number, total: number) => void} progress
 * @returns {Promise<{ fileName: string, bytes: ArrayBuffer, sha256: string }>}
 */
export async function fetchModel(url, expected, progress) {
  const address = new URL(url, location.href);
  const fileName = decodeURIComponent(address.pathname.split('/').pop() || 'model.onnx');
  /** Where Cache Storage keeps a file of SHA-256 `hash`. @param {string} hash */
  const key = (hash) => new URL(`./models/sha256-${hash}`, location.href).href;
  const cache = await caches.open(CACHE).catch(() => null);
  if (expected && cache) {
    const kept = await cache.match(key(expected));
    if (kept) return { fileName, bytes: await kept.arrayBuffer(), sha256: expected };
  }
  let response;
  try {
    response = await fetch(address, { mode: 'cors' });
  } catch (e) {
    throw new Error(
      `could not fetch the model at ${address.href}: ${e instanceof Error ? e.message : e} (it must be on this site, or on a server that allows other sites by CORS)`,
    );
  }
  if (!response.ok) throw new Error(`the model at ${address.href} is not there (HTTP ${response.status})`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_MODEL_BYTES)
    throw new Error(
      `the model at ${address.href} is ${mib(declared)}; the page opens models of at most ${mib(MAX_MODEL_BYTES)}`,
    );
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loaded += value.length;
    if (loaded > MAX_MODEL_BYTES) {
      await reader.cancel();
      throw new Error(`the model at ${address.href} is over ${mib(MAX_MODEL_BYTES)}, the most the page opens`);
    }
    chunks.push(value);
    progress(loaded, declared || loaded);
  }
  const bytes = new Uint8Array(loaded);
  chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
  const hash = await sha256(bytes);
  if (expected && hash !== expected)
    throw new Error(
      `the model at ${address.href} is not the one the link was made with (its SHA-256 is ${hash.slice(0, 12)}…, the link's ${expected.slice(0, 12)}…)`,
    );
  await cache?.put(key(hash), new Response(bytes)).catch(() => {}); // a full or absent cache: fetched next time
  return { fileName, bytes: bytes.buffer, sha256: hash };
}
