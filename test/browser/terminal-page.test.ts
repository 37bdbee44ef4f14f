// The terminal page in a real browser (Debian's Chromium) against a real lab
// server and real shells: typing, reloading, run-in-terminal buttons, a
// second window on the same session, and the disconnected state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { terminalsPlugin } from '../../server/terminals/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const TOKEN = 'b'.repeat(40);

let work: string;
let webRoot: string;
let home: string;
let server: LabServer | null = null;
let browser: Browser;

async function startServer(port = 0): Promise<LabServer> {
  server = await startLabServer({ home, port, token: TOKEN, webRoot, plugins: [terminalsPlugin()] });
  return server;
}

/** The terminal's visible text, row by row, as xterm's DOM renderer shows it. */
const screenText = (page: Page) => page.locator('.xterm-rows').innerText();

async function waitScreen(page: Page, re: RegExp, timeout = 10_000): Promise<string> {
  const end = Date.now() + timeout;
  let last = '';
  while (Date.now() < end) {
    last = await screenText(page).catch(() => '');
    if (re.test(last)) return last;
    await page.waitForTimeout(50);
  }
  throw new Error(`screen never matched ${re}; it shows:\n${last}`);
}

/** Wait for the terminal widget's state; on a timeout, say which state it showed and its overlay's words. */
async function waitState(page: Page, state: string, timeout = 10_000): Promise<void> {
  const widget = page.locator('.hm-terminal');
  try {
    await page.locator(`.hm-terminal[data-state="${state}"]`).waitFor({ timeout });
  } catch {
    const shown = await widget.getAttribute('data-state').catch(() => '(no widget)');
    const overlay = await page.locator('.hm-terminal-overlay').innerText().catch(() => '');
    throw new Error(`the terminal never showed "${state}" in ${timeout} ms: it shows "${shown}" ("${overlay}")`);
  }
}

