// @ts-check
// Junk links, property-based: random and adversarial hashes (huge and broken numbers, unknown and repeated keys,
// broken percent-encoding, 100 kB hashes, script text) through parseLink without a browser, then the worst of
// them through the page itself. Whatever the link, the settings are valid, what could not be used is named, the
// link the page writes back round-trips, and nothing in the link runs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ROOT, browserFor, openContext, openPage, servedSite } from './helpers.mjs';
import {
  GRIDS,
  IGNORED_SHOWN,
  MAX_THREADS,
  PREPROCESSING,
  SIZES,
  appliesTo,
  channels,
  ignoredNotice,
  maxSize,
  parseLink,
  shorten,
  toLink,
} from '../../www/settings.js';

/** @type {import('../../www/protocol.js').Catalog} */
const catalog = JSON.parse(readFileSync(path.join(ROOT, 'www/catalog.json'), 'utf8'));
const FIELDS = new Map(catalog.fields.map((f) => [f.name, f]));
const BACKENDS = ['auto', ...catalog.backends];
const SEED = 20_240_612;

// ---------------------------------------------------------------- what a link may hold

const SCRIPTS = [
  '<script>window.pwned=1</script>',
  'javascript:window.pwned=1',
  '"><img src=x onerror="window.pwned=1">',
  "'><svg onload=window.pwned=1>",
  '${window.pwned=1}',
];
const NUMBERS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e308',
  '1e999',
  '-1e999',
  '2e-400',
  '-1',
  '-0',
  '0',
  '0.5',
  '1.5',
  '-3.7',
  '0x10',
  '0b101',
  '0o7',
  '1_000',
  '١٢',
  '9007199254740993',
  '4294967295',
  '4294967296',
  '1e3',
  '.5',
  '5.',
  '+7',
  '++1',
];
const WORDS = [
  '%',
  '%%',
  '%E0%A4%A',
  '%ZZ',
  '%00',
  '%2526',
  '%C0%AF',
  '%ED%A0%80',
  '+',
  '&',
  '=',
  '==',
  '#',
  'true',
  'TRUE',
  'false',
  'null',
  'undefined',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'toString',
  '\u0000',
  '\u202e',
  '\ud800',
  'é',
];
/** Every value some field takes, so that junk and good values mix. */
const GOOD = [
  ...catalog.fields.flatMap((f) =>
    f.kind === 'choice'
      ? f.choices
      : f.kind === 'boolean'
        ? ['true', 'false']
        : f.kind === 'layer'
          ? catalog.models.flatMap((m) => m.layers.map((l) => l.name))
          : f.kind === 'expressions'
            ? ['conv4_3:20 + 0.5*conv4_3:33', 'neuron(conv1:3)']
            : [String(f.min), String(f.max)],
  ),
  ...BACKENDS,
  ...SIZES.map(String),
  ...GRIDS.map(String),
  '0',
  '63',
  '255',
  '511',
  '150',
  '2',
  '0.05',
];
const KEYS = [...FIELDS.keys(), 'filter', 'grid', 'backend', 'threads', 'step'];

const value = fc.oneof(
  { arbitrary: fc.constantFrom(...GOOD), weight: 4 },
  { arbitrary: fc.constantFrom(...NUMBERS, ...WORDS, ...SCRIPTS), weight: 4 },
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
);
const key = fc.oneof(
  { arbitrary: fc.constantFrom(...KEYS), weight: 8 },
  fc.constantFrom(...KEYS).map((k) => k.toUpperCase()),
  fc.constantFrom(...KEYS).map((k) => encodeURIComponent(k).replace(/e/, '%65')), // the same key, escaped
  fc.constantFrom('', '__proto__', 'constructor', 'hasOwnProperty', 'blur', '%', '%E0%A4%A', ...SCRIPTS),
  fc.string({ maxLength: 12 }),
);
const pair = fc.oneof(
  { arbitrary: fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), weight: 8 },
  key, // no "=": an empty value
  fc.tuple(key, value, value).map(([k, a, b]) => `${k}=${a}=${b}`),
);
/** A hash as a visitor might paste or a page might link it: up to a dozen pairs, any separators. */
const hash = fc
  .tuple(
    fc.constantFrom('#', '', '##', '#&'),
    fc.array(pair, { maxLength: 12 }),
    fc.constantFrom('&', '&', '&', '&&', ';'),
  )
  .map(([start, pairs, sep]) => start + pairs.join(sep));
