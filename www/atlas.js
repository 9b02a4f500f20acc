// @ts-check
// The site's atlases, where it has some (`filterlens atlas`, README "The atlas"): every filter of some layers of a
// network precomputed, in atlas/<network>/, listed in atlas/index.json. For a run the atlas covers (its network, one filter of one of its layers, the same settings), the
// filter's picture shows over the live one the moment the slider moves: a few kB fetched by byte range from the
// layer's file and checked by SHA-256, labelled as precomputed, until the live run ends, or at once where the visitor
// lets the live run refine it (it starts from the atlas picture). The layer view shows the layer's contact sheet;
// a click on a tile opens that filter. Without an atlas for the network the page is as it was.

import { $ } from './dom.js';
import { sha256 } from './sha256.js';
import { startsFromPicture, toRequest } from './settings.js';
import { note, clearNotes } from './status.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */

/** @typedef {{ offset: number, length: number, sha256: string }} AtlasPicture */
/** @typedef {{ x: number, y: number, width: number, height: number }} Rect */
/** @typedef {{ name: string, channels: number, file: string, bytes: number, sha256: string,
 *   pictures: AtlasPicture[], sheet: { file: string, sha256: string, width: number, height: number, tiles: Rect[] } }} AtlasLayer */
/** The atlas's manifest.json (src/atlas/pack.rs `Manifest`).
 *  @typedef {{ format: string, network: string, title: string, size: number, batch: number,
 *   settings: Record<string, unknown>, layers: AtlasLayer[] }} Manifest */

/** The one manifest format this page reads. */
const FORMAT = 'filterlens-atlas/1';
/** Fields of a request that do not change a filter's picture from noise: which picture, and the pull toward a
 *  picture of one's own (a run from noise has none). */
const NOT_SETTINGS = new Set(['model', 'layer', 'filters', 'expressions', 'accentuate']);

/** The networks the site has an atlas of (atlas/index.json, which `make dist` writes: empty without atlases), once.
 *  @type {Promise<Set<string>> | null} */
let index = null;
/** Each network's atlas as fetched (null: the site has none, or one this page cannot read), by network.
 *  @type {Map<string, Promise<Manifest | null>>} */
const manifests = new Map();

/** The network a request is for: the page's requests always name it (settings.js `toRequest`).
 *  @param {RunRequest} request */
const networkOf = (request) => /** @type {string} */ (request.model);

/** Where the site keeps an atlas's file. @param {string} path */
const atlasUrl = (path) => new URL(`atlas/${path}`, document.baseURI);

/** The network's atlas, fetched once; none where the site has none.
 *  @param {string} model @returns {Promise<Manifest | null>} */
function manifestOf(model) {
  index ??= fetch(atlasUrl('index.json'), { cache: 'no-cache' })
    .then((r) => (r.ok ? r.json() : { networks: [] }))
    .then((i) => new Set(/** @type {string[]} */ (i.networks)))
    .catch(() => new Set());
  let manifest = manifests.get(model);
  if (!manifest) {
    manifest = index.then(async (networks) => {
      if (!networks.has(model)) return null;
      const r = await fetch(atlasUrl(`${encodeURIComponent(model)}/manifest.json`), { cache: 'no-cache' });
      const m = r.ok ? /** @type {Manifest} */ (await r.json()) : null;
      if (m?.format !== FORMAT || m.network !== model) {
        console.warn(`filterlens: the site's atlas of ${model} is missing or not one this page reads`);
        return null;
      }
      return m;
    });
    manifest = manifest.catch(() => null);
    manifests.set(model, manifest);
  }
  return manifest;
}

/** The atlas's layer that has `request`'s picture: one filter of one of its layers, every setting the same.
 *  @param {Manifest} manifest @param {RunRequest} request */
export function layerFor(manifest, request) {
  const keys = new Set([...Object.keys(request), ...Object.keys(manifest.settings)]);
  for (const key of keys) {
    if (NOT_SETTINGS.has(key)) continue;
    if (/** @type {Record<string, unknown>} */ (request)[key] !== manifest.settings[key]) return null;
  }
  return manifest.layers.find((l) => l.name === request.layer) ?? null;
}

/** A part of the atlas, `range` of its file (by range request: a server that ignores ranges sends the whole file,
 *  which is cut) or the whole file, checked against its SHA-256: fetched again past the browser's cache once if it
 *  does not match (a stale or damaged copy), refused if it still does not.
 *  @param {URL} url @param {{ offset: number, length: number } | null} range @param {string} digest @param {string} what
 *  @returns {Promise<Uint8Array<ArrayBuffer>>} */
async function checked(url, range, digest, what) {
  const headers = range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : undefined;
  for (const cache of /** @type {RequestCache[]} */ (['default', 'reload'])) {
    const response = await fetch(url, { headers, cache });
    if (!response.ok) throw new Error(`the atlas's ${what} is missing (HTTP ${response.status})`);
    const whole = new Uint8Array(await response.arrayBuffer());
    const bytes = range && response.status !== 206 ? whole.subarray(range.offset, range.offset + range.length) : whole;
    if ((await sha256(bytes)) === digest) return bytes;
  }
  throw new Error(`the atlas's ${what} is damaged (its SHA-256 is not the manifest's)`);
}

/** What the atlas shows now: the run (request and start) it was asked about, the filter whose picture is on view
 *  (its object URL, and its bytes to start from), the layer whose sheet is on view. */
