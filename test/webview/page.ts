/**
 * Serves the coordination panel's webview as a static page (the HTML renderPanelHtml makes, the
 * built dist/webview.js and media/panel.css, a stubbed dark theme) and opens it in Debian's
 * Chromium through playwright-core, both installed by scripts/install-vscode-host.sh.
 *
 * `acquireVsCodeApi` is stubbed by an init script (which CSP does not govern, as in VS Code,
 * where the host injects it): posted messages collect in `window.__posted`, the state lives in
 * sessionStorage so it survives a reload as VS Code's webview state does.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNonce, renderPanelHtml } from '../../src/ui/panel-html';

export const repoRoot = join(__dirname, '..', '..');
const hostDir = join(repoRoot, 'test', 'vscode-host');
const chromiumPath = process.env.HARNESS_CHROMIUM || '/usr/bin/chromium';
const INSTALL_HINT = 'run `bash scripts/install-vscode-host.sh` (it installs Debian chromium and playwright-core)';

// Types of the few playwright-core calls used here (it lives in test/vscode-host, untyped here).
export interface Page {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  waitForFunction(fn: string | ((arg: never) => unknown), arg?: unknown, options?: { timeout?: number }): Promise<unknown>;
  keyboard: { press(key: string): Promise<void>; type(text: string): Promise<void>; down(key: string): Promise<void>; up(key: string): Promise<void> };
  mouse: {
    move(x: number, y: number, options?: { steps?: number }): Promise<void>;
    down(): Promise<void>;
    up(): Promise<void>;
    wheel(deltaX: number, deltaY: number): Promise<void>;
    click(x: number, y: number): Promise<void>;
  };
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  addInitScript(script: { content: string }): Promise<void>;
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', fn: (e: Error) => void): void;
}
interface Browser {
  newContext(o: { viewport: { width: number; height: number }; colorScheme?: string }): Promise<{ newPage(): Promise<Page> }>;
  close(): Promise<void>;
}

// \`__name\`: tsx compiles this test with esbuild's keepNames, which wraps functions declared
// inside page.evaluate callbacks in a __name() helper that only exists on the Node side.
const STUB = `
window.__name = (fn) => fn;
window.__posted = [];
window.acquireVsCodeApi = () => ({
  postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
  getState: () => JSON.parse(sessionStorage.getItem('vscode-state') || 'null'),
  setState: (s) => sessionStorage.setItem('vscode-state', JSON.stringify(s)),
});`;

export interface PanelPage {
  page: Page;
  /** Console lines and page errors, CSP violations among them. */
  problems: string[];
  post(message: unknown): Promise<void>;
  posted(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

function serve(): Promise<{ origin: string; server: http.Server }> {
  const files: Record<string, [string, string]> = {
    '/dist/webview.js': [join(repoRoot, 'dist', 'webview.js'), 'text/javascript'],
    '/dist/elk-worker.js': [join(repoRoot, 'dist', 'elk-worker.js'), 'text/javascript'],
    '/media/panel.css': [join(repoRoot, 'media', 'panel.css'), 'text/css'],
    '/theme.css': [join(__dirname, 'theme-dark.css'), 'text/css'],
  };
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      const origin = `http://${req.headers.host}`;
      // A fresh nonce per load, as the panel renders it; the stub theme goes before panel.css.
      const html = renderPanelHtml({ cspSource: origin, nonce: makeNonce(), scriptUri: `${origin}/dist/webview.js`, layoutWorkerUri: `${origin}/dist/elk-worker.js`, styleUri: `${origin}/media/panel.css`, title: 'Agent Harness' })
        .replace('<link rel="stylesheet"', `<link rel="stylesheet" href="${origin}/theme.css">\n<link rel="stylesheet"`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      return;
    }
    const file = files[path];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[1] }).end(readFileSync(file[0]));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

export async function openPanelPage(viewport = { width: 1200, height: 800 }): Promise<PanelPage> {
  if (!existsSync(join(repoRoot, 'dist', 'webview.js'))) throw new Error('dist/webview.js is missing: run npm run build');
  if (!existsSync(join(hostDir, 'node_modules', 'playwright-core'))) throw new Error(`playwright-core is not installed in test/vscode-host: ${INSTALL_HINT}`);
  if (!existsSync(chromiumPath)) throw new Error(`Chromium is missing (${chromiumPath}): ${INSTALL_HINT}`);
  const { chromium } = createRequire(join(hostDir, 'package.json'))('playwright-core') as {
    chromium: { launch(o: Record<string, unknown>): Promise<Browser> };
  };
  const home = mkdtempSync(join(tmpdir(), 'agent-harness-webview-'));
  const { origin, server } = await serve();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await (await browser.newContext({ viewport, colorScheme: 'dark' })).newPage();
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`[pageerror] ${e.message}`));
  await page.addInitScript({ content: STUB });
  await page.goto(`${origin}/`);
  return {
    page,
    problems,
    post: (message) => page.evaluate((m) => window.postMessage(m, '*'), message),
    posted: () => page.evaluate(() => (window as unknown as { __posted: Array<Record<string, unknown>> }).__posted),
    close: async () => {
      await browser.close().catch(() => {});
      server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

// Helpers the browser tests share.
export const count = (p: PanelPage, selector: string) => p.page.evaluate((s) => document.querySelectorAll(s).length, selector);
export const text = (p: PanelPage, selector: string) => p.page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector);

/**
 * Polls from Node with page.evaluate: Playwright's own waitForFunction evaluates its predicate
 * with eval inside the page, which the panel's CSP (rightly) forbids.
 */
export async function waitFor<A>(p: PanelPage, fn: (arg: A) => unknown, arg?: A, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await p.page.evaluate(fn, arg as A))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${fn.toString()} (${JSON.stringify(arg)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Posted = { __posted: Array<Record<string, unknown>> };
export const wasPosted = (p: PanelPage, type: string, runId?: string, atLeast = 1) =>
  waitFor(
    p,
    ([t, r, n]) => (window as unknown as Posted).__posted.filter((m) => m.type === t && (r === null || m.run_id === r)).length >= n,
    [type, runId ?? null, atLeast] as [string, string | null, number],
  );
/** Turns "Collapse done" off (it starts on), so every task is a node of its own. */
export const showEveryTask = (p: PanelPage) =>
  p.page.evaluate(() => {
    const button = document.getElementById('collapse')!;
    if (button.getAttribute('aria-pressed') === 'true') button.click();
  });

export const postedOfType = async (p: PanelPage, type: string) => (await p.posted()).filter((m) => m.type === type);
