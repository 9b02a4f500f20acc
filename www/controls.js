// @ts-check
// The controls: each bound to a setting by its `data-field` (a request field from the catalog, or the page's own
// `filter`, `grid`, `towards`, `transparency` and `backend`). Filled from the catalog, shown from the settings, read
// back through settings.js's one number reader (clamped with a word), and marked where a run refused their value.

import { $, input, select } from './dom.js';
import {
  GRIDS,
  SIZES,
  appliesTo,
  channels,
  classesOf,
  isOwn,
  layersOf,
  maxCrops,
  maxSize,
  modelOf,
  preset,
  readNumber,
} from './settings.js';
import { clearNotes, note } from './status.js';
import { clamp } from './units.js';

/** @typedef {import('./state.js').PageState} PageState */
/** @typedef {HTMLInputElement | HTMLSelectElement} Control */

/** Every control bound to a setting. */
const controls = /** @type {Control[]} */ (Array.from(document.querySelectorAll('[data-field]')));
/** The setting a control is bound to. @param {Control} control */
const nameOf = (control) => /** @type {string} */ (control.dataset.field);
/** The catalog's field of that name, if the request has one. @param {PageState} page @param {string} name */
const fieldOf = (page, name) => page.catalog.fields.find((f) => f.name === name);
/** A slider whose value is the log10 of its setting's (`data-scale="log"`). @param {Control} control */
const isLogSlider = (control) => control.type === 'range' && control.dataset.scale === 'log';

/** What the Show menu offers: with diversity, a grid is that many pictures of the one filter.
 *  @param {PageState} page @param {number} grid */
function showLabel(page, grid) {
  const s = page.settings;
  const what = s.expressions ? 'this objective' : 'this filter';
  if (grid === 1) return what;
  if (s.expressions) return `${grid} ${Number(s.diversity) > 0 ? 'different ' : ''}pictures of this objective`;
  if (Number(s.diversity) > 0) return `${grid} different pictures of this filter`;
  return s.towards >= 0
    ? `${grid} pictures from this filter to filter ${s.towards}`
    : `a grid of ${grid} filters from this one`;
}

/** Fills the menus from the catalog and the page's offers, and gives number boxes their fields' limits.
 *  @param {PageState} page */
export function fillControls(page) {
  for (const size of SIZES) select('size').add(new Option(`${size} px`, String(size)));
  for (const grid of GRIDS) select('grid').add(new Option(showLabel(page, grid), String(grid)));
  for (const model of page.catalog.models) select('model').add(new Option(model.title, model.name));
  for (const control of controls) {
    const field = fieldOf(page, nameOf(control));
    if (
      control instanceof HTMLInputElement &&
      control.type === 'number' &&
      field &&
      (field.kind === 'integer' || field.kind === 'number')
    ) {
      control.min = String(field.min);
      control.max = String(field.max);
    }
  }
}

/** The layer menu's entries: the layers, those named alike up to their first `_` (conv3_1 and conv3_2, block6 and
 *  block6_expand, layer1_0_conv1 and layer1_1) under one heading, where that makes more than one heading.
 *  @param {import('./protocol.js').LayerSpec[]} layers @returns {(HTMLOptionElement | HTMLOptGroupElement)[]} */
function layerMenu(layers) {
  const option = (/** @type {import('./protocol.js').LayerSpec} */ l) =>
    new Option(`${l.name} (${l.channels})`, l.name);
  const block = (/** @type {string} */ name) => name.split('_')[0];
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const l of layers) counts.set(block(l.name), (counts.get(block(l.name)) ?? 0) + 1);
  if ([...counts.values()].filter((n) => n > 1).length < 2) return layers.map(option);
  /** @type {(HTMLOptionElement | HTMLOptGroupElement)[]} */
  const entries = [];
  /** @type {HTMLOptGroupElement | null} */
  let group = null;
  for (const l of layers) {
    const name = block(l.name);
    if (Number(counts.get(name)) < 2) {
      group = null;
      entries.push(option(l));
      continue;
    }
    if (group?.label !== name) {
      group = document.createElement('optgroup');
      group.label = name;
      entries.push(group);
    }
    group.append(option(l));
  }
  return entries;
}

