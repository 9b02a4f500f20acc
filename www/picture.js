// @ts-check
// The picture on screen: its canvas (drawn by the worker; a new worker gets a new canvas), its size in the column,
// a grid's tiles (the keyboard's ring, clicks that open a tile), its text alternative, and the PNG downloads.

import { $ } from './dom.js';
import { onePictured } from './settings.js';
import { describeRun } from './status.js';
import { clamp } from './units.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {import('./protocol.js').ToWorker} ToWorker */

/** The picture's canvas: its drawing belongs to the worker, so a new worker gets a new canvas. */
let canvas = /** @type {HTMLCanvasElement} */ ($('view'));
/** Whether a grid too wide for its column shows at 1:1 (scrolling in its frame) rather than scaled down to fit. */
let actualSize = false;
/** The tile the keyboard is on (arrow keys move it, Enter opens it). */
let focusedTile = 0;

/** A canvas whose drawing the next worker takes over (it can be handed over once: after the first, a copy of the
 *  element replaces it). @param {boolean} replace */
export function canvasForWorker(replace) {
  if (replace) {
    const fresh = /** @type {HTMLCanvasElement} */ (canvas.cloneNode(false));
    canvas.replaceWith(fresh);
    canvas = fresh;
  }
  return canvas.transferControlToOffscreen();
}

/** Sizes the picture on screen. A grid that fits shows at a whole multiple of its size (pixelated scaling at other
 *  sizes drops pixel rows, and with them strokes of the captions); one too wide is scaled down smoothly to the
 *  column, or shown 1:1 (scrolling) on request; one image fills the column. On a narrow screen the picture stays on
 *  screen while the controls scroll under it, so it takes at most 42% of the height. Before a run's layout is known
 *  the picture takes the room one image of the run's size would, so the page does not jump when it comes.
 *  @param {PageState} page */
export function fitPicture(page) {
  const size = page.settings.size;
  const layout = page.run?.layout ?? { width: size, height: size, tiles: [] };
  const column = /** @type {HTMLElement} */ ($('frame').parentElement).clientWidth || layout.width;
  const narrow = window.matchMedia('(max-width: 820px)').matches;
  const room = narrow ? Math.min(column, (window.innerHeight * 0.42 * layout.width) / layout.height) : column;
  const grid = layout.tiles.length > 1;
  const fits = layout.width <= room;
  const width = !grid
    ? Math.min(room, 4 * layout.width)
    : fits
      ? layout.width * Math.floor(room / layout.width)
      : actualSize
        ? layout.width
        : room;
  canvas.style.width = `${Math.floor(width)}px`;
  canvas.style.height = `${Math.floor((width * layout.height) / layout.width)}px`;
  $('frame').classList.toggle('smooth', width < layout.width);
  const toggle = $('actual-size');
  toggle.hidden = !grid || fits;
  toggle.setAttribute('aria-pressed', String(actualSize));
  placeTileFocus(page);
}

/** The ring around the keyboard's tile, where the canvas has the focus. @param {PageState} page */
function placeTileFocus(page) {
  const ring = $('tile-focus');
  const layout = page.run?.layout;
  ring.hidden = !layout || layout.tiles.length < 2 || document.activeElement !== canvas;
  if (!layout || layout.tiles.length < 2) return;
  const tile = layout.tiles[Math.min(focusedTile, layout.tiles.length - 1)];
  const scale = canvas.clientWidth / layout.width;
  Object.assign(ring.style, {
    left: `${tile.x * scale}px`,
    top: `${tile.y * scale}px`,
    width: `${tile.width * scale}px`,
    height: `${tile.height * scale}px`,
  });
}

/** A new run's layout is in: the keyboard's tile stays within it, the picture takes its size. @param {PageState} page */
export function showLayout(page) {
  const tiles = page.run?.layout?.tiles.length ?? 1;
  focusedTile = Math.min(focusedTile, tiles - 1);
  fitPicture(page);
  describePicture(page);
}

