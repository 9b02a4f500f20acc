// @ts-check
// The plot under the picture: the activation over the steps (where the steps see transformed views, the whole
// picture's, as the worker measures it every few steps), both axes ticked, zero marked, the value under the pointer.

import { $ } from './dom.js';
import { picturesOf } from './settings.js';
import { formatActivation } from './status.js';
import { clamp } from './units.js';

/** The step under the pointer, or null. @type {number | null} */
let cursor = null;
const PLOT = { left: 46, right: 10, top: 8, bottom: 20 };
/** The least room between two labels of the value axis, pixels (11 px type). */
const LABEL_ROOM = 13;

/** What the plot shows of `run`: where the steps see transformed views, the pictures' own (untransformed)
 *  activation as the worker measured it; else each step's objective. @param {import('./state.js').Run | null} run
 *  @returns {{ points: [number, number][], caption: string }} */
function plotted(run) {
  if (!run) return { points: [], caption: 'activation per step' };
  const pictures = picturesOf(run.request);
  const what = pictures > 1 ? `mean activation of the ${pictures} pictures` : 'activation';
  if (run.yardstick.length) {
    return {
      points: run.yardstick.map((p) => [p.step, p.value]),
      caption: `${what} as they are (untransformed), measured every few steps`,
    };
  }
  return { points: run.activations.map((v, i) => [i + 1, v]), caption: `${what} per step` };
}

/** The activation over the steps, with both axes ticked, zero marked, and the value at the pointer.
 *  @param {import('./state.js').PageState} page */
export function drawPlot(page) {
  const current = page.run;
  const c = /** @type {HTMLCanvasElement} */ ($('plot'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
  const { width, height } = c;
  ctx.clearRect(0, 0, width, height);
  const { points, caption } = plotted(current);
  $('plot-caption').textContent = caption;
  const values = points.map(([, v]) => v);
  const steps = Math.max(current?.last?.steps ?? current?.request.steps ?? 1, 1);
  // The range always includes zero (a pre-ReLU objective can be negative).
  const lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (hi - lo < 1e-9) hi = lo + 1;
  const x = (/** @type {number} */ step) => PLOT.left + ((width - PLOT.left - PLOT.right) * step) / steps;
  const y = (/** @type {number} */ v) =>
    height - PLOT.bottom - ((height - PLOT.top - PLOT.bottom) * (v - lo)) / (hi - lo);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#555';
  ctx.strokeStyle = '#d8d8d8';
  ctx.lineWidth = 1;
  // Axes: activation on the left (its range, and zero where it is apart from them), steps below.
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const ticks =
    lo < 0 ? [lo, hi, 0].filter((v, i) => i < 2 || Math.min(y(v) - y(hi), y(lo) - y(v)) >= LABEL_ROOM) : [0, hi];
  for (const v of ticks) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PLOT.left - 3, yy);
    ctx.lineTo(width - PLOT.right, yy);
    ctx.stroke();
    ctx.fillText(formatActivation(v), PLOT.left - 5, yy);
  }
  ctx.textBaseline = 'top';
  for (const step of [0, Math.round(steps / 2), steps]) {
    const xx = Math.round(x(step)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(xx, height - PLOT.bottom);
    ctx.lineTo(xx, height - PLOT.bottom + 3);
    ctx.stroke();
    // The last tick's label ends at its tick, inside the canvas.
    ctx.textAlign = step === steps ? 'right' : 'center';
    ctx.fillText(
      step === steps ? `${step} steps` : String(step),
      step === steps ? xx + 0.5 : xx,
      height - PLOT.bottom + 4,
    );
  }
  const [first, last] = [points[0], points.at(-1)];
  c.setAttribute(
    'aria-label',
    first && last
      ? `${caption}: ${formatActivation(first[1])} at step ${first[0]}, ${formatActivation(last[1])} at step ${last[0]} of ${steps}`
      : caption,
  );
  if (!first || !last) return;
  ctx.strokeStyle = '#c2410c';
  ctx.lineWidth = 2;
  ctx.beginPath();
  points.forEach(([step, v], i) => (i === 0 ? ctx.moveTo(x(step), y(v)) : ctx.lineTo(x(step), y(v))));
  ctx.stroke();
  // The point at the pointer: the last one measured at or before its step.
  const atCursor = cursor === null ? null : points.filter(([step]) => step <= /** @type {number} */ (cursor)).at(-1);
  const shown = atCursor ?? last;
  if (atCursor) {
    ctx.fillStyle = '#c2410c';
    ctx.beginPath();
    ctx.arc(x(atCursor[0]), y(atCursor[1]), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  $('plot-value').textContent = ` · step ${shown[0]}: ${formatActivation(shown[1])}`;
}

/** The value under the pointer, as it moves over the plot. @param {import('./state.js').PageState} page */
export function bindPlot(page) {
  const plotCanvas = /** @type {HTMLCanvasElement} */ ($('plot'));
  plotCanvas.addEventListener('mousemove', (e) => {
    const box = plotCanvas.getBoundingClientRect();
    const steps = Math.max(page.run?.last?.steps ?? 1, 1);
    const px = ((e.clientX - box.left) * plotCanvas.width) / box.width;
    const step = Math.round(((px - PLOT.left) * steps) / (plotCanvas.width - PLOT.left - PLOT.right));
    cursor = clamp(step, 1, steps);
    drawPlot(page);
  });
  plotCanvas.addEventListener('mouseleave', () => {
    cursor = null;
    drawPlot(page);
  });
}
