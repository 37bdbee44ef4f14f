// The talk's deck in Debian's Chromium, as the presenter and the audience
// meet it: every slide at 1280x720 (no console errors, nothing overflowing,
// nothing smaller than 24 px, notes on every slide), the demo slides against
// a real running lab (a working terminal, live flow data), the speaker view
// (no second terminal session), the fallback to recordings without a lab
// server, and the PDF export (one page per slide). Screenshots of every
// slide go to test-artifacts/slides/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import express from 'express';
import type { Server } from 'node:http';
import { ARTIFACTS, browserSkipReason, ensureWebBuild, launchBrowser, openPage, ROOT, WEB_ROOT } from '../helpers/browser.js';
import { tempLab, type TempLab } from '../helpers/lab-env.js';

const skip = browserSkipReason();
const SHOTS = join(ARTIFACTS, 'slides');

let browser: Browser;
let staticRoot: string | null = null;
let staticHost: { url: string; server: Server }; // pages and recordings only: what any static host gives
let lab: TempLab | null = null;
let serve: ChildProcess | null = null;
let live: Promise<{ url: string; token: string }> | null = null;

/** `hmlab serve --up hybrid-mesh` on a temp home and free ports: the presenter's own setup. */
function startLiveLab(): Promise<{ url: string; token: string }> {
  return (async () => {
    lab = await tempLab('hmlab-slides-');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts'), 'serve',
      '--home', lab.home, '--port', '0', '--up', 'hybrid-mesh', '--base-port', String(lab.basePort), '--traffic-rate', '10'],
    { cwd: ROOT, env: { ...process.env, HMLAB_WEB_ROOT: WEB_ROOT }, stdio: ['ignore', 'pipe', 'pipe'] });
    serve = child;
    let out = '';
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    return new Promise<{ url: string; token: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the lab did not come up in 120 s:\n${out}`)), 120_000);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`hmlab serve exited (${code}):\n${out}`)); });
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const open = /open: (http:\/\/[^/\s]+)\/\?token=([0-9a-f]+)/.exec(out);
        if (open && /lab is up/.test(out)) { clearTimeout(timer); resolve({ url: open[1], token: open[2] }); }
        if (/bringing the lab up failed/.test(out)) { clearTimeout(timer); reject(new Error(out)); }
      });
    });
  })();
}

before(async () => {
  if (skip) return;
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
  // The lab takes a few seconds to boot: start it now, use it last.
  live = startLiveLab();
  live.catch(() => { /* reported by the tests that need it */ });
  // Serve a copy of the build, so a rebuild elsewhere cannot pull pages away mid-test.
  staticRoot = mkdtempSync(join(tmpdir(), 'hmlab-slides-web-'));
  cpSync(WEB_ROOT, staticRoot, { recursive: true });
  const app = express();
  app.use(express.static(staticRoot));
  app.use(express.static(join(ROOT, 'public')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const addr = server.address();
  staticHost = { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, server };
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  staticHost?.server.closeAllConnections();
  await new Promise((r) => (staticHost ? staticHost.server.close(r) : r(null)));
  if (staticRoot) rmSync(staticRoot, { recursive: true, force: true });
  if (serve?.pid && serve.exitCode === null) {
    const exited = new Promise((r) => serve!.once('exit', r));
    process.kill(serve.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (serve.exitCode === null) process.kill(serve.pid, 'SIGKILL');
  }
  await lab?.cleanup();
});

async function openDeck(page: Page, url: string): Promise<void> {
  // tsx compiles this file with esbuild's keepNames, which wraps named
  // functions inside page.evaluate() callbacks in a __name() helper that only
  // exists in Node.
  await page.addInitScript('globalThis.__name = (f) => f');
  const problems: string[] = [];
  const onError = (e: Error) => problems.push(e.message);
  page.on('pageerror', onError);
  page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { hmDeck?: { ready: boolean } }).hmDeck?.ready === true, null, { timeout: 20_000 })
    .catch((err: Error) => { throw new Error(`the deck did not start: ${err.message}\n${problems.join('\n')}`); });
  page.off('pageerror', onError);
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
}

async function terminals(url: string, token: string): Promise<{ name: string; clients: number }[]> {
  const res = await fetch(`${url}/api/terminals`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { terminals: { name: string; clients: number }[] }).terminals;
}

/** Wait until the text of the first element matching selector on the page matches pattern. */
async function waitForText(page: Page, selector: string, pattern: RegExp, timeout: number): Promise<void> {
  await page.waitForFunction(({ selector, source, flags }) => new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ''),
    { selector, source: pattern.source, flags: pattern.flags }, { timeout });
}

interface SlideReport { index: number; id: string; notes: number; overflow: string[]; small: string[]; headings: number }

/** What a person in the back row would complain about on the current slide. */
function inspectSlide(page: Page): Promise<SlideReport> {
  return page.evaluate(() => {
    const deck = (window as unknown as { Reveal: { getCurrentSlide(): HTMLElement; getIndices(): { h: number } } }).Reveal;
    const slide = deck.getCurrentSlide();
    const box = slide.getBoundingClientRect();
    const skip = (el: Element) => !!el.closest('aside.notes, .live-grid');
    const name = (el: Element) => {
      const classes = el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '';
      return `${el.tagName.toLowerCase()}${classes} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    };
    const overflow: string[] = [];
    for (const el of slide.querySelectorAll('*')) {
      if (skip(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) overflow.push(`${name(el)} leaves the slide`);
      if (el instanceof HTMLElement && !['IMG', 'CANVAS', 'VIDEO', 'IFRAME'].includes(el.tagName)) {
        const cs = getComputedStyle(el);
        const clips = cs.overflowX !== 'visible' || cs.overflowY !== 'visible';
        if (clips && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) overflow.push(`${name(el)} clips its text`);
      }
    }
    const small: string[] = [];
    const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const parent = n.parentElement;
      if (!parent || skip(parent) || !(n.textContent ?? '').trim()) continue;
      const cs = getComputedStyle(parent);
      if (cs.display === 'none' || cs.visibility === 'hidden') continue;
      let px = parseFloat(cs.fontSize);
      if (parent instanceof SVGElement) {
        const m = (parent as unknown as SVGGraphicsElement).getScreenCTM();
        if (m) px *= Math.hypot(m.a, m.b);
      } else {
        px *= box.width / slide.offsetWidth; // reveal's scale
      }
      if (px < 23.9) small.push(`${px.toFixed(1)} px: "${(n.textContent ?? '').trim().slice(0, 40)}"`);
    }
    const notes = slide.querySelector('aside.notes')?.textContent?.trim().length ?? 0;
    return { index: deck.getIndices().h, id: slide.id, notes, overflow, small, headings: slide.querySelectorAll('h1, h2').length };
  });
}