/** The canvas's text alternative: what it shows, and for a grid how to open a tile. @param {PageState} page */
export function describePicture(page) {
  const run = page.run;
  if (!run) return;
  const { layer, filters = [], mode } = run.request;
  const step = run.last ? `, step ${run.last.step} of ${run.last.steps}` : '';
  const what = !filters.length
    ? `What ${describeRun(page, run.request)} responds to (${mode} mode${step})`
    : filters.length === 1
      ? `What filter ${filters[0]} of ${layer} responds to (${mode} mode${step})`
      : onePictured(filters)
        ? `${filters.length} different pictures of what filter ${filters[0]} of ${layer} responds to (${mode} mode${step})`
        : `A grid of what filters ${filters[0]} to ${filters.at(-1)} of ${layer} respond to (${mode} mode${step}); ` +
          `arrow keys choose a tile (now filter ${filters[Math.min(focusedTile, filters.length - 1)]}), Enter opens it`;
  canvas.setAttribute('aria-label', what);
}

/** The picture's own controls: the 1:1 switch, the window's size, a grid's tiles by keyboard and click (`post`
 *  asks the worker which filter a point of the picture shows), and the sticky picture's scroll room on a phone.
 *  @param {PageState} page @param {(message: ToWorker) => void} post */
export function bindPicture(page, post) {
  window.addEventListener('resize', () => fitPicture(page));
  $('actual-size').addEventListener('click', () => {
    actualSize = !actualSize;
    fitPicture(page);
  });
  // The canvas is replaced when the worker restarts: its events are heard on the frame around it.
  const frame = $('frame');
  frame.addEventListener('focusin', () => placeTileFocus(page));
  frame.addEventListener('focusout', () => placeTileFocus(page));
  frame.addEventListener('keydown', (e) => {
    const layout = page.run?.layout;
    if (!layout || layout.tiles.length < 2) return;
    const columns = layout.tiles.filter((t) => t.y === layout.tiles[0].y).length;
    /** @type {Record<string, number>} */
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
    if (e.key in moves) {
      focusedTile = clamp(focusedTile + moves[e.key], 0, layout.tiles.length - 1);
      placeTileFocus(page);
      describePicture(page);
      e.preventDefault();
    } else if (e.key === 'Enter' || e.key === ' ') {
      const tile = layout.tiles[focusedTile];
      post({ type: 'tile', x: tile.x + 1, y: tile.y + 1 });
      e.preventDefault();
    }
  });
  // Clicking a tile of a grid opens that filter on its own.
  frame.addEventListener('click', (e) => {
    const layout = page.run?.layout;
    if (!layout || layout.tiles.length < 2) return;
    const box = canvas.getBoundingClientRect();
    post({
      type: 'tile',
      x: ((e.clientX - box.left) * layout.width) / box.width,
      y: ((e.clientY - box.top) * layout.height) / box.height,
    });
  });
  // On a narrow screen the picture and its status stay at the top while the controls scroll under them: the page
  // keeps that much room at the top when it scrolls a control into view (Tab, Shift+Tab), so focus is never hidden,
  // and a little at the bottom, so a control scrolled up from below is wholly on screen (not cut by a fraction of
  // a pixel).
  const sticky = /** @type {HTMLElement} */ (document.querySelector('.sticky'));
  new ResizeObserver(() => {
    const stuck = getComputedStyle(sticky).position === 'sticky';
    document.documentElement.style.scrollPaddingTop = stuck
      ? `${Math.ceil(sticky.getBoundingClientRect().height) + 8}px`
      : '';
    document.documentElement.style.scrollPaddingBottom = stuck ? '8px' : '';
  }).observe(sticky);
}

/** Saves an exported picture (or animation) of the run on screen under a name that says what it shows.
 *  @param {PageState} page @param {Extract<import('./protocol.js').FromWorker, { type: 'png', bytes: Uint8Array }>} m
 *  @returns {{ name: string, bytes: number }} what was saved */
export function download(page, m) {
  const run = /** @type {import('./state.js').Run} */ (page.run);
  const { model = 'vgg16', layer, filters = [], mode, seed } = run.request;
  const shownFilters = filters.length === 1 ? filters[0] : `${filters[0]}-${filters.at(-1)}`;
  const what = filters.length ? `${layer}-${shownFilters}` : 'objective';
  const stem = `filterlens-${model}-${what}-${mode}-seed${seed}${run.fromImage ? '-own-image' : ''}`;
  const name = m.what === 'animation' ? `${stem}-animation.png` : `${stem}-step${run.last?.step ?? 0}.png`;
  const a = document.createElement('a');
  // The bytes arrive in a transferred (never shared) buffer.
  a.href = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (m.bytes)], { type: 'image/png' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  return { name, bytes: m.bytes.byteLength };
}