/** The layer slider's stops and the layer menu: the chosen network's layers. @param {PageState} page */
export function showLayers(page) {
  const layers = layersOf(page.catalog, page.settings);
  select('layer-name').replaceChildren(...layerMenu(layers));
  $('layer-stops').replaceChildren(...layers.map((l, i) => new Option(l.name, String(i))));
  input('layer').max = String(layers.length - 1);
  const classes = modelOf(page.catalog, page.settings.model).classifier?.classes ?? [];
  $('class-names').replaceChildren(...classes.map((name) => new Option(name)));
}

/** The class a name (any case) or a number names, of `classes`: its index, or why there is none.
 *  @param {string[]} classes @param {string} text @returns {{ value: number } | { note: string }} */
function classNamed(classes, text) {
  const wanted = text.trim().toLowerCase();
  if (/^\d+$/.test(wanted) && Number(wanted) < classes.length) return { value: Number(wanted) };
  const found = classes.flatMap((name, i) => (name.toLowerCase() === wanted ? [i] : []));
  if (found.length === 1) return { value: found[0] };
  if (found.length > 1) return { note: `'${text.trim()}' names classes ${found.join(' and ')}: type the number` };
  return { note: `no class is named '${text.trim()}'` };
}

/** The value a control shows for its setting. @param {PageState} page @param {Control} control */
function shown(page, control) {
  const s = page.settings;
  const name = nameOf(control);
  if (name === 'layer' && control.type === 'range')
    return String(layersOf(page.catalog, s).findIndex((l) => l.name === s.layer));
  if (isLogSlider(control)) return String(Math.log10(Number(s[name])));
  if (name === 'towards' && s.towards < 0) return control.type === 'range' ? '0' : '';
  if (control.id === 'class-name') return classesOf(page.catalog, s)?.[s.filter] ?? '';
  return String(s[name]);
}

/** Puts the settings into the controls, and shows the rows that apply. @param {PageState} page */
export function showSettings(page) {
  const s = page.settings;
  const maxFilter = channels(page.catalog, s) - 1;
  for (const el of [input('filter'), input('filter-n'), input('towards'), input('towards-n')])
    el.max = String(maxFilter);
  for (const control of controls) {
    const name = nameOf(control);
    if (control instanceof HTMLInputElement && control.type === 'checkbox') control.checked = Boolean(s[name]);
    else if (control instanceof HTMLInputElement && control.type === 'range') {
      // A value outside the slider's range (a seed of 5000, say) leaves the slider at its end.
      control.value = String(clamp(Number(shown(page, control)), Number(control.min), Number(control.max)));
      // What a screen reader says of the slider: the layer's name, not its index; a seed beyond the slider's end.
      const text = name === 'layer' ? s.layer : isLogSlider(control) ? String(s[name]) : shown(page, control);
      if (text === control.value) control.removeAttribute('aria-valuetext');
      else control.setAttribute('aria-valuetext', text);
    } else control.value = shown(page, control);
    const field = fieldOf(page, name);
    const row = control.closest('.row');
    // Diversity pushes a grid's pictures apart: there is nothing to push with one. Accentuation pulls toward a
    // picture of your own: there is none to pull toward from noise (nor in maco mode, which starts from noise).
    if (field && row instanceof HTMLElement) {
      row.hidden =
        !appliesTo(field, s.mode) ||
        (field.name === 'diversity' && s.grid === 1) ||
        (field.name === 'accentuate' && (!page.startImage || s.mode === 'maco'));
    }
  }
  $('row-towards').hidden = s.grid === 1 || Number(s.diversity) > 0 || Boolean(s.expressions);
  $('row-class').hidden = !classesOf(page.catalog, s) || Boolean(s.expressions);
  $('row-preprocess').hidden = !isOwn(s.model);
  // An expression replaces the layer, the filter and the objective's kind (not before ReLU, nor minimise): those
  // stay, out of use.
  for (const id of ['row-layer', 'row-filter', 'objective']) $(id).classList.toggle('unused', Boolean(s.expressions));
  for (const option of select('size').options) option.disabled = Number(option.value) > maxSize(s.grid);
  for (const option of select('grid').options) {
    option.text = showLabel(page, Number(option.value));
    option.disabled = s.mode === 'maco' && maxCrops(Number(option.value)) < 1;
  }
  $('view').classList.toggle('grid', s.grid > 1);
  $('frame').classList.toggle('transparent', s.transparency);
}

