// @ts-check
// The page's units, each written once: a value kept within limits, bytes as megabytes, a duration as a person says
// it. Pure: the page and the worker import them.

/** `value` within [lo, hi]. @param {number} value @param {number} lo @param {number} hi */
export const clamp = (value, lo, hi) => Math.min(hi, Math.max(lo, value));

/** The mean of `values`. @param {number[]} values */
export const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/** Bytes as the page says them: "2.3 MB". @param {number} bytes */
export const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** "about 3 min": a duration as the status says it (a grid on the CPU can take an hour). @param {number} ms */
export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `about ${Math.max(s, 1)} s`;
  return s < 5400 ? `about ${Math.round(s / 60)} min` : `about ${(s / 3600).toFixed(1)} h`;
}