test('every slide renders at 1280x720 with notes, no console errors, no overflow, nothing below 24 px', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const { url, token } = await live!;
  const { page, errors } = await openPage(browser);
  await openDeck(page, `${url}/slides/?token=${token}&transition=none`);
  const total = await page.evaluate(() => (window as unknown as { Reveal: { getTotalSlides(): number } }).Reveal.getTotalSlides());
  assert.ok(total >= 35 && total <= 45, `the talk has 35 to 45 slides (has ${total})`);
  const problems: string[] = [];
  for (let i = 0; i < total; i++) {
    await page.evaluate((h) => (window as unknown as { Reveal: { slide(h: number): void } }).Reveal.slide(h), i);
    const live = await page.locator('.present .live').count();
    await page.waitForTimeout(live ? 2500 : 120); // demo slides: let the widgets draw live data
    if (live) {
      const mode = await page.locator('.present .live').getAttribute('data-live-mode');
      if (mode !== 'live') problems.push(`slide ${i + 1}: the demo did not go live (${mode ?? 'widgets not mounted'})`);
    }
    const r = await inspectSlide(page);
    await page.screenshot({ path: join(SHOTS, `${String(i + 1).padStart(2, '0')}-${r.id || 'slide'}.png`) });
    if (r.notes < 200) problems.push(`slide ${i + 1} (${r.id}): speaker notes missing or too short (${r.notes} characters)`);
    if (r.headings < 1) problems.push(`slide ${i + 1} (${r.id}): no heading`);
    for (const o of r.overflow) problems.push(`slide ${i + 1} (${r.id}): ${o}`);
    for (const s of r.small) problems.push(`slide ${i + 1} (${r.id}): text below 24 px at 1280x720: ${s}`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
  await page.context().close();
});

test('the demo slides hold a working terminal and a flow view with live data from the running lab', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const { url, token } = await live!;
  const { page, errors } = await openPage(browser);
  await openDeck(page, `${url}/slides/?token=${token}&transition=none#/demo-dual`);
  const demo = page.locator('section.present .live');
  await demo.locator('[data-testid="live-source"]').filter({ hasText: /^live$/ }).waitFor({ timeout: 15_000 });
  assert.equal(await demo.getAttribute('data-live-mode'), 'live');
  assert.match(await demo.getByTestId('flow-router-product').innerText(), /embedded router|qdrouterd/, 'the slide says which router runs');
  // The flow view draws the running mesh, and its counters rise with the traffic.
  for (const r of ['router-a', 'router-b', 'router-c']) await demo.locator(`g.router[data-name="${r}"]`).waitFor({ timeout: 15_000 });
  const calls = () => demo.locator('[data-testid="flow-totals"] .row[data-kind="rpc.call"]').getAttribute('data-total').then(Number);
  const callsRow = 'section.present [data-testid="flow-totals"] .row[data-kind="rpc.call"]';
  await page.waitForFunction((row) => Number(document.querySelector(row)?.getAttribute('data-total')) > 0, callsRow, { timeout: 20_000 });
  const before = await calls();
  await page.waitForTimeout(2500);
  assert.ok((await calls()) > before, 'RPC calls keep arriving in the flow view');
  // The backend panel lists the lab's components.
  await demo.locator('[data-testid="backend-panel"]').getByText('router-b').first().waitFor();
  // A step button types its command into the presenter's terminal, and the lab answers.
  await demo.getByRole('button', { name: /Show transports/ }).click();
  await waitForText(page, 'section.present .live-term', /oslo_messaging_notifications\] transport_url = rabbit:/, 20_000);
  await page.screenshot({ path: join(SHOTS, 'live-dual-backends.png') });
  // The failover slide shares the same shell: the terminal moves with the presenter.
  await page.evaluate(() => { location.hash = '#/demo-failover'; });
  await waitForText(page, 'section.present .live-term', /transport_url = rabbit:/, 15_000);
  // The failover demo: kill router-b for real, watch it die, bring it back.
  const fo = page.locator('section.present .live');
  await fo.locator('g.router[data-name="router-b"]').waitFor({ timeout: 15_000 });
  await fo.getByRole('button', { name: /Kill router-b/ }).click();
  await fo.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 20_000 });
  await page.waitForTimeout(3000); // services move to the next router of their URL
  await page.screenshot({ path: join(SHOTS, 'live-failover.png') });
  await fo.getByRole('button', { name: /Restart router-b/ }).click();
  await page.waitForFunction(() => !document.querySelector('section.present g.router.dead[data-name="router-b"]'), null, { timeout: 30_000 });
  const terms = await terminals(url, token);
  assert.deepEqual(terms.map((t) => [t.name, t.clients]), [['presenter', 1]], 'one shell, one attachment');
  assert.deepEqual(errors, [], errors.join('\n'));
  await page.context().close();
});