/** About 100 kB: one huge value or key, thousands of keys, thousands of repeats, nothing but separators. */
const huge = fc
  .tuple(
    fc.constantFrom(
      `layer=${'x'.repeat(100_000)}`,
      `${'k'.repeat(100_000)}=1`,
      Array.from({ length: 10_000 }, (_, i) => `junk${i}=${i}`).join('&'),
      Array.from({ length: 10_000 }, (_, i) => `filter=${i}`).join('&'),
      'seed=1&'.repeat(14_000),
      '%'.repeat(100_000),
      '&'.repeat(100_000),
      `steps=${'9'.repeat(100_000)}`,
      `filter=0.${'0'.repeat(100_000)}1`,
      `mode=${'%E0%A4%A'.repeat(12_000)}`,
      `${SCRIPTS[0].repeat(3_000)}=${SCRIPTS[2].repeat(3_000)}`,
    ),
    hash,
  )
  .map(([big, small]) => `#${small.replace(/^#*/, '')}&${big}`);

// ---------------------------------------------------------------- what must hold of the answer

/** Why `s` is not valid settings (none: valid). @param {Record<string, any>} s */
function problems(s) {
  const out = [];
  for (const f of catalog.fields) {
    const v = s[f.name];
    if (f.kind === 'choice' && !f.choices.includes(v)) out.push(`${f.name}=${v}`);
    if (f.kind === 'boolean' && typeof v !== 'boolean') out.push(`${f.name}=${v}`);
    if (
      (f.kind === 'integer' || f.kind === 'number') &&
      !(typeof v === 'number' && Number.isFinite(v) && v >= f.min && v <= f.max)
    ) {
      out.push(`${f.name}=${v} outside ${f.min}–${f.max}`);
    }
    if (f.kind === 'integer' && !Number.isInteger(v)) out.push(`${f.name}=${v} is not whole`);
    if (f.kind === 'layer' && !catalog.models.find((m) => m.name === s.model)?.layers.some((l) => l.name === v))
      out.push(`${f.name}=${v} for ${s.model}`);
    if (f.kind === 'expressions' && !(typeof v === 'string' && v === v.trim() && [...v].length <= f.maxChars))
      out.push(`${f.name}=${v}`);
  }
  if (out.length) return out; // the filter's range depends on the network and the layer
  if (!Number.isInteger(s.filter) || s.filter < 0 || s.filter >= channels(catalog, /** @type {any} */ (s)))
    out.push(`filter=${s.filter} for ${s.layer}`);
  if (!Number.isInteger(s.towards) || s.towards < -1 || s.towards >= channels(catalog, /** @type {any} */ (s)))
    out.push(`towards=${s.towards} for ${s.layer}`);
  if (!GRIDS.includes(s.grid)) out.push(`grid=${s.grid}`);
  if (!SIZES.includes(s.size) || s.size > maxSize(s.grid)) out.push(`size=${s.size} for grid ${s.grid}`);
  if (!BACKENDS.includes(s.backend)) out.push(`backend=${s.backend}`);
  if (!Number.isInteger(s.threads) || s.threads < 0 || s.threads > MAX_THREADS) out.push(`threads=${s.threads}`);
  if (typeof s.transparency !== 'boolean') out.push(`transparency=${s.transparency}`);
  if (!PREPROCESSING.includes(s.preprocess)) out.push(`preprocess=${s.preprocess}`);
  if (typeof s.modelUrl !== 'string') out.push(`modelUrl=${s.modelUrl}`);
  if (!/^([0-9a-f]{64})?$/.test(s.modelSha256)) out.push(`modelSha256=${s.modelSha256}`);
  const own = ['preprocess', 'modelUrl', 'modelSha256'];
  const known = new Set([...FIELDS.keys(), 'filter', 'grid', 'towards', 'transparency', 'backend', 'threads', ...own]);
  for (const k of Object.keys(s)) if (!known.has(k)) out.push(`unexpected key ${k}`);
  if (Object.getPrototypeOf(s) !== Object.prototype) out.push('a changed prototype');
  return out;
}

/** Whether the settings took `text` for `name` (a loose reading: a value equal to the default counts as used).
 *  @param {import('../../www/settings.js').Settings} settings @param {string} name @param {string} text
 *  @param {URLSearchParams} q @returns {boolean} */
function took(settings, name, text, q) {
  if (name === 'step') return !q.has('stepSize') && took(settings, 'stepSize', text, q);
  const field = FIELDS.get(name);
  if (field && !appliesTo(field, settings.mode)) return false;
  if (name === 'backend' || field?.kind === 'choice' || field?.kind === 'layer') return settings[name] === text;
  if (name === 'preprocess' || name === 'modelUrl' || name === 'modelSha256') return settings[name] === text;
  if (field?.kind === 'boolean') return String(settings[name]) === text;
  if (field?.kind === 'expressions') return settings[name] === text.trim();
  if (field || name === 'filter' || name === 'grid' || name === 'towards' || name === 'threads')
    return text.trim() !== '' && Number(text) === settings[name];
  return false; // not a setting
}

