// @ts-check
// The page's settings: what a link holds, built from the catalog (the core's one table of layers, modes and
// request fields), plus the page's own fields and overrides, each named here once. Pure functions: the link in,
// settings and the fields it could not use out; settings to a link, and to the run request the worker sends on.

import { clamp } from './units.js';

/** @typedef {import('./protocol.js').Catalog} Catalog */
/** @typedef {import('./protocol.js').Field} Field */
/** @typedef {import('./protocol.js').RunRequest} RunRequest */

/**
 * The request's fields (the catalog's), keyed by name, and the page's own: `filter` (the first filter shown),
 * `grid` (how many consecutive filters), `towards` (a grid interpolating from `filter` to this one; -1: none),
 * `transparency` (each picture shown with its transparency map as alpha), `backend` and `threads`; for a model of
 * one's own, `preprocess` (how it normalises its input) and, where it was fetched from one, `modelUrl` and
 * `modelSha256`. `expressions` holds one objective expression ('' for none), which the request repeats
 * for each picture.
 * @typedef {Record<string, string | number | boolean> & { mode: import('./protocol.js').Mode,
 *   model: import('./protocol.js').NetworkName, layer: string,
 *   filter: number, grid: number, towards: number, expressions: string, backend: import('./protocol.js').BackendChoice,
 *   threads: number, transparency: boolean, steps: number, size: number, preprocess: string, modelUrl: string,
 *   modelSha256: string }} Settings
 */

// The page's overrides of the catalog, by name:
/** Image sizes offered (the core takes 16–1024; these cover the page's grids, the CPU's pace and maco's 256). */
export const SIZES = [64, 128, 224, 256];
/** How many filters a picture shows: one, or a grid of that many consecutive filters optimised as one batch. */
export const GRIDS = [1, 6, 16, 64];
/** Pixels per step (tiles × size²) a grid may ask of the browser's memory: 6 tiles at 224 px, 16 at 128, 64 at 64. */
export const MAX_GRID_PIXELS = 6 * 224 * 224;
/** Lucid's 512 steps take many minutes on a CPU; the page runs the lower end of Lucid's usual 256–512. MACO's 8
 *  crops a step make each step several passes: the page takes 4 (a link may ask for more). */
/** @type {Partial<Record<string, Partial<import('./protocol.js').Preset>>>} */
export const PRESET_OVERRIDES = { lucid: { steps: 256 }, maco: { crops: 4 } };
/** Flex's threads where the page is cross-origin isolated (the threaded build): a link may ask for 1–MAX_THREADS
 *  (for benchmarks); 0, the default and not written into links (it is the visitor's machine, not the picture), takes
 *  the machine's cores up to DEFAULT_THREADS_CAP (beyond that VGG16's convolutions gain little, and each thread
 *  costs a worker). */
export const MAX_THREADS = 16;
const DEFAULT_THREADS_CAP = 8;
/** The threads Flex gets on a machine with `cores` logical cores. @param {Settings} s @param {number} cores */
export const threadsFor = (s, cores) => s.threads || Math.max(1, Math.min(cores, DEFAULT_THREADS_CAP));
/** Names older links used: `step` was the classic step size (in grey levels then as now). */
const LEGACY_NAMES = { step: 'stepSize' };
/** What a visit without a link runs: a lucid grid of six of conv3_1's textures at 64 px, distinct after about half
 *  a minute on a 2-core CPU and done in under a minute (docs/BENCHMARKS.md). A link's missing fields take the defaults below instead, so every
 *  link opens as it always has; the original demo is an example link of its own (index.html). */
export const LANDING = '#mode=lucid&layer=conv3_1&filter=5&grid=6&size=64&steps=64';
/** The original demo: conv3_2, filter 0, classic mode's preset. */
const PAGE_DEFAULTS = {
  filter: 0,
  grid: 1,
  towards: -1,
  transparency: false,
  backend: 'auto',
  threads: 0,
  preprocess: 'torchvision',
  modelUrl: '',
  modelSha256: '',
};
/** How a model of one's own may normalise its input (src/net/onnx `Preprocess`). */
export const PREPROCESSING = ['torchvision', 'signed', 'unit', 'caffe'];

