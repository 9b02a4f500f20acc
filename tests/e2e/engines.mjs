// @ts-check
// The page in every browser engine behind one small interface, a `Tab`, with what the cross-engine tests and the
// engines' benchmark need: go to a link, evaluate in the page, wait for a condition, choose a file, click, press a
// key, screenshot. Firefox (Gecko) over WebDriver BiDi with puppeteer-core; WebKitGTK's MiniBrowser through
// WebKitWebDriver (WebDriver classic) with selenium-webdriver, on its own Xvfb display; Chromium with Playwright as
// in the rest of the suite (helpers.mjs). The browsers are Debian's, installed by .ci/run.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { Builder, By, Key } from 'selenium-webdriver';
import { ARTIFACTS, launch } from './helpers.mjs';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** @typedef {'chromium' | 'firefox' | 'webkit'} Engine */

/**
 * A page of one engine. `goto` goes to a link and waits for the page to have read its catalog (window.filterlens), as
 * helpers.mjs's openPage does; `evaluate` runs `fn(arg)` in the page (an async `fn` is awaited) and returns what it
 * returns, as JSON carries it; `waitFor` polls `fn(arg)` until it is truthy; `choose` gives a file input a file from
 * disk; `press` sends a key (WebDriver's names: 'ArrowRight', 'Escape', 'Enter') to the focused element; `inject` runs a
 * script's source in the page as the driver does, which the page's Content-Security-Policy does not govern (axe).
 * @typedef {{
 *   engine: Engine,
 *   goto: (url: string) => Promise<void>,
 *   evaluate: <A, R>(fn: (arg: A) => R, arg?: A) => Promise<Awaited<R>>,
 *   waitFor: <A>(fn: (arg: A) => unknown, arg?: A, timeout?: number) => Promise<void>,
 *   choose: (selector: string, file: string) => Promise<void>,
 *   click: (selector: string) => Promise<void>,
 *   press: (key: 'ArrowRight' | 'Escape' | 'Enter') => Promise<void>,
 *   inject: (source: string) => Promise<void>,
 *   screenshot: (name: string) => Promise<string>,
 * }} Tab
 */

/** Polls `check` every 200 ms until it is truthy or `timeout` ms have passed. A check that throws counts as not
 *  yet (the page may be between documents: a reload into isolation, say); the last error is in the timeout's message.
 *  @param {() => Promise<unknown>} check @param {number} timeout @param {string} what */
async function poll(check, timeout, what) {
  const end = Date.now() + timeout;
  let failure = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      failure = ` (last: ${e instanceof Error ? e.message : e})`;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${failure}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** @param {string} name */
function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}

/** A port nobody listens on now (for WebKitWebDriver, which takes one on its command line). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What closes a browser and the processes beside it, in the order they were started (the last first).
 *  @typedef {(close: () => unknown) => void} OnClose */

/** What a Playwright page and a puppeteer page do alike (their evaluate, keyboard and screenshot calls have the same
 *  shape). Waits are polled from here: one in the page longer than puppeteer's protocol timeout (3 min) would fail.
 *  @param {any} page a Playwright or puppeteer Page */
const devtoolsTab = (page) => ({
  goto: async (/** @type {string} */ url) => void (await page.goto(url)),
  evaluate: (/** @type {Function} */ fn, /** @type {unknown} */ arg) => page.evaluate(fn, arg),
  waitFor: (/** @type {Function} */ fn, /** @type {unknown} */ arg, timeout = 120_000) =>
    poll(() => page.evaluate(fn, arg), timeout, String(fn)),
  press: (/** @type {string} */ key) => page.keyboard.press(key),
  inject: async (/** @type {string} */ source) => void (await page.evaluate(source)),
  screenshot: async (/** @type {string} */ name) => {
    const file = artifact(name);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  },
});