test('the speaker view shows notes and a timer and opens no second terminal session', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const { url, token } = await live!;
  const { page, errors } = await openPage(browser);
  await openDeck(page, `${url}/slides/?token=${token}#/demo-failover`);
  await page.locator('section.present .live-term .hm-terminal').waitFor({ timeout: 15_000 });
  const sockets: string[] = [];
  const popupWait = page.waitForEvent('popup');
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('s');
  const popup = await popupWait;
  popup.on('websocket', (ws) => sockets.push(ws.url()));
  popup.on('frameattached', (f) => f.page().on('websocket', (ws) => sockets.push(ws.url())));
  await popup.waitForLoadState();
  // The notes of the current slide and the timer are there.
  await popup.waitForFunction(() => /router-b/.test(document.querySelector('.speaker-controls-notes .value')?.textContent ?? ''), null, { timeout: 15_000 });
  assert.ok(await popup.locator('.speaker-controls-time').count(), 'the speaker view shows its timer');
  // Its previews are copies of the deck: pictures, never live sessions.
  const current = popup.frames().find((f) => /receiver/.test(f.url()));
  assert.ok(current, 'the speaker view loads the deck in a preview');
  await current!.waitForFunction(() => (window as unknown as { hmDeck?: { mode: string } }).hmDeck?.mode === 'receiver', null, { timeout: 15_000 });
  await current!.locator('section.present .live.live-static').waitFor({ timeout: 10_000 });
  // The preview pane is taller than 16:9: the slide's title still sits at its top, not letterboxed halfway down.
  const titleAt = await current!.evaluate(() => document.querySelector('section.present h2')!.getBoundingClientRect().top / window.innerHeight);
  assert.ok(titleAt < 0.12, `the preview's title is ${(titleAt * 100).toFixed(0)}% down its pane`);
  await page.waitForTimeout(2000);
  await popup.screenshot({ path: join(SHOTS, 'speaker-view.png') });
  assert.deepEqual(sockets.filter((u) => /terminal|events/.test(u)), [], 'the speaker view opens no terminal or event stream');
  const terms = await terminals(url, token);
  assert.equal(terms.length, 1, `one terminal session (has ${terms.map((t) => t.name).join(', ')})`);
  assert.equal(terms[0].clients, 1, 'only the presenter window is attached to it');
  assert.deepEqual(errors, [], errors.join('\n'));
  await page.context().close();
});