/** Whether `name` is a model of one's own (the core names them `onnx:` and the file's name). @param {string} name */
export const isOwn = (name) => name.startsWith('onnx:');

/** MACO's passes through the network a step may ask of the browser (tiles × crops, each at the preset's crop side):
 *  6 tiles × 4 crops took 860 MB of the program's memory at conv3_2 and 16 × 4 took 2.2 GB of its 4 GB, so the page
 *  stops at 24. */
export const MAX_VIEWS = 24;

/** The most crops a maco step of a grid of `grid` tiles may take here (0: maco cannot show that grid).
 *  @param {number} grid */
export const maxCrops = (grid) => Math.floor(MAX_VIEWS / grid);

/** Keeps a maco run's tiles × crops within MAX_VIEWS (each crop is a pass through the network for every tile): its
 *  grid, then its crops. What it changed. @param {Settings} s
 *  @returns {{ grid?: { from: number, to: number }, crops?: { from: number, to: number } }} */
export function fitMaco(s) {
  /** @type {{ grid?: { from: number, to: number }, crops?: { from: number, to: number } }} */
  const fitted = {};
  if (s.mode !== 'maco') return fitted;
  if (maxCrops(s.grid) < 1) {
    const grid = Math.max(...GRIDS.filter((g) => maxCrops(g) >= 1));
    fitted.grid = { from: s.grid, to: grid };
    s.grid = grid;
  }
  const crops = Number(s.crops);
  if (crops > maxCrops(s.grid)) {
    fitted.crops = { from: crops, to: maxCrops(s.grid) };
    s.crops = maxCrops(s.grid);
  }
  return fitted;
}

/** The largest offered image size a grid of `grid` tiles may use. @param {number} grid */
export const maxSize = (grid) => Math.max(...SIZES.filter((size) => grid * size * size <= MAX_GRID_PIXELS));

/** The network `name` names. @param {Catalog} catalog @param {string} name */
export const modelOf = (catalog, name) =>
  /** @type {import('./protocol.js').ModelEntry} */ (catalog.models.find((m) => m.name === name));

/** The chosen network's layers. @param {Catalog} catalog @param {Settings} s */
export const layersOf = (catalog, s) => modelOf(catalog, s.model).layers;

/** How many filters the chosen layer has. @param {Catalog} catalog @param {Settings} s */
export const channels = (catalog, s) =>
  /** @type {import('./protocol.js').LayerSpec} */ (layersOf(catalog, s).find((l) => l.name === s.layer)).channels;

/** The class names the chosen layer's filters are, where it is the classifier's layer or one after it with a
 *  filter per class (its probabilities); null elsewhere. @param {Catalog} catalog @param {Settings} s */
export function classesOf(catalog, s) {
  const { classifier, layers } = modelOf(catalog, s.model);
  if (!classifier) return null;
  const at = layers.findIndex((l) => l.name === s.layer);
  const reads =
    at >= layers.findIndex((l) => l.name === classifier.layer) && layers[at].channels === classifier.classes.length;
  return reads ? classifier.classes : null;
}

/** The filters a picture shows: `grid` consecutive filters from the chosen one (fewer from the layer's end); with
 *  diversity, `grid` pictures of the chosen filter, pushed apart. @param {Catalog} catalog @param {Settings} s */
export function filtersOf(catalog, s) {
  if (s.expressions || interpolates(s)) return [];
  if (s.grid > 1 && Number(s.diversity) > 0) return Array.from({ length: s.grid }, () => s.filter);
  const first = Math.max(0, Math.min(s.filter, channels(catalog, s) - s.grid));
  return Array.from({ length: s.grid }, (_, i) => first + i);
}

/** Whether the grid interpolates from `filter` to `towards` (Lucid's channel interpolation): a grid of filters,
 *  neither an expression nor diversity. @param {Settings} s */
export const interpolates = (s) => s.towards >= 0 && s.grid > 1 && !s.expressions && !(Number(s.diversity) > 0);

