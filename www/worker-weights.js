// @ts-check
// The weights on the worker's side: each network's file brought part by part (weights.js: byte ranges, SHA-256,
// Cache Storage) as far as a run needs, the deeper layers after a first picture, maco's ImageNet spectrum on its
// first run, the page told of each arrival, and what has come handed to the visualizer between its calls. A model
// of one's own has its weights in its file: the visualizer has them once it has opened it.

import { SPECTRUM_FILE, Weights, weightsFile } from './weights.js';

/** @typedef {import('./protocol.js').FromWorker} FromWorker */
/** @typedef {import('./protocol.js').NetworkName} NetworkName */
/** @typedef {import('./pkg/filterlens.js').Visualizer} Visualizer */

export class WeightsFeed {
  /** Each network's weights file, part by part, once its manifest entry is read. @type {Map<NetworkName, Weights>} */
  #files = new Map();
  /** Each network's manifest read, under way or done: a second ask while the first is under way waits for the same
   *  one (two `Weights` of one network would hand the visualizer its parts twice). @type {Map<NetworkName, Promise<Weights>>} */
  #opening = new Map();
  /** The networks whose header the visualizer has (it takes their parts from then on). @type {Set<NetworkName>} */
  #given = new Set();
  /** The models of one's own the visualizer has opened (their weights with them). @type {Set<NetworkName>} */
  #opened = new Set();
  /** Each `bring` under way, by network and count (the page hears of each once). @type {Map<string, Promise<void>>} */
  #bringing = new Map();
  /** MACO's ImageNet spectrum: `arrival` while it comes, `ready` once its parts are in and checked, `given` once
   *  the visualizer has it. @type {{ arrival: Promise<void> | null, ready: Weights | null, given: boolean }} */
  #spectrum = { arrival: null, ready: null, given: false };
  /** The parts a run is waiting for (none: null): their progress is the page's download bar, not background news.
   *  @type {{ model: NetworkName, count: number } | null} */
  waiting = null;

  /** @param {string} site the page's address, which the files' names are relative to
   *  @param {(message: FromWorker) => void} post */
  constructor(site, post) {
    this.site = site;
    this.post = post;
  }

  /** `model`'s weights, their manifest entry read on first use. @param {NetworkName} model */
  open(model) {
    let weights = this.#opening.get(model);
    if (!weights) {
      weights = Weights.open(this.site, weightsFile(model)).then((w) => (this.#files.set(model, w), w));
      weights.catch(() => this.#opening.delete(model)); // a failed read is tried again next time
      this.#opening.set(model, weights);
    }
    return weights;
  }

  /** The parts a run on `layer` of `model` needs (its manifest read): the header and the weighted nodes up to the
   *  layer (the header alone for a layer the manifest does not know: the core refuses the run, naming it).
   *  @param {NetworkName} model @param {string} layer */
  partsFor(model, layer) {
    const weights = /** @type {Weights} */ (this.#files.get(model));
    return 1 + (weights.entry.layers?.[layer] ?? 0);
  }

  /** Brings the first `count` parts of `model`'s weights, telling the page how many of their bytes are in;
   *  resolves once they are in and checked. @param {NetworkName} model @param {number} count */
  bring(model, count) {
    const w = /** @type {Weights} */ (this.#files.get(model));
    const key = `${model} ${count}`;
    const known = this.#bringing.get(key);
    if (known) return known;
    const layer = w.parts[count - 1].name;
    const started = performance.now();
    const background = () => !(this.waiting && this.waiting.model === model && this.waiting.count >= count);
    const arrival = w
      // upTo reports ten times a second and once at the end: each report goes to the page.
      .upTo(count, (loaded, total, source) => {
        this.post({
          type: 'weights',
          phase: 'progress',
          loaded,
          total,
          source,
          model,
          layer,
          background: background(),
        });
      })
      .then(({ source, bytes }) => {
        const complete = count === w.parts.length;
        this.post({
          type: 'weights',
          phase: 'ready',
          source,
          bytes,
          millis: performance.now() - started,
          model,
          layer,
          complete,
        });
      })
      .finally(() => this.#bringing.delete(key));
    this.#bringing.set(key, arrival);
    return arrival;
  }

  /** A model of one's own the visualizer has opened: its weights are in. @param {NetworkName} model */
  opened(model) {
    this.#opened.add(model);
  }

  /** `model`'s deeper layers, after a first picture: so that a later move of the layer slider finds them in.
   *  @param {NetworkName} model */
  bringTheRest(model) {
    if (this.#opened.has(model)) return;
    const weights = /** @type {Weights} */ (this.#files.get(model));
    const all = weights.parts.length;
    if (!weights.has(all))
      this.bring(model, all).catch((e) => console.warn(`filterlens: ${model}'s deeper layers' weights: ${e.message}`));
  }

  /** Brings what a run on `layer` of `model` needs, the spectrum too for `maco`; resolves once it is in.
   *  @param {NetworkName} model @param {string} layer @param {boolean} maco */
  bringFor(model, layer, maco) {
    return Promise.all([
      this.#opened.has(model)
        ? null
        : this.open(model).then(() => {
            this.waiting = { model, count: this.partsFor(model, layer) };
            return this.bring(model, this.waiting.count);
          }),
      maco ? this.#bringSpectrum() : null,
    ]);
  }

  /** Brings the spectrum's parts; resolves once they are in and checked. */
  #bringSpectrum() {
    const spectrum = this.#spectrum;
    spectrum.arrival ??= Weights.open(this.site, SPECTRUM_FILE).then(async (file) => {
      await file.upTo(file.parts.length);
      spectrum.ready = file;
    });
    spectrum.arrival.catch(() => (spectrum.arrival = null)); // a failed fetch is tried again by the next maco run
    return spectrum.arrival;
  }

  /** Whether the visualizer has every weight a run on `layer` of `model` needs (and, for `maco`, the spectrum).
   *  @param {NetworkName} model @param {string} layer @param {boolean} maco */
  given(model, layer, maco) {
    const spectrumIn = !maco || this.#spectrum.given;
    if (this.#opened.has(model)) return spectrumIn;
    return (
      spectrumIn &&
      this.#given.has(model) &&
      /** @type {Weights} */ (this.#files.get(model)).has(this.partsFor(model, layer))
    );
  }

  /** Hands `visualizer` the weights that have come in since, each network's header first (between its calls: they
   *  must not overlap). @param {Visualizer} visualizer */
  feed(visualizer) {
    for (const [model, weights] of this.#files) {
      if (!this.#given.has(model)) {
        const [header] = weights.take(1);
        if (!header) continue;
        visualizer.weightsArriving(model, header, weights.fileLength);
        this.#given.add(model);
      }
      for (const part of weights.take()) visualizer.addWeights(model, part);
    }
    const spectrum = this.#spectrum;
    if (spectrum.ready && !spectrum.given) {
      const parts = spectrum.ready.take();
      const npy = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (npy.set(p, at), at + p.length), 0);
      visualizer.setSpectrum(npy);
      spectrum.given = true;
    }
  }

  /** Forgets the networks' files and what the visualizer had: a retry reads the manifest again (the site may have
   *  been fixed). */
  forget() {
    this.#files.clear();
    this.#opening.clear();
    this.#given.clear();
  }
}