test('the measurement slide shows numbers the running lab measured, with the machine', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const { url, token } = await live!;
  // Lab 7's check, run as a learner runs it from the workbook: it measures the
  // last 30 s of the conductor's calls and names the machine.
  // It needs 50 calls in its window: right after the lab came up, wait for them.
  type Check = { pass: boolean; hint: string; data?: { chart?: { machine?: string } } };
  const call = async (method: string, path: string, body?: unknown) => (await fetch(`${url}/api${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  })).json() as Promise<{ state?: string; message?: string }>;
  // Lab 7 works on the hybrid lab at a rate the learner raised: the workbook's
  // Reset brings the lab to its start, then the step raises the rate.
  let reset = await call('POST', '/labs/07-measure/reset', {});
  for (const end = Date.now() + 120_000; reset.state === 'running' && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 500));
    reset = await call('GET', '/labs/07-measure/reset');
  }
  assert.equal(reset.state, 'done', JSON.stringify(reset));
  await call('POST', '/traffic', { rate: 40 });
  let check: Check = { pass: false, hint: 'not run' };
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 3000))) {
    const res = await fetch(`${url}/api/labs/07-measure/checks/measured-router`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    check = await res.json() as Check;
    if (check.pass) break;
  }
  assert.ok(check.pass, `lab 7 measured the router: ${check.hint}`);
  const machine = check.data?.chart?.machine ?? '';
  assert.ok(machine, 'lab 7 names the machine');
  const { page } = await openPage(browser);
  await openDeck(page, `${url}/slides/?token=${token}#/measured-live`);
  const row = page.locator('section.present tr[data-transport="router"][data-measured="true"]');
  await row.waitFor({ timeout: 20_000 });
  assert.match(await row.locator('.m-p50').innerText(), /^\d+(\.\d+)? ms$/);
  await waitForText(page, 'section.present .measure-machine', /RPC is on the router now/, 10_000);
  const line = await page.locator('section.present .measure-machine').innerText();
  assert.ok(line.includes(`Measured on ${machine}`), `the slide names the machine lab 7 measured on: ${line}`);
  // The router row is lab 7's window (at least its 50 calls); the live line is the last second.
  assert.ok(Number(await row.locator('.m-n').innerText()) >= 50, 'the router row holds lab 7\'s measurement');
  assert.match(await page.getByTestId('measure-live').innerText(), /^Live now, RPC on the router: [\d.]+ calls\/s, p50 [\d.]+ ms, p95 [\d.]+ ms\.$/);
  await page.screenshot({ path: join(SHOTS, 'measured-live.png') });
  await page.context().close();
});

// A static copy of the build (no lab API): what "opened from any static host" gives.
const probeError = (e: string) => /Failed to load resource: the server responded with a status of 404/.test(e);

test('without a lab server the demo slides replay the recordings and say so', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { page, errors } = await openPage(browser);
  const probes: string[] = [];
  page.on('response', (r) => { if (r.status() === 404) probes.push(new URL(r.url()).pathname); });
  await openDeck(page, `${staticHost.url}/slides/#/demo-failover`);
  const demo = page.locator('section.present .live');
  await demo.locator('[data-testid="live-source"]').filter({ hasText: /^recorded run/ }).waitFor({ timeout: 15_000 });
  assert.equal(await demo.getAttribute('data-live-mode'), 'replay');
  assert.match(await demo.locator('.live-term').innerText(), /needs the lab server/);
  for (const b of await demo.locator('button.live-step').all()) assert.ok(await b.isDisabled(), 'steps need a lab');
  await demo.locator('g.router[data-name="router-b"]').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(SHOTS, 'replay-failover.png') });
  // The only failed request is the probe for a lab server.
  assert.deepEqual([...new Set(probes)], ['/api/status']);
  assert.deepEqual(errors.filter((e) => !probeError(e)), [], errors.join('\n'));
  await page.context().close();
});