/** Lucid's channel interpolation: `tiles` expressions from filter `from` of `layer` to filter `to`, tile k weighing
 *  them 1 − t and t, t = k / (tiles − 1), in the core's grammar (src/expression.rs `interpolation` writes the same).
 *  @param {string} layer @param {number} from @param {number} to @param {number} tiles */
export function interpolation(layer, from, to, tiles) {
  // f32 arithmetic, as the core's: the same weights, printed the same (shortest round-trip form).
  const f32 = Math.fround;
  return Array.from({ length: tiles }, (_, k) => {
    const t = f32(k / f32(Math.max(tiles - 1, 1)));
    if (t === 0) return `${layer}:${from}`;
    if (t === 1) return `${layer}:${to}`;
    return `${shortest(f32(1 - t))}*${layer}:${from} + ${shortest(t)}*${layer}:${to}`;
  });
}

/** An f32 as Rust prints it: the shortest decimal that reads back as the same f32. @param {number} v */
function shortest(v) {
  for (let digits = 1; digits <= 9; digits++) {
    const text = String(Number(v.toPrecision(digits)));
    if (Math.fround(Number(text)) === v) return text;
  }
  return String(v);
}

/** Whether `field` applies in `mode` (a rate applies to one mode only). @param {Field} field @param {string} mode */
export const appliesTo = (field, mode) => !field.modes || field.modes.includes(/** @type {any} */ (mode));

/** The mode's preset with the page's overrides: the settings a mode sets (its `cropSide`, which no setting
 *  changes, left out). @param {Catalog} catalog @param {string} mode */
export function preset(catalog, mode) {
  const entry = catalog.modes.find((m) => m.name === mode);
  if (!entry) throw new Error(`unknown mode ${mode}`);
  const { cropSide, ...values } = entry.preset;
  return { ...values, ...PRESET_OVERRIDES[mode] };
}

/** Whether a run of `mode` can start from a picture of one's own (the core says: maco's phase cannot hold one).
 *  @param {Catalog} catalog @param {string} mode */
export const startsFromPicture = (catalog, mode) =>
  Boolean(catalog.modes.find((m) => m.name === mode)?.startsFromPicture);

/** How many pictures a run makes. @param {RunRequest} request */
export const picturesOf = (request) => request.filters?.length || request.expressions?.length || 0;

/** Whether a batch is several pictures of one filter (a grid with diversity). @param {number[]} filters */
export const onePictured = (filters) => filters.length > 1 && filters.every((f) => f === filters[0]);

/** Every field's default in `mode`. @param {Catalog} catalog @param {string} mode @returns {Settings} */
export function defaults(catalog, mode) {
  /** @type {Record<string, any>} */
  const s = { ...PAGE_DEFAULTS };
  for (const field of catalog.fields) {
    if (field.kind !== 'number' && field.kind !== 'layer' && field.kind !== 'expressions' && field.default !== null)
      s[field.name] = field.default;
  }
  s.expressions = '';
  s.layer = modelOf(catalog, s.model).defaultLayer;
  s.mode = mode;
  // Every mode's fields keep a value, so a mode switch has one to show; only the mode's own go into a link. Where
  // two modes share a field (lucid's and maco's lr), the first mode's value is the one kept.
  for (const m of [...catalog.modes].reverse()) Object.assign(s, preset(catalog, m.name));
  Object.assign(s, preset(catalog, mode));
  s.size = Math.min(s.size, maxSize(s.grid));
  return /** @type {Settings} */ (s);
}

/** A number as a link writes it: decimal digits, an optional fraction and exponent. `Number()` alone would also
 *  take "", " ", "0x10", "0b1" and "Infinity"'s relatives. */
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
/** @param {string} text @returns {number} the number `text` spells, or NaN */
const numberIn = (text) => (NUMBER.test(text) ? Number(text) : NaN);

/** How much of a link's text a message repeats: a link may be any length, a message stays short. */
const SHOWN_CHARACTERS = 40;
/** `text` as a message shows it: at most SHOWN_CHARACTERS characters (whole code points), and a name that is
 *  empty says so. @param {string} text */
export function shorten(text) {
  const chars = [...text];
  return chars.length > SHOWN_CHARACTERS ? `${chars.slice(0, SHOWN_CHARACTERS).join('')}…` : text;
}
/** How many of the link's unusable fields the page's notice names; the rest it counts. */
export const IGNORED_SHOWN = 5;

