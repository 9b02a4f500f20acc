// @ts-check
// The page's link: the settings read from it (no link: the landing run), with a notice for what it could not use,
// and written back into it, as a new history entry where the visitor went somewhere (so Back returns there).

import { LANDING, ignoredNotice, parseLink, toLink } from './settings.js';
import { clearNotes, note } from './status.js';

/** The last new history entry: what made it, and when (a drag of the layer slider makes one entry, not one a
 *  layer). */
let pushed = { by: '', at: -Infinity };
const PUSH_COALESCE_MS = 1000;

/** The settings of the page's link. @param {import('./protocol.js').Catalog} catalog */
export function readLink(catalog) {
  const { settings, ignored } = parseLink(catalog, location.hash.length > 1 ? location.hash : LANDING);
  clearNotes('link');
  if (ignored.length) note(ignoredNotice(ignored), 'warn', 'link');
  return settings;
}

/** Writes the page's settings into the link: a new history entry where the visitor went somewhere (`push` names
 *  what took them: another layer or network, a tile opened), so Back returns there; else in place.
 *  @param {import('./state.js').PageState} page @param {{ push?: string }} [options] */
export function writeLink(page, { push = '' } = {}) {
  const link = toLink(page.catalog, page.settings);
  if (link === location.hash) return;
  const now = performance.now();
  if (push && (push !== pushed.by || now - pushed.at > PUSH_COALESCE_MS)) history.pushState(null, '', link);
  else history.replaceState(null, '', link);
  if (push) pushed = { by: push, at: now };
}
