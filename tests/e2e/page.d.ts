// What the browser tests read from the page (app.js documents `window.filterlens`).
import type { PageView } from '../../www/protocol.js';

declare global {
  /** The page's latest run (`window.filterlens.run`), for a test that has made sure there is one. */
  type FilterlensRun = NonNullable<PageView['run']>;

  interface Window {
    filterlens: PageView;
    /** Main-thread long tasks, recorded by helpers.mjs's init script. */
    __longtasks: { start: number; duration: number }[];
    /** Content-Security-Policy violations, recorded by helpers.mjs's recordViolations. */
    __violations: string[];
  }
}