/** The page's notice for a link's unusable fields (`ignored` from parseLink): the first IGNORED_SHOWN, then how
 *  many more. @param {string[]} ignored */
export function ignoredNotice(ignored) {
  const named = ignored.slice(0, IGNORED_SHOWN).join('; ');
  const more = ignored.length > IGNORED_SHOWN ? `; and ${ignored.length - IGNORED_SHOWN} more` : '';
  return `The link had settings this page could not use: ${named}${more}.`;
}

/**
 * A value for `field` from a link's text: the value, or why it cannot be used. Numbers outside the field's
 * limits are clamped (and reported). A layer is one of `model`'s.
 * @param {Field} field @param {string} text @param {import('./protocol.js').ModelEntry} model
 * @returns {{ value: string | number | boolean, note?: string } | { error: string }}
 */
function readField(field, text, model) {
  const said = `${field.name}=${shorten(text)}`;
  switch (field.kind) {
    case 'expressions':
      // Checked by the core when the run starts (it names the character where an expression goes wrong).
      return [...text].length <= field.maxChars
        ? { value: text.trim() }
        : { error: `${field.name} is longer than ${field.maxChars} characters` };
    case 'layer':
      return model.layers.some((l) => l.name === text)
        ? { value: text }
        : { error: `${said} is not a layer of ${model.title} (${model.layers.map((l) => l.name).join(', ')})` };
    case 'choice':
      return field.choices.includes(text)
        ? { value: text }
        : { error: `${said} is not one of ${field.choices.join(', ')}` };
    case 'boolean':
      return text === 'true' || text === 'false'
        ? { value: text === 'true' }
        : { error: `${said} is not true or false` };
    case 'integer':
    case 'number': {
      const read = readNumber(text, field.kind, field.min, field.max);
      if ('error' in read) return { error: `${said} is not ${read.error}` };
      return read.asked === undefined
        ? { value: read.value }
        : { value: read.value, note: `${said} is out of range: ${read.value} instead` };
    }
  }
}

/**
 * A number of `kind` from `text`, kept within [lo, hi]: its value (and, where it was clamped, the number asked), or
 * what `text` is not. The link's fields and the page's controls read numbers here alone.
 * @param {string} text @param {'integer' | 'number'} kind @param {number} lo @param {number} hi
 * @returns {{ value: number, asked?: number } | { error: string }}
 */
export function readNumber(text, kind, lo, hi) {
  const v = numberIn(text.trim());
  if (!Number.isFinite(v) || (kind === 'integer' && !Number.isInteger(v)))
    return { error: kind === 'integer' ? 'a whole number' : 'a number' };
  const value = clamp(v, lo, hi);
  return value === v ? { value } : { value, asked: v };
}

/**
 * Settings from a link's hash, e.g. `#mode=classic&model=vgg16&layer=conv3_2&filter=0&grid=1&steps=150&stepSize=2&size=224
 * &seed=0&backend=auto`. Anything missing takes its default (the mode's, for steps, size and rate); anything
 * unusable too, and `ignored` says what and why.
 * @param {Catalog} catalog @param {string} hash
 * @returns {{ settings: Settings, ignored: string[] }}
 */
