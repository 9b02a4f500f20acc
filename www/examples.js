// @ts-check
// Natural examples from the visitor's own pictures: which of them make the filter on view fire most (with where, as
// a heat map over each) and least, beside its visualization. The pictures stay on this machine: the page keeps the
// files, the worker puts each through the network once (a picture at a time, between the run's steps, with progress
// and Stop), and the core keeps for every channel of the layers asked for each picture's mean activation and the
// maps of the first and last; moving the filter slider then only asks which those are. A finished single-filter run
// is checked against the pictures (src/examples/check.rs says how, and why it is a check, not a proof).

import { $, input, select } from './dom.js';
import { FORWARD_SHARE, passMacs } from './estimate.js';
import { filtersOf, interpolates, modelOf } from './settings.js';
import { duration } from './units.js';
import { post } from './worker-client.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').ExampleReply} ExampleReply */
/** @typedef {import('./protocol.js').ExamplesReply} ExamplesReply */

/** What a click on an example does: start the ascent from that picture. @typedef {{ startFrom: (file: File) => void }} Hooks */

/** The side pictures are seen at: ImageNet's, what the built-in networks were trained on. */
export const PASS_SIZE = 224;
/** The side a picture is shown at beside the visualization. */
const THUMB = 96;
/** Decoded thumbnails kept (the top and least of a filter, a grid's strip): a set of a thousand pictures is not
 *  held decoded, only as the files the visitor chose. */
const THUMBS_KEPT = 96;

/**
 * The visitor's set: `files` as chosen (pictures only); `indexed[k]` is the file of the core's picture k (the order
 * they went through the network, the skipped left out); the pass's `id`, network and layers; the skipped files
 * with why; `running` while pictures are on their way.
 */
const set = {
  /** @type {File[]} */
  files: [],
  /** @type {number[]} */
  indexed: [],
  /** @type {{ name: string, reason: string }[]} */
  skipped: [],
  id: 0,
  model: '',
  /** @type {string[]} */
  layers: [],
  sent: 0,
  running: false,
  /** @type {ExamplesReply[]} */
  shown: [],
  shownLayer: '',
  /** @type {string | null} */
  check: null,
  startedAt: 0,
};
let queryId = 0;
let lastQuery = 0;
/** What a click on an example does (bindExamples gives it). */
let hooksKept = /** @type {Hooks} */ ({ startFrom: () => {} });
/** @type {Map<number, Promise<ImageBitmap>>} */
const thumbs = new Map();

/** The layers a pass covers: the one on view, or every layer of the network. @param {PageState} page */
function layersWanted(page) {
  const { model, layer } = page.settings;
  return select('examples-layers').value === 'all' ? modelOf(page.catalog, model).layers.map((l) => l.name) : [layer];
}

/** What the settings show that examples can follow: a layer and its filters (none for an expression or an
 *  interpolation, whose pictures are no single filter's). @param {PageState} page */
function onView(page) {
  const s = page.settings;
  if (s.expressions || interpolates(s)) return null;
  return { model: s.model, layer: s.layer, filters: [...new Set(filtersOf(page.catalog, s))] };
}

/** The cost of a pass, said before it starts: this page's measured pace where it has one.
 *  @param {PageState} page @param {number} pictures */
function cost(page, pictures) {
  const s = page.settings;
  const macs = pictures * passMacs(page.catalog, s.model, layersWanted(page), PASS_SIZE);
  const backend = page.backend?.backend ?? null;
  const ms = page.rates.millis(backend, macs * FORWARD_SHARE);
  const where = layersWanted(page).length > 1 ? 'every layer' : s.layer;
  const time = ms === null ? 'a forward pass each, about a third of a step at 224 px' : `about ${duration(ms)} here`;
  return `${pictures} pictures through ${where} of ${modelOf(page.catalog, s.model).title}: ${time}`;
}

/** Says where the set stands, and which buttons apply. @param {PageState} page */
function showSet(page) {
  const view = onView(page);
  const covered = view && set.model === view.model && set.layers.includes(view.layer);
  const done = set.indexed.length;
  let text;
  if (!set.files.length) text = 'No pictures chosen yet.';
  else if (set.running) {
    const elapsed = performance.now() - set.startedAt;
    const handled = done + set.skipped.length;
    const left = handled > 2 ? ` · ${duration((elapsed / handled) * (set.files.length - handled))} left` : '';
    text = `${handled} of ${set.files.length} pictures through the network${left}…`;
  } else if (covered) {
    const stopped =
      done + set.skipped.length < set.files.length
        ? ` (stopped: ${set.files.length - done - set.skipped.length} not run)`
        : '';
    text = `${done} pictures through ${set.layers.length > 1 ? 'every layer' : set.layers[0]}${stopped}.`;
  } else text = `${cost(page, set.files.length)}.`;
  if (set.skipped.length) {
    const named = set.skipped.slice(0, 3).map((s) => `${s.name} (${s.reason})`);
    const more = set.skipped.length > 3 ? ` and ${set.skipped.length - 3} more` : '';
    text += ` Skipped ${set.skipped.length}: ${named.join(', ')}${more}.`;
  }
  $('examples-status').textContent = text;
  const bar = /** @type {HTMLProgressElement} */ ($('examples-progress'));
  bar.hidden = !set.running;
  bar.max = Math.max(1, set.files.length);
  bar.value = done + set.skipped.length;
  $('examples-run').hidden = !set.files.length || set.running || Boolean(covered) || !view;
  $('examples-stop').hidden = !set.running;
  $('examples-results').hidden = !covered || !done;
}