async function openTerminal(name: string, extra = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
  await page.goto(`${server!.url}/terminal?name=${name}${extra}&token=${TOKEN}`);
  await waitState(page, 'open');
  return page;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hmlab-term-browser-'));
  webRoot = join(work, 'web');
  home = join(work, 'browser-lab');
  mkdirSync(ARTIFACTS, { recursive: true });
  // Build only the terminal page, so this test does not depend on other pages building.
  await build({
    configFile: false, root: ROOT, base: '/', publicDir: false, logLevel: 'error',
    build: {
      outDir: webRoot, emptyOutDir: true, target: 'es2022',
      rollupOptions: { input: { 'widgets-pages-terminal': join(ROOT, 'widgets/pages/terminal.html') } },
    },
  });
  await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

test('type a command and see its output; a reload shows the same screen of the same shell', async () => {
  const page = await openTerminal('demo');
  await waitScreen(page, /\[hmlab:browser-lab\]/);
  await page.locator('.hm-terminal').click();
  await page.keyboard.type('echo "browser-$((2+3))"; qdstat --help >/dev/null 2>&1; type rabbitmqctl');
  await page.keyboard.press('Enter');
  await waitScreen(page, /^browser-5$/m);
  await waitScreen(page, /rabbitmqctl is .*browser-lab\/bin\/rabbitmqctl/);
  await page.screenshot({ path: join(ARTIFACTS, 'terminal-typed.png') });
  const terminals = async () => {
    const res = await fetch(`${server!.url}/api/terminals`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return (await res.json()) as { terminals: { name: string; pid: number }[] };
  };
  const before = await terminals();

  await page.reload();
  await page.locator('.hm-terminal[data-state="open"]').waitFor();
  const after = await waitScreen(page, /^browser-5$/m);
  assert.match(after, /rabbitmqctl is .*browser-lab\/bin\/rabbitmqctl/);
  await page.screenshot({ path: join(ARTIFACTS, 'terminal-reloaded.png') });
  const now = await terminals();
  assert.deepEqual(now.terminals.map((t) => [t.name, t.pid]), before.terminals.map((t) => [t.name, t.pid]), 'the reload attached to the same shell');
  await page.close();
});

test('a run-in-terminal button runs its command, seen in a second window on the same session', async () => {
  const page = await openTerminal('runner');
  const viewer = await openTerminal('runner', '&readonly=1');
  await page.evaluate(() => {
    const b = document.createElement('button');
    b.textContent = 'run';
    b.id = 'run-button';
    b.dataset.terminalRun = 'echo "clicked-$((3*4))"';
    b.style.cssText = 'position:fixed;right:10px;top:10px;z-index:20';
    document.body.append(b);
  });
  await page.click('#run-button');
  await waitScreen(page, /^clicked-12$/m);
  assert.equal(await page.getAttribute('#run-button', 'data-run-state'), 'sent');
  await waitScreen(viewer, /^clicked-12$/m);
  await viewer.screenshot({ path: join(ARTIFACTS, 'terminal-viewer.png') });
  // The widget's own run() types into its terminal as well.
  await page.evaluate(() => (window as unknown as { hmlabTerminal: { run(c: string): void } }).hmlabTerminal.run('echo "handle-$((9*9))"'));
  await waitScreen(page, /^handle-81$/m);
  await viewer.close();
  await page.close();
});

test('when the server goes away the terminal says so, and it reconnects when the server is back', async (t) => {
  const page = await openTerminal('outage');
  // A shell slow to end, as on a busy machine: the page retries while the
  // server is still stopping, and must not be handed the dying shell.
  await page.locator('.hm-terminal').click();
  await page.keyboard.type('trap "" HUP; echo "trapped-$((6*7))"\n');
  await waitScreen(page, /^trapped-42$/m);
  const port = Number(new URL(server!.url).port);
  // Whatever fails below, the next tests get a server again.
  t.after(async () => { if (!server) await startServer(); });
  await server!.close();
  server = null;
  await waitState(page, 'reconnecting', 20_000);
  const overlay = await page.locator('.hm-terminal-overlay').innerText();
  assert.match(overlay, /disconnected — reconnecting/);
  await page.screenshot({ path: join(ARTIFACTS, 'terminal-disconnected.png') });
  await startServer(port);
  await waitState(page, 'open', 20_000);
  assert.equal(await page.locator('.hm-terminal-overlay').isVisible(), false);
  await page.locator('.hm-terminal').click();
  await page.keyboard.type('echo "back-$((50+50))"\n');
  await waitScreen(page, /^back-100$/m);
  await page.close();
});

test('the terminal fits its window and follows resizes; copy and paste work', async () => {
  const context = await browser.newContext({ viewport: { width: 900, height: 500 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server!.url });
  const page = await context.newPage();
  try {
    await page.goto(`${server!.url}/terminal?name=sizes&token=${TOKEN}`);
    await waitState(page, 'open');
    await page.locator('.hm-terminal').click();
    await page.keyboard.type('echo "size1=$(stty size)"\n');
    const first = /^size1=(\d+) (\d+)$/m.exec(await waitScreen(page, /^size1=\d+ \d+$/m))!;
    const [rows1, cols1] = [Number(first[1]), Number(first[2])];
    assert.ok(cols1 > 60 && rows1 > 15, `fitted ${cols1}x${rows1} in 900x500`);

    await page.setViewportSize({ width: 600, height: 360 });
    await page.waitForTimeout(300);
    await page.keyboard.type('echo "size2=$(stty size)"\n');
    const second = /^size2=(\d+) (\d+)$/m.exec(await waitScreen(page, /^size2=\d+ \d+$/m))!;
    const [rows2, cols2] = [Number(second[1]), Number(second[2])];
    assert.ok(cols2 < cols1 && rows2 < rows1, `after the window shrank: ${cols2}x${rows2}, before ${cols1}x${rows1}`);

    // Paste: text from the clipboard is typed into the shell.
    await page.evaluate(() => navigator.clipboard.writeText('echo "pasted-$((11*11))"'));
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await waitScreen(page, /^pasted-121$/m);
    // Copy: select the output line, Ctrl+Shift+C puts it on the clipboard.
    await page.evaluate(() => {
      const t = (window as unknown as { hmlabTerminal: { terminal: { selectAll(): void } } }).hmlabTerminal.terminal;
      t.selectAll();
    });
    await page.keyboard.press('Control+Shift+C');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /pasted-121/);
    await page.screenshot({ path: join(ARTIFACTS, 'terminal-resized.png') });
  } finally {
    await context.close();
  }
});