export function parseLink(catalog, hash) {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  /** @type {string[]} */
  const ignored = [];
  const fields = new Map(catalog.fields.map((f) => [f.name, f]));
  const known = new Set([...Object.keys(PAGE_DEFAULTS), ...fields.keys(), ...Object.keys(LEGACY_NAMES)]);
  // A setting given more than once: the first counts (URLSearchParams.get), the others are named.
  for (const key of new Set(q.keys())) {
    const values = q.getAll(key);
    if (known.has(key) && values.some((v) => v !== values[0]))
      ignored.push(`${key} is given ${values.length} times: only the first counts`);
  }
  for (const [legacy, name] of Object.entries(LEGACY_NAMES)) {
    if (!q.has(legacy)) continue;
    if (q.has(name)) ignored.push(`${legacy} is the old name of ${name}, which the link also has`);
    else q.set(name, /** @type {string} */ (q.get(legacy)));
    q.delete(legacy);
  }
  const modeField = /** @type {Field} */ (fields.get('mode'));
  const mode = q.has('mode')
    ? readField(modeField, /** @type {string} */ (q.get('mode')), catalog.models[0])
    : { value: 'classic' };
  if ('error' in mode) ignored.push(mode.error);
  /** @type {Record<string, any>} */
  const s = defaults(catalog, 'value' in mode ? String(mode.value) : 'classic');

  if (q.has('grid')) {
    const text = /** @type {string} */ (q.get('grid'));
    const grid = numberIn(text);
    if (GRIDS.includes(grid)) s.grid = grid;
    else ignored.push(`grid=${shorten(text)} is not one of ${GRIDS.join(', ')}`);
  }
  const backends = ['auto', ...catalog.backends];
  if (q.has('backend')) {
    const backend = /** @type {string} */ (q.get('backend'));
    if (backends.includes(backend)) s.backend = backend;
    else ignored.push(`backend=${shorten(backend)} is not one of ${backends.join(', ')}`);
  }
  if (q.has('threads')) {
    const text = /** @type {string} */ (q.get('threads'));
    const threads = numberIn(text);
    if (Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS) s.threads = threads;
    else ignored.push(`threads=${shorten(text)} is not a whole number from 1 to ${MAX_THREADS}`);
  }
  if (q.has('preprocess')) {
    const text = /** @type {string} */ (q.get('preprocess'));
    if (PREPROCESSING.includes(text)) s.preprocess = text;
    else ignored.push(`preprocess=${shorten(text)} is not one of ${PREPROCESSING.join(', ')}`);
  }
  if (q.has('modelUrl')) s.modelUrl = /** @type {string} */ (q.get('modelUrl'));
  if (q.has('modelSha256')) {
    const text = /** @type {string} */ (q.get('modelSha256'));
    if (/^[0-9a-f]{64}$/.test(text)) s.modelSha256 = text;
    else ignored.push(`modelSha256=${shorten(text)} is not a SHA-256 (64 hex digits)`);
  }
  if (q.has('transparency')) {
    const text = /** @type {string} */ (q.get('transparency'));
    if (text === '1' || text === '0') s.transparency = text === '1';
    else ignored.push(`transparency=${shorten(text)} is not 1 (shown) or 0`);
  }
  let sizeRead = false;
  for (const field of catalog.fields) {
    const text = q.get(field.name);
    if (field.name === 'mode' || text === null) continue;
    if (!appliesTo(field, s.mode)) {
      ignored.push(`${field.name} does not apply to ${s.mode} mode`);
      continue;
    }
    const read = readField(field, text, modelOf(catalog, s.model));
    const own = field.name === 'model' && isOwn(text);
    if ('error' in read && own) {
      // A model of one's own not opened yet: one with a URL opens (app.js), and the link is read again; a file
      // cannot come.
      ignored.push(
        s.modelUrl
          ? `model=${shorten(text)} is not open yet: it opens from its modelUrl`
          : `model=${shorten(text)} was opened from a file on the machine the link was made on, which a link cannot carry: open it here with "Open a model…", or share a link with its model URL`,
      );
    } else if ('error' in read) {
      ignored.push(read.error);
    } else {
      s[field.name] = read.value;
      // Another network: its own first layer, unless the link names one (the fields come in the catalog's order,
      // the model before the layer).
      if (field.name === 'model') s.layer = modelOf(catalog, s.model).defaultLayer;
      if (field.name === 'size') sizeRead = true;
      // A size the page does not offer is said once, below, whether or not it was also out of the core's range.
      if (read.note && !(field.name === 'size' && !SIZES.includes(s.size))) ignored.push(read.note);
    }
  }
  // How a model of one's own is preprocessed and where it came from belong to it alone.
  if (!isOwn(s.model)) {
    for (const name of /** @type {const} */ (['preprocess', 'modelUrl', 'modelSha256'])) {
      if (q.has(name) && s[name] !== PAGE_DEFAULTS[name])
        ignored.push(`${name} is for a model opened from an ONNX file`);
      s[name] = PAGE_DEFAULTS[name];
    }
  }
  if (!SIZES.includes(s.size)) {
    const nearest = SIZES.reduce((a, b) => (Math.abs(b - s.size) < Math.abs(a - s.size) ? b : a));
    ignored.push(
      `size=${shorten(String(q.get('size')))} is not offered here (${SIZES.join(', ')}): ${nearest} instead`,
    );
    s.size = nearest;
  }
  const fitted = fitMaco(/** @type {Settings} */ (s));
  if (fitted.grid)
    ignored.push(`grid=${fitted.grid.from} is more than maco mode can show here: ${fitted.grid.to} instead`);
  // Only crops the link asked for are worth a word; the page's own number simply fits the grid.
  if (fitted.crops && q.has('crops')) {
    ignored.push(
      `crops=${fitted.crops.from} is more than a grid of ${s.grid} may take a step here: ${fitted.crops.to} instead`,
    );
  }
  if (s.size > maxSize(s.grid)) {
    // Only a size the link asked for is worth a word; the mode's own size simply fits the grid.
    if (sizeRead) ignored.push(`size=${s.size} is too large for a grid of ${s.grid}: ${maxSize(s.grid)} instead`);
    s.size = maxSize(s.grid);
  }
  const max = channels(catalog, /** @type {Settings} */ (s)) - 1;
  for (const name of ['filter', 'towards']) {
    const text = q.get(name);
    if (text === null) continue;
    const read = readNumber(text, 'integer', 0, max);
    if ('error' in read) ignored.push(`${name}=${shorten(text)} is not ${read.error}`);
    else {
      s[name] = read.value;
      if (read.asked !== undefined)
        ignored.push(`${name}=${shorten(text)} is out of range: ${s.layer} has filters 0–${max}`);
    }
  }
  for (const key of new Set(q.keys())) {
    if (known.has(key)) continue;
    ignored.push(
      key === '' ? `=${shorten(/** @type {string} */ (q.get(key)))} has no name` : `${shorten(key)} is not a setting`,
    );
  }
  return { settings: /** @type {Settings} */ (s), ignored };
}