/** Every check of one hash; returns the parse. @param {string} h */
function check(h) {
  const parsed = parseLink(catalog, h);
  const { settings, ignored } = parsed;
  assert.deepEqual(problems(settings), [], `settings from ${JSON.stringify(h.slice(0, 300))}`);
  // Everything the hash set but the settings do not hold is named.
  const q = new URLSearchParams(h.replace(/^#/, ''));
  const keys = [...new Set(q.keys())];
  for (const k of keys.length > 200 ? keys.filter((_, i) => i % Math.ceil(keys.length / 200) === 0) : keys) {
    if (q.getAll(k).every((v) => took(settings, k, v, q))) continue;
    const named = k === '' ? 'has no name' : shorten(k).replace(/…$/, '');
    assert.ok(
      ignored.some((i) => i.includes(named)),
      `${JSON.stringify(k.slice(0, 80))} unused but not named in ${JSON.stringify(ignored.slice(0, 20))}`,
    );
  }
  // What is said stays short, whatever the link's length.
  for (const i of ignored) assert.ok(i.length <= 200, `a message of ${i.length} characters`);
  assert.ok(ignoredNotice(ignored).length <= (IGNORED_SHOWN + 1) * 200, 'the notice is bounded');
  // The page's link for these settings gives them back, and nothing is ignored in it.
  const link = toLink(catalog, settings);
  assert.deepEqual(parseLink(catalog, link), { settings, ignored: [] }, `round trip of ${link}`);
  assert.equal(toLink(catalog, parseLink(catalog, link).settings), link);
  return parsed;
}

/** fc.assert, with a report cut short: a counterexample may be 100 kB.
 *  @param {import('fast-check').IProperty<any>} property @param {import('fast-check').Parameters<any>} params */
function holds(property, params) {
  const out = fc.check(property, params);
  if (out.failed) assert.fail(fc.defaultReportMessage(out).slice(0, 4000));
}

test('parseLink: any hash gives valid settings, names what it could not use, and round-trips', (t) => {
  let runs = 0;
  let ignoredSeen = 0;
  holds(
    fc.property(hash, (h) => {
      runs += 1;
      ignoredSeen += check(h).ignored.length;
      assert.equal({}.constructor, Object, 'no prototype was touched');
    }),
    { seed: SEED, numRuns: 2000 },
  );
  t.diagnostic(`${runs} random hashes, ${ignoredSeen} unusable fields named`);
});

test('parseLink: 100 kB hashes are quick, and what the page says of them stays short', (t) => {
  let runs = 0;
  let slowest = 0;
  holds(
    fc.property(huge, (h) => {
      runs += 1;
      const start = performance.now();
      const { ignored } = check(h);
      slowest = Math.max(slowest, performance.now() - start);
      const notice = ignoredNotice(ignored);
      if (ignored.length > IGNORED_SHOWN)
        assert.match(notice, new RegExp(`; and ${ignored.length - IGNORED_SHOWN} more\\.$`));
    }),
    { seed: SEED, numRuns: 60 },
  );
  t.diagnostic(`${runs} hashes of about 100 kB; slowest check ${slowest.toFixed(0)} ms`);
  assert.ok(slowest < 2000, `slowest ${slowest} ms`);
});

test('parseLink: the hand-written worst cases', () => {
  const cases = {
    '#filter=1&filter=2': ['filter is given 2 times'],
    '#step=3&stepSize=4': ['step is the old name of stepSize'],
    '#=5&&&': ['=5 has no name'],
    '#filter=&steps=%20&seed=0x10': ['filter= is not', 'steps=  is not', 'seed=0x10 is not'],
    '#layer=%E0%A4%A': ['layer=\ufffd%A is not a layer of VGG16'],
    [`#layer=${'x'.repeat(100_000)}`]: [`layer=${'x'.repeat(40)}… is not a layer of VGG16`],
  };
  for (const [h, words] of Object.entries(cases)) {
    const { ignored } = check(h);
    for (const word of words)
      assert.ok(
        ignored.some((i) => i.includes(word)),
        `${word} in ${JSON.stringify(ignored)}`,
      );
  }
  // The mode's own size fits a grid without a word; a size the link asked for is named.
  assert.deepEqual(parseLink(catalog, '#grid=64').ignored, []);
  assert.equal(parseLink(catalog, '#grid=64').settings.size, 64);
  assert.match(parseLink(catalog, '#grid=64&size=224').ignored.join(), /size=224 is too large for a grid of 64/);
  const many = Array.from({ length: 12 }, (_, i) => `junk${i}=1`);
  assert.equal(
    ignoredNotice(parseLink(catalog, `#${many.join('&')}`).ignored),
    'The link had settings this page could not use: junk0 is not a setting; junk1 is not a setting; junk2 is not a ' +
      'setting; junk3 is not a setting; junk4 is not a setting; and 7 more.',
  );
});

// ---------------------------------------------------------------- the page itself

const site = servedSite();

/** The worst by hand, and a fixed sample of the random ones. */
const NASTY = [
  `layer=${SCRIPTS[0]}&filter=${SCRIPTS[2]}&${SCRIPTS[3]}=1`,
  `mode=${SCRIPTS[1]}&backend=${SCRIPTS[1]}&seed=${SCRIPTS[4]}`,
  'layer=%E0%A4%A&filter=%&steps=%ZZ&seed=%00&%E0%A4%A=1',
  'filter=1e999&steps=NaN&size=Infinity&seed=-1&jitter=0.5&grid=-0&stepSize=-Infinity&lr=1e-999',
  'filter=1&filter=2&mode=lucid&mode=classic&step=3&stepSize=4',
  '__proto__=1&constructor=x&toString=y&=5&&&',
  `layer=${'x'.repeat(100_000)}`,
  Array.from({ length: 10_000 }, (_, i) => `junk${i}=${i}`).join('&'),
  'mode=lucid#mode=classic&steps=1',
  'size=1024&grid=64&filter=63&layer=conv1_1',
  ...fc.sample(hash, { seed: SEED, numRuns: 12 }).map((h) => h.replace(/^#*/, '')),
];

test(
  'the page under nasty links: no error, valid settings, the ignored fields named, nothing from the link runs',
  { timeout: 120_000 },
  async (t) => {
    const browser = await browserFor(t, { webgpu: false });
    const context = await openContext(browser);
    let named = 0;
    for (const raw of NASTY) {
      const url = `${site.url}dist/#${raw}`;
      const shownRaw = JSON.stringify(raw.slice(0, 120));
      // What the browser makes of the address (it escapes what an address may not hold), as the page reads it.
      const { ignored } = parseLink(catalog, new URL(url).hash);
      const page = await openPage(context, url);
      const seen = await page.evaluate(() => ({
        settings: window.filterlens.settings,
        hash: location.hash,
        pwned: /** @type {any} */ (window).pwned,
        notice: Array.from(document.querySelectorAll('#notices li[data-group="link"]'), (li) => li.textContent),
        elements: document.querySelectorAll('#notices *:not(li)').length,
      }));
      assert.deepEqual(problems(seen.settings), [], shownRaw);
      assert.equal(seen.hash, toLink(catalog, /** @type {any} */ (seen.settings)), 'the page writes its link back');
      assert.equal(seen.pwned, undefined, `script from ${shownRaw} ran`);
      assert.equal(seen.elements, 0, 'the notices hold text only');
      assert.deepEqual(seen.notice, ignored.length ? [ignoredNotice(ignored)] : [], shownRaw);
      named += Math.min(ignored.length, IGNORED_SHOWN);
      const errors = page.logs.filter((l) => /^(pageerror|error):/.test(l));
      assert.deepEqual(errors, [], shownRaw);
      await page.close();
    }
    // The same links followed within one page (hashchange), as a click on a link would.
    const page = await openPage(context, `${site.url}dist/#steps=1&size=64`);
    for (const raw of NASTY.slice(0, 10)) {
      const url = `${site.url}dist/#${raw}`;
      const { ignored } = parseLink(catalog, new URL(url).hash);
      await page.evaluate(
        (raw) =>
          new Promise((resolve) => {
            window.addEventListener('hashchange', () => setTimeout(resolve, 0), { once: true });
            setTimeout(resolve, 2000);
            location.hash = raw;
          }),
        raw,
      );
      const seen = await page.evaluate(() => ({
        settings: window.filterlens.settings,
        pwned: /** @type {any} */ (window).pwned,
        notice: Array.from(document.querySelectorAll('#notices li[data-group="link"]'), (li) => li.textContent),
      }));
      assert.deepEqual(problems(seen.settings), [], raw.slice(0, 120));
      assert.equal(seen.pwned, undefined);
      assert.deepEqual(seen.notice, ignored.length ? [ignoredNotice(ignored)] : [], raw.slice(0, 120));
    }
    assert.deepEqual(
      page.logs.filter((l) => /^(pageerror|error):/.test(l)),
      [],
    );
    t.diagnostic(
      `${NASTY.length} links opened and ${Math.min(NASTY.length, 10)} followed; ${named} unusable fields named on the page`,
    );
  },
);