let shown = {
  wanted: '',
  layer: '',
  filter: -1,
  url: '',
  png: /** @type {Uint8Array<ArrayBuffer> | null} */ (null),
  sheetUrl: '',
  sheet: /** @type {AtlasLayer | null} */ (null),
};

/** The run the page's settings make, as runs.js starts it: its request, and whether it starts from a picture.
 *  @param {PageState} page */
function runOf(page) {
  const request = toRequest(page.catalog, page.settings);
  return { request, fromImage: page.startImage !== null && startsFromPicture(page.catalog, request.mode) };
}

/** Takes the atlas picture off the live one. */
export function hidePicture() {
  $('atlas-picture').hidden = true;
  $('atlas-label').hidden = true;
}

/**
 * Shows what the atlas has for the run the page's settings make: its picture over the live one (and the layer
 * view's button), or nothing. Called as a setting changes, before the run starts (a slider's drag waits for the
 * run, not for the atlas), and as a run starts; a reply for settings the visitor has since left is dropped.
 * @param {PageState} page
 */
export async function follow(page) {
  const { request, fromImage } = runOf(page);
  const wanted = JSON.stringify([request, fromImage]);
  if (wanted === shown.wanted) return; // on view, or on its way
  shown.wanted = wanted;
  hidePicture();
  $('atlas-bar').hidden = true;
  const manifest = await manifestOf(networkOf(request));
  const filters = request.filters ?? [];
  const layer = manifest && !fromImage && filters.length === 1 ? layerFor(manifest, request) : null;
  if (shown.wanted !== wanted) return;
  if (!manifest || !layer) return closeLayerView();
  $('atlas-bar').hidden = false;
  if (shown.sheet && shown.sheet.name !== layer.name) await openLayerView(page);
  const filter = filters[0];
  const entry = layer.pictures[filter];
  try {
    const file = atlasUrl(`${encodeURIComponent(manifest.network)}/${layer.file}`);
    const png = await checked(file, entry, entry.sha256, `picture of ${layer.name}:${filter}`);
    if (shown.wanted !== wanted) return;
    clearNotes('atlas');
    URL.revokeObjectURL(shown.url);
    const url = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
    shown = { ...shown, layer: layer.name, filter, url, png };
    const img = /** @type {HTMLImageElement} */ ($('atlas-picture'));
    img.src = url;
    img.alt = `the atlas's picture of ${layer.name} filter ${filter}, precomputed`;
    img.hidden = false;
    $('atlas-label').hidden = false;
  } catch (e) {
    note(`${e instanceof Error ? e.message : e}: the live run shows alone.`, 'warn', 'atlas');
  }
}

/** A run ended: where it is the atlas picture's own run, its picture is the one to see. @param {PageState} page */
export function onRunEnd(page) {
  const request = page.run?.request;
  if (request?.layer === shown.layer && request.filters?.length === 1 && request.filters[0] === shown.filter)
    hidePicture();
}

/** The atlas picture on view, to start a run from (Refine): its PNG bytes, or none. */
export const pictureOnView = () => ($('atlas-picture').hidden ? null : shown.png);

/** The layer view: the run's layer's contact sheet under the picture. @param {PageState} page */
export async function openLayerView(page) {
  const { request } = runOf(page);
  const manifest = await manifestOf(networkOf(request));
  const layer = manifest ? layerFor(manifest, request) : null;
  if (!manifest || !layer) return closeLayerView();
  if (shown.sheet?.name !== layer.name) {
    const { sheet } = layer;
    try {
      const url = atlasUrl(`${encodeURIComponent(manifest.network)}/${sheet.file}`);
      const bytes = await checked(url, null, sheet.sha256, `sheet of ${layer.name}`);
      URL.revokeObjectURL(shown.sheetUrl);
      shown.sheetUrl = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
    } catch (e) {
      note(`${e instanceof Error ? e.message : e}.`, 'warn', 'atlas');
      return closeLayerView();
    }
    shown.sheet = layer;
  }
  const img = /** @type {HTMLImageElement} */ ($('atlas-sheet'));
  img.src = shown.sheetUrl;
  img.alt = `the atlas's ${layer.channels} pictures of ${layer.name}, precomputed: click one to open it`;
  $('atlas-sheet-caption').textContent =
    `${manifest.title} ${layer.name}: its ${layer.channels} filters, precomputed. Click one to open it.`;
  $('atlas-layer').hidden = false;
  $('atlas-open-layer').setAttribute('aria-expanded', 'true');
}

export function closeLayerView() {
  $('atlas-layer').hidden = true;
  $('atlas-open-layer').setAttribute('aria-expanded', 'false');
  URL.revokeObjectURL(shown.sheetUrl);
  shown.sheetUrl = '';
  shown.sheet = null;
}

/** The filter whose tile is under a click on the sheet on view (in the image's displayed pixels), or none.
 *  @param {MouseEvent} e */
export function filterAt(e) {
  const layer = shown.sheet;
  if (!layer) return null;
  const scale = layer.sheet.width / /** @type {HTMLImageElement} */ (e.currentTarget).clientWidth;
  const [x, y] = [e.offsetX * scale, e.offsetY * scale];
  const index = layer.sheet.tiles.findIndex((t) => x >= t.x && x < t.x + t.width && y >= t.y && y < t.y + t.height);
  return index < 0 ? null : { layer: layer.name, filter: index };
}