/** The link's hash for `s`: the page's fields and the request's fields that apply to its mode.
 *  @param {Catalog} catalog @param {Settings} s */
export function toLink(catalog, s) {
  const q = new URLSearchParams();
  const first = ['mode', 'model', 'layer'];
  for (const name of first) q.set(name, String(s[name]));
  q.set('filter', String(s.filter));
  q.set('grid', String(s.grid));
  // An interpolation's second filter and an expression only where there is one.
  if (s.towards >= 0) q.set('towards', String(s.towards));
  for (const field of catalog.fields) {
    if (field.name === 'expressions' && !s.expressions) continue;
    if (!first.includes(field.name) && appliesTo(field, s.mode)) q.set(field.name, String(s[field.name]));
  }
  if (isOwn(s.model)) {
    q.set('preprocess', s.preprocess);
    if (s.modelUrl) q.set('modelUrl', s.modelUrl);
    if (s.modelSha256) q.set('modelSha256', s.modelSha256);
  }
  if (s.transparency) q.set('transparency', '1');
  q.set('backend', s.backend);
  if (s.threads) q.set('threads', String(s.threads));
  return `#${q}`;
}

/** The run request for `s`: its filters, and every request field that applies to its mode.
 *  @param {Catalog} catalog @param {Settings} s @returns {RunRequest} */
export function toRequest(catalog, s) {
  /** @type {Record<string, any>} */
  const request = {};
  for (const field of catalog.fields) if (appliesTo(field, s.mode)) request[field.name] = s[field.name];
  // The request takes a layer and filters (with what the objective reads of them), or one expression per picture.
  const expressions = s.expressions
    ? Array.from({ length: s.grid }, () => s.expressions)
    : interpolates(s)
      ? interpolation(s.layer, s.filter, s.towards, s.grid)
      : null;
  if (expressions) {
    delete request.layer;
    delete request.objective;
    request.expressions = expressions;
  } else {
    delete request.expressions;
    request.filters = filtersOf(catalog, s);
  }
  return /** @type {RunRequest} */ (request);
}
