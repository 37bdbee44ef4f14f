// Shared Playwright helpers for the browser tests and benchmarks: Debian's
// Chromium with the flags this environment needs, screenshots saved as test
// artifacts, and a web build that is rebuilt when its sources changed.
import { chromium, type Browser, type Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.HMLAB_CHROMIUM ?? '/usr/bin/chromium';
/** The built pages the tests serve; HMLAB_WEB_ROOT points at another, already built copy. */
export const WEB_ROOT = process.env.HMLAB_WEB_ROOT ?? join(ROOT, 'dist', 'web');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Why browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (install Debian's "chromium" package, or set HMLAB_CHROMIUM)`;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A page at projector size (1280x720 unless told), with console errors collected. */
export async function openPage(browser: Browser, size = { width: 1280, height: 720 }): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: size, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return { page, errors };
}

/** Save a screenshot under test-artifacts/ and return its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  await page.screenshot({ path: file });
  return file;
}

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    m = Math.max(m, newest(join(path, e)));
  }
  return m;
}

/** Build the pages with Vite unless dist/web is newer than every browser source. */
export function ensureWebBuild(): void {
  if (process.env.HMLAB_WEB_ROOT) return;
  const built = join(ROOT, 'dist', 'web', 'widgets', 'pages', 'flow.html');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const sources = Math.max(...['widgets', 'slides', 'labs', 'web', 'index.html', 'vite.config.ts'].map((p) => newest(join(ROOT, p))));
  if (builtAt >= sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * The built pages and public/ on a plain static server on loopback, with no
 * lab behind them: what a static host or an offline copy of the deck gives.
 */
export async function serveStaticBuild(): Promise<{ base: string; close(): Promise<void> }> {
  const app = express();
  app.use(express.static(WEB_ROOT));
  app.use(express.static(join(ROOT, 'public')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const addr = server.address();
  return {
    base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: () => { server.closeAllConnections(); return new Promise<void>((r) => server.close(() => r())); },
  };
}
