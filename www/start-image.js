// @ts-check
// Starting from a picture of one's own: chosen or dropped on the picture, decoded here (so a bad file is refused at
// once), handed to the worker, which resizes it for every run until the visitor goes back to noise.

import { $, input } from './dom.js';
import { hideError, note, showError } from './status.js';

/** @typedef {import('./state.js').PageState} PageState */

/**
 * What starting from a picture needs of the page: `post` a message to the worker (with what it transfers), `run`
 * again from the new start, `showSettings` (Accentuate shows only with a picture).
 * @typedef {{ post: (message: import('./protocol.js').ToWorker, transfer?: Transferable[]) => void, run: () => void,
 *   showSettings: () => void }} Hooks
 */

/** The start shown beside the buttons: the picture's name and size, or the seed's noise.
 *  @param {PageState} page @param {Hooks} hooks */
export function showStartImage(page, hooks) {
  const image = page.startImage;
  const thumb = /** @type {HTMLImageElement} */ ($('start-thumb'));
  thumb.hidden = !image;
  $('noise').hidden = !image;
  hooks.showSettings();
  if (image) thumb.src = image.url;
  $('start-name').textContent = image
    ? `${image.name} (${image.width}×${image.height}, centre square)`
    : 'noise (from the seed)';
}

/** Decodes `file` and makes it the start of every run. @param {PageState} page @param {Hooks} hooks
 *  @param {File | undefined} file */
export async function useStartImage(page, hooks, file) {
  if (!file) return;
  let bitmap;
  try {
    if (file.type && !file.type.startsWith('image/')) throw new Error(`it is ${file.type}, not an image`);
    bitmap = await createImageBitmap(file);
  } catch (e) {
    const reason = String(e instanceof Error ? e.message : e).replace(/\.+$/, '');
    showError(`Could not use "${file.name}" as a starting picture: ${reason}. Nothing else changed.`, 'image');
    return;
  }
  hideError('image');
  if (page.startImage) URL.revokeObjectURL(page.startImage.url);
  page.startImage = { name: file.name, width: bitmap.width, height: bitmap.height, url: URL.createObjectURL(file) };
  hooks.post({ type: 'start-image', bitmap }, [bitmap]);
  showStartImage(page, hooks);
  hooks.run();
}

/** Back to the seed's noise. @param {PageState} page @param {Hooks} hooks */
function useNoise(page, hooks) {
  if (!page.startImage) return;
  forgetStartImage(page);
  hooks.post({ type: 'start-image', bitmap: null });
  showStartImage(page, hooks);
  hooks.run();
}

/** Lets go of the picture (a new worker starts without it). @param {PageState} page */
export function forgetStartImage(page) {
  if (page.startImage) URL.revokeObjectURL(page.startImage.url);
  page.startImage = null;
}

/** The Picture… and Noise buttons, the file input, and dropping a file on the picture.
 *  @param {PageState} page @param {Hooks} hooks */
export function bindStartImage(page, hooks) {
  const file = input('image-file');
  $('choose-image').addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    useStartImage(page, hooks, file.files?.[0]);
    file.value = ''; // choosing the same file again still counts
  });
  $('noise').addEventListener('click', () => useNoise(page, hooks));
  const frame = $('frame');
  frame.addEventListener('dragover', (e) => {
    e.preventDefault();
    frame.classList.add('dropping');
  });
  frame.addEventListener('dragleave', () => frame.classList.remove('dropping'));
  frame.addEventListener('drop', (e) => {
    e.preventDefault();
    frame.classList.remove('dropping');
    const dropped = e.dataTransfer?.files?.[0];
    if (dropped && /\.onnx$/i.test(dropped.name)) return; // a model: the page opens it (app.js)
    if (dropped) useStartImage(page, hooks, dropped);
    else note('Drop an image file (PNG, JPEG, …) here to start from it.', 'info', 'image');
  });
}