/** A new set of files (pictures only; the rest are left out, and counted). @param {PageState} page @param {File[]} files */
function choose(page, files) {
  const pictures = files.filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|bmp|avif)$/i.test(f.name));
  stopPass();
  set.id += 1; // what the worker still says of the last set is not about this one
  Object.assign(set, { files: pictures, indexed: [], skipped: [], model: '', layers: [], shown: [], check: null });
  for (const bitmap of thumbs.values())
    bitmap.then(
      (b) => b.close(),
      () => {},
    );
  thumbs.clear();
  showSet(page);
  const left = files.length - pictures.length;
  if (left) $('examples-status').textContent += ` (${left} files that are not pictures left out.)`;
}

/** Puts the set through the network for the layers wanted. @param {PageState} page */
function runPass(page) {
  const view = onView(page);
  if (!view || !set.files.length) return;
  set.id += 1;
  Object.assign(set, {
    model: view.model,
    layers: layersWanted(page),
    indexed: [],
    skipped: [],
    sent: set.files.length,
    running: true,
    shown: [],
    check: null,
    startedAt: performance.now(),
  });
  post({ type: 'examples-begin', id: set.id, model: set.model, layers: set.layers, size: PASS_SIZE });
  set.files.forEach((file, picture) => post({ type: 'examples-picture', id: set.id, picture, file }));
  showSet(page);
}

/** Stop: the pictures already through stay indexed. */
function stopPass() {
  if (!set.running) return;
  set.running = false;
  post({ type: 'examples-stop', id: set.id });
}

/** Asks which pictures are the examples of what is on view (where the set covers it). @param {PageState} page */
export function follow(page) {
  showSet(page);
  const view = onView(page);
  if (!view || set.model !== view.model || !set.layers.includes(view.layer) || !set.indexed.length) return;
  queryId += 1;
  lastQuery = performance.now();
  post({ type: 'examples-of', id: queryId, layer: view.layer, filters: view.filters });
}

/** A run ended: a finished one of a single filter is checked against the set. @param {PageState} page */
export function onRunEnd(page) {
  set.check = null;
  $('examples-check').textContent = '';
  const view = onView(page);
  if (!view || view.filters.length !== 1 || page.settings.grid !== 1 || !set.indexed.length) return;
  if (set.model !== view.model || !set.layers.includes(view.layer)) return;
  queryId += 1;
  post({ type: 'examples-check', id: queryId });
}

/** The worker's messages about the set. @param {PageState} page @param {FromWorker} m */
export function onMessage(page, m) {
  if (m.type === 'examples-progress') {
    if (m.id !== set.id) return;
    if (m.error) {
      set.running = false;
      $('examples-status').textContent = `Could not put the pictures through the network: ${m.error}.`;
      return;
    }
    if (m.picture === null) return;
    if (m.skipped) set.skipped.push({ name: set.files[m.picture].name, reason: m.skipped.replace(/\.+$/, '') });
    else set.indexed.push(m.picture);
    if (set.indexed.length + set.skipped.length >= set.sent) set.running = false;
    // The ranking grows with the pass: shown again at most every second, and at its end.
    if (!set.running || performance.now() - lastQuery > 1000) follow(page);
    else showSet(page);
  } else if (m.type === 'examples') {
    if (m.id !== queryId) return;
    set.shown = m.filters;
    set.shownLayer = m.layer;
    draw(page);
  } else if (m.type === 'examples-check') {
    if (m.id !== queryId) return;
    set.check = m.check ? `Checked against your pictures: it ${m.check.sentence}.` : (m.error ?? null);
    $('examples-check').textContent = set.check ?? '';
  }
}

/** The set's picture `picture` (the core's number), decoded once and kept small. @param {number} picture */
function thumbnail(picture) {
  const file = set.files[set.indexed[picture]];
  let kept = thumbs.get(picture);
  if (kept) {
    thumbs.delete(picture);
    thumbs.set(picture, kept); // most recently used last
    return kept;
  }
  kept = createImageBitmap(file).then((full) => {
    const side = Math.min(full.width, full.height);
    const square = new OffscreenCanvas(THUMB, THUMB);
    const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (square.getContext('2d'));
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(full, (full.width - side) / 2, (full.height - side) / 2, side, side, 0, 0, THUMB, THUMB);
    full.close();
    return square.transferToImageBitmap();
  });
  thumbs.set(picture, kept);
  for (const [old, bitmap] of thumbs) {
    if (thumbs.size <= THUMBS_KEPT) break;
    thumbs.delete(old);
    bitmap.then(
      (b) => b.close(),
      () => {},
    );
  }
  return kept;
}