/**
 * The value a control holds for its setting, with a word where it was clamped; or, where it is no value at all,
 * the word alone (the control then shows the setting again). Numbers go through settings.js's reader, as a link's.
 * @param {PageState} page @param {Control} control
 * @returns {{ value: string | number | boolean, note?: string } | { note: string }}
 */
function readControl(page, control) {
  const s = page.settings;
  const name = nameOf(control);
  if (control instanceof HTMLInputElement && control.type === 'checkbox') return { value: control.checked };
  if (name === 'layer')
    return { value: control.type === 'range' ? layersOf(page.catalog, s)[Number(control.value)].name : control.value };
  if (name === 'expressions') return { value: control.value.trim() };
  if (control.id === 'class-name') {
    const found = classNamed(classesOf(page.catalog, s) ?? [], control.value);
    return 'value' in found ? found : { note: `${found.note}: it stays ${shown(page, control)}` };
  }
  const field = fieldOf(page, name);
  if (field?.kind === 'choice' || name === 'backend' || name === 'preprocess') return { value: control.value };
  if (name === 'towards' && control.value.trim() === '') return { value: -1 };
  // A logarithmic slider's rate, to two significant digits (10^-1.3 is 0.05, not 0.0501187).
  const text = isLogSlider(control) ? String(Number((10 ** Number(control.value)).toPrecision(2))) : control.value;
  const filter = name === 'filter' || name === 'towards';
  const numeric = field && (field.kind === 'integer' || field.kind === 'number') ? field : null;
  const [kind, lo, hi] = filter
    ? /** @type {const} */ (['integer', 0, channels(page.catalog, s) - 1])
    : numeric
      ? [numeric.kind, numeric.min, numeric.max]
      : /** @type {const} */ (['integer', -Infinity, Infinity]);
  const read = readNumber(text, kind, lo, hi);
  if ('error' in read) return { note: `${name} ${text} is not ${read.error}: it stays ${s[name]}` };
  if (read.asked === undefined) return { value: read.value };
  const why = filter ? `${s.layer} has ${hi + 1} filters` : `allowed: ${lo} to ${hi}`;
  return { value: read.value, note: `${name} ${text} → ${read.value}: ${why}` };
}

/** Calls `onChange(name, value)` with what the visitor set: sliders while they move, number boxes and menus once the
 *  value is complete (Enter, or leaving the box), so typing "300" never runs 3 and 30 on the way.
 *  @param {PageState} page @param {(name: string, value: string | number | boolean) => void} onChange */
export function bindControls(page, onChange) {
  for (const control of controls) {
    const event = control instanceof HTMLInputElement && control.type === 'range' ? 'input' : 'change';
    control.addEventListener(event, () => {
      const read = readControl(page, control);
      clearNotes('input');
      if (read.note) note(read.note, 'info', 'input');
      if (!('value' in read)) return showSettings(page);
      onChange(nameOf(control), read.value);
    });
  }
}

/** A new mode takes its preset (each mode has its own scale of steps, size and jitter), and says what changed.
 *  @param {PageState} page @param {string} mode */
export function switchMode(page, mode) {
  const s = page.settings;
  const next = { ...preset(page.catalog, mode) };
  next.size = Math.min(next.size, maxSize(s.grid));
  const moved = Object.entries(next)
    .filter(([key, value]) => {
      const field = fieldOf(page, key);
      return key in s && s[key] !== value && field && appliesTo(field, s.mode);
    })
    .map(([key, value]) => `${key} ${s[key]} → ${value}`);
  Object.assign(s, next, { mode });
  if (moved.length) note(`${mode} mode takes its usual settings: ${moved.join(', ')}.`, 'info', 'input');
}

/** Marks the controls of `field` as holding what was refused (aria-invalid, an outline), and no other.
 *  @param {string | null} field */
export function markInvalid(field) {
  for (const control of controls) {
    if (nameOf(control) === field) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-errormessage', 'status');
    } else {
      control.removeAttribute('aria-invalid');
      control.removeAttribute('aria-errormessage');
    }
  }
}

/** The label of the control of `field`, as the page names it ("Expression"). @param {string} field */
export function labelOf(field) {
  const control = controls.find((c) => nameOf(c) === field);
  return control ? (document.querySelector(`label[for="${control.id}"]`)?.textContent ?? null) : null;
}