/** Firefox ESR, headless, one tab. @param {OnClose} onClose @returns {Promise<Tab>} */
async function firefox(onClose) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
  });
  onClose(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  return {
    engine: 'firefox',
    ...devtoolsTab(page),
    choose: async (selector, file) => {
      const input = /** @type {import('puppeteer-core').ElementHandle<HTMLInputElement>} */ (await page.$(selector));
      await input.uploadFile(file);
    },
    click: (selector) => page.click(selector),
  };
}

/** Chromium, as the rest of the suite drives it (no WebGPU adapter), one tab. @param {OnClose} onClose
 *  @returns {Promise<Tab>} */
async function chromium(onClose) {
  const browser = await launch({ webgpu: false });
  onClose(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  return {
    engine: 'chromium',
    ...devtoolsTab(page),
    choose: (selector, file) => page.locator(selector).setInputFiles(file),
    click: (selector) => page.locator(selector).click(),
  };
}

/** An X display of its own for WebKitGTK (Xvfb picks a free number and writes it to fd 3). @param {OnClose} onClose */
async function xvfb(onClose) {
  const server = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  onClose(() => server.kill());
  const display = await new Promise((resolve, reject) => {
    let said = '';
    /** @type {import('node:stream').Readable} */ (server.stdio[3]).on('data', (b) => {
      said += b;
      if (said.includes('\n')) resolve(`:${said.trim()}`);
    });
    server.on('exit', (code) => reject(new Error(`Xvfb exited (${code}) before it took a display`)));
  });
  return /** @type {string} */ (display);
}

/** WebKitGTK's MiniBrowser through WebKitWebDriver on an Xvfb display. @param {OnClose} onClose
 *  @returns {Promise<Tab>} */
async function webkit(onClose) {
  const display = await xvfb(onClose);
  const port = await freePort();
  const driverProcess = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    env: { ...process.env, DISPLAY: display },
    stdio: 'ignore',
  });
  onClose(() => driverProcess.kill());
  const server = `http://127.0.0.1:${port}`;
  await poll(
    () =>
      fetch(`${server}/status`).then(
        (r) => r.ok,
        () => false,
      ),
    10_000,
    'WebKitWebDriver to listen',
  );
  const driver = await new Builder()
    .usingServer(server)
    .withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    })
    .build();
  onClose(() => driver.quit());
  await driver.manage().window().setRect({ width: 1100, height: 900 });
  /** `fn(arg)` in the page, awaited there (WebDriver waits for a promise a script returns).
   *  @param {Function} fn @param {unknown} arg */
  const run = (fn, arg) => driver.executeScript(`return (${fn})(arguments[0])`, arg);
  const keys = { ArrowRight: Key.ARROW_RIGHT, Escape: Key.ESCAPE, Enter: Key.ENTER };
  return {
    engine: 'webkit',
    goto: (url) => driver.get(url),
    evaluate: (fn, arg) => /** @type {any} */ (run(fn, arg)),
    waitFor: (fn, arg, timeout = 120_000) => poll(() => run(fn, arg), timeout, String(fn)),
    choose: (selector, file) => driver.findElement(By.css(selector)).sendKeys(file),
    click: (selector) => driver.findElement(By.css(selector)).click(),
    press: (key) => driver.switchTo().activeElement().sendKeys(keys[key]),
    inject: async (source) => void (await driver.executeScript(source)),
    screenshot: async (name) => {
      const file = artifact(name);
      writeFileSync(file, Buffer.from(await driver.takeScreenshot(), 'base64'));
      return file;
    },
  };
}

/** A tab of `engine`'s browser, a fresh profile; `onClose` is given what closes it. @param {Engine} engine
 *  @param {OnClose} onClose @returns {Promise<Tab>} */
export async function tabIn(engine, onClose) {
  const tab = await { chromium, firefox, webkit }[engine](onClose);
  return {
    ...tab,
    goto: async (url) => {
      await tab.goto(url);
      await tab.waitFor(() => window.filterlens !== undefined, undefined, 60_000);
    },
  };
}
