// What the browser tests read from the page (app.js documents `window.filterlens`).
import type { PageView } from '../../www/protocol.js';

declare global {
  interface Window {
    filterlens: PageView;
    /** Main-thread long tasks, recorded by helpers.mjs's init script. */
    __longtasks: { start: number; duration: number }[];
    /** Content-Security-Policy violations, recorded by helpers.mjs's recordViolations. */
    __violations: string[];
  }
}