/** One example as a button (a click starts the ascent from it): the picture, its map as heat over it where maps
 *  are on, its value and its file's name (in a grid's strip, after its tile's filter).
 *  @param {ExampleReply} example @param {Hooks} hooks @param {string} label @param {boolean} [inStrip] */
function tile(example, hooks, label, inStrip = false) {
  const file = set.files[set.indexed[example.picture]];
  const item = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.title = `${file.name}: ${label} ${example.value.toFixed(2)}. Start the ascent from this picture`;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = THUMB;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${file.name}, ${label} ${example.value.toFixed(2)}`);
  button.append(canvas);
  button.addEventListener('click', () => hooks.startFrom(file));
  const caption = document.createElement('span');
  const filter = inStrip ? `${label.split(':').pop()}: ` : '';
  caption.textContent = `${filter}${example.value.toFixed(2)} · ${file.name}`;
  item.append(button, caption);
  thumbnail(example.picture).then(
    (bitmap) => paint(canvas, bitmap, example),
    () => (caption.textContent = `${file.name}: no longer readable`),
  );
  return item;
}

/** The thumbnail, and over it the map's heat colours stretched smoothly to cover it.
 *  @param {HTMLCanvasElement} canvas @param {ImageBitmap} bitmap @param {ExampleReply} example */
function paint(canvas, bitmap, example) {
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.drawImage(bitmap, 0, 0);
  if (!input('examples-maps').checked || example.side < 2) return;
  const heat = new OffscreenCanvas(example.side, example.side);
  const data = new ImageData(Uint8ClampedArray.from(example.heat), example.side, example.side);
  /** @type {OffscreenCanvasRenderingContext2D} */ (heat.getContext('2d')).putImageData(data, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(heat, 0, 0, THUMB, THUMB);
}

/** Shows the examples last asked for: one filter's top and least, or a grid's top picture per tile.
 *  @param {PageState} page */
function draw(page) {
  const [first] = set.shown;
  const grid = set.shown.length > 1;
  const top = $('examples-top');
  const bottom = $('examples-bottom');
  const strip = $('examples-strip');
  const name = `${set.shownLayer}:${first?.filter ?? ''}`;
  top.replaceChildren(...(grid || !first ? [] : first.top.map((e) => tile(e, hooksKept, name))));
  bottom.replaceChildren(...(grid || !first ? [] : first.bottom.map((e) => tile(e, hooksKept, name))));
  strip.replaceChildren(
    ...(grid
      ? set.shown.flatMap((f) =>
          f.top.slice(0, 1).map((e) => tile(e, hooksKept, `${set.shownLayer}:${f.filter}`, true)),
        )
      : []),
  );
  for (const id of ['examples-top-title', 'examples-top', 'examples-bottom-title', 'examples-bottom'])
    $(id).hidden = grid;
  $('examples-strip-title').hidden = !grid;
  $('examples-strip').hidden = !grid;
  $('examples-check').textContent = grid ? '' : (set.check ?? '');
  showSet(page);
}

/** The worker that held the set is gone (a crash): its pass went with it. @param {PageState} page */
export function forget(page) {
  Object.assign(set, { indexed: [], skipped: [], model: '', layers: [], running: false, shown: [], check: null });
  showSet(page);
}

/** The set as tests read it: the files' names by the core's order, the skipped, what is on view (its layer's).
 *  @returns {{ indexed: string[], skipped: string[], running: boolean, layer: string, shown: ExamplesReply[], check: string | null }} */
export const view = () => ({
  indexed: set.indexed.map((k) => set.files[k].name),
  skipped: set.skipped.map((s) => s.name),
  running: set.running,
  layer: set.shownLayer,
  shown: set.shown,
  check: set.check,
});

/** The panel's controls: choosing pictures or a folder, dropping them, running, stopping, the maps' switch.
 *  @param {PageState} page @param {Hooks} hooks */
export function bindExamples(page, hooks) {
  hooksKept = hooks;
  for (const [button, field] of [
    ['examples-choose', 'examples-files'],
    ['examples-folder', 'examples-dir'],
  ]) {
    $(button).addEventListener('click', () => input(field).click());
    input(field).addEventListener('change', () => {
      choose(page, [...(input(field).files ?? [])]);
      input(field).value = ''; // choosing the same pictures again still counts
    });
  }
  const panel = $('examples');
  panel.addEventListener('dragover', (e) => {
    e.preventDefault();
    e.stopPropagation();
  });
  panel.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    choose(page, [...(e.dataTransfer?.files ?? [])]);
  });
  $('examples-run').addEventListener('click', () => runPass(page));
  $('examples-stop').addEventListener('click', () => {
    stopPass();
    showSet(page);
  });
  select('examples-layers').addEventListener('change', () => showSet(page));
  input('examples-maps').addEventListener('change', () => draw(page));
  showSet(page);
}