test('PDF export gives one page per slide, demo slides as pictures', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const { page, errors } = await openPage(browser);
  await openDeck(page, `${staticHost.url}/slides/?print-pdf`);
  await page.waitForSelector('.pdf-page');
  // Print mode lays the slides out after the deck reports ready: wait until reveal.js counts them.
  await page.waitForFunction(() => ((window as unknown as { Reveal?: { getTotalSlides(): number } }).Reveal?.getTotalSlides() ?? 0) > 0);
  const total = await page.evaluate(() => (window as unknown as { Reveal: { getTotalSlides(): number } }).Reveal.getTotalSlides());
  assert.equal(await page.locator('.live-grid').count(), 0, 'no live widget in print');
  assert.equal(await page.locator('.live.live-static').count(), 3, 'every demo as a static picture');
  await page.emulateMedia({ media: 'print' });
  const pdf = await page.pdf({ width: '1280px', height: '720px', printBackground: true, preferCSSPageSize: true });
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
  assert.equal(pages, total, `one PDF page per slide (${pages} pages, ${total} slides)`);
  assert.deepEqual(errors, [], errors.join('\n'));
  await page.context().close();
});

test('overview, fragments, slide numbers and hash navigation work as in any reveal.js deck', { skip: skip ?? false, timeout: 30_000 }, async () => {
  const { page, errors } = await openPage(browser);
  await openDeck(page, `${staticHost.url}/slides/?transition=none#/summary`);
  assert.equal(await page.locator('section.present').getAttribute('id'), 'summary');
  const total = await page.evaluate(() => (window as unknown as { Reveal: { getTotalSlides(): number } }).Reveal.getTotalSlides());
  assert.match(await page.locator('.slide-number').innerText(), new RegExp(`^\\d+\\s*/\\s*${total}$`));
  assert.equal(await page.locator('section.present .fragment.visible').count(), 0);
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.locator('section.present .fragment.visible').count(), 1, 'a key press shows the next fragment');
  await page.keyboard.press('o');
  await page.waitForSelector('.reveal.overview');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('.reveal.overview'));
  await page.evaluate(() => { location.hash = '#/title'; });
  await page.waitForFunction(() => document.querySelector('section.present')?.id === 'title');
  assert.deepEqual(errors, [], errors.join('\n'));
  await page.context().close();
});

test('opened from disk, the offline build shows every slide and replays the demos without any network', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  execFileSync(process.execPath, [vite, 'build', '-c', 'slides/vite.offline.config.ts', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
  const { page, errors } = await openPage(browser);
  const network: string[] = [];
  page.on('request', (r) => { if (!/^(file|blob|data):/.test(r.url())) network.push(r.url()); });
  const deck = pathToFileURL(join(ROOT, 'dist', 'deck', 'slides', 'index.html')).toString();
  await openDeck(page, `${deck}?transition=none`);
  const total = await page.evaluate(() => (window as unknown as { Reveal: { getTotalSlides(): number } }).Reveal.getTotalSlides());
  assert.ok(total >= 35, `all slides are there (${total})`);
  // Fonts come from the bundle, not from the machine.
  assert.ok(await page.evaluate(() => document.fonts.check('30px "Source Sans 3 Variable"')), 'the deck font is loaded');
  await page.evaluate(() => { location.hash = '#/demo-failover'; });
  const demo = page.locator('section.present .live');
  await demo.locator('[data-testid="live-source"]').filter({ hasText: /^recorded run$/ }).waitFor({ timeout: 15_000 });
  assert.match(await demo.locator('[data-testid="live-source"]').getAttribute('title') ?? '', /opened from disk/);
  await demo.locator('g.router[data-name="router-b"]').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(SHOTS, 'offline-failover.png') });
  assert.deepEqual(network, [], 'nothing is fetched from a network');
  assert.deepEqual(errors, [], errors.join('\n'));
  await page.context().close();
});
