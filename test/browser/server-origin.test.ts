// The lab server against other pages on the same host, in Chromium: a page
// served from another 127.0.0.1 port, in the same browser that holds the lab's
// cookie, tries the state-changing POSTs a no-cors fetch can send and tries to
// frame a live shell; two lab servers on two ports keep their own cookies; and
// every page of the lab still works under its Content-Security-Policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { findFreePortBlock, openLab } from '../../server/backends/index.js';
import { startLabServer, tokenCookieName, type LabServer } from '../../server/http/index.js';
import { LabRuntime, labApiPlugin } from '../../server/http/lab-api.js';
import { eventsPlugin } from '../../server/http/events.js';
import { terminalsPlugin } from '../../server/terminals/index.js';
import { labsPlugin } from '../../server/labs/index.js';
import { ManagementClient } from '../../server/router/index.js';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, screenshot } from '../helpers/browser.js';

const skip = browserSkipReason();
const TOKEN_A = 'A'.repeat(48);
const TOKEN_B = 'B'.repeat(48);
let work = '';
let browser: Browser | null = null;
let a: LabServer | null = null;
let b: LabServer | null = null;
let rtA: LabRuntime | null = null;
let attacker: Server | null = null;
let attackerUrl = '';
let attackerPage = '';

async function labServer(home: string, token: string): Promise<{ server: LabServer; rt: LabRuntime }> {
  const lab = openLab(home);
  const basePort = await findFreePortBlock();
  const rt = new LabRuntime({ lab, home, basePort, connect: (h, p, o) => ManagementClient.connect(h, p, o) });
  const server = await startLabServer({
    home, port: 0, token,
    plugins: [labApiPlugin(rt), eventsPlugin(rt), terminalsPlugin({ shell: ['sh', '-i'] }), labsPlugin({ lab, runtime: rt, basePort })],
  });
  return { server, rt };
}

const api = async (s: LabServer, path: string, token: string) =>
  (await fetch(s.url + path, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>;

before(async () => {
  if (skip) return;
  ensureWebBuild();
  work = mkdtempSync(join(tmpdir(), 'hmlab-origin-'));
  ({ server: a, rt: rtA } = await labServer(join(work, 'lab-a'), TOKEN_A));
  ({ server: b } = await labServer(join(work, 'lab-b'), TOKEN_B));
  // The other page: what any web server on this machine could serve.
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    const framing = `<!doctype html><iframe id="shell" src="${a!.url}/terminal?name=framed" width="800" height="400"></iframe>`;
    res.end(req.url?.startsWith('/frame') ? framing : attackerPage);
  });
  await new Promise<void>((r) => attacker!.listen(0, '127.0.0.1', () => r()));
  const addr = attacker.address();
  attackerUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await a?.close().catch(() => undefined);
  await b?.close().catch(() => undefined);
  attacker?.closeAllConnections();
  await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a page on another port of 127.0.0.1 cannot trigger the lab\'s POSTs with the lab\'s cookie', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const { page } = await openPage(browser!);
  await page.goto(a!.openUrl); // the learner opened the lab: the browser now holds its cookie
  const cookies = await page.context().cookies(a!.url);
  assert.ok(cookies.some((c) => c.name === tokenCookieName(Number(new URL(a!.url).port)) && c.value === TOKEN_A), 'the cookie is named after the port');

  const targets = ['/api/labs/01-one-broker/reset', '/api/lab/down', '/api/components/broker/kill', '/api/labs/02-split-transports/edits/0/apply',
    '/api/terminals/pwn/input', '/api/traffic'];
  attackerPage = `<!doctype html><script>
    window.done = Promise.all(${JSON.stringify(targets)}.map((p) => Promise.all([
      fetch(${JSON.stringify(a!.url)} + p, { method: 'POST', mode: 'no-cors', credentials: 'include' }),
      fetch(${JSON.stringify(a!.url)} + p, {
        method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"data":"touch pwned\\\\r","rate":5}',
      }),
    ]).catch((e) => String(e))));
  </script>`;
  const statuses: { url: string; status: number }[] = [];
  // Only the attacker's POSTs: the lab's own landing page may still be polling /api/status.
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().startsWith(a!.url + '/api/')) statuses.push({ url: r.url(), status: r.status() });
  });
  const progress: string[] = [];
  const unsubscribe = rtA!.bus.subscribe((e) => { if (e.type === 'progress') progress.push(`${e.component}: ${e.message}`); });
  await page.goto(attackerUrl);
  await page.evaluate(() => (window as unknown as { done: Promise<unknown> }).done);
  await page.waitForTimeout(500);
  unsubscribe();

  console.log(`# cross-port POSTs answered: ${statuses.map((s) => `${new URL(s.url).pathname} ${s.status}`).join(', ')}`);
  assert.equal(statuses.length, targets.length * 2, 'every POST reached the server and was answered');
  for (const s of statuses) assert.ok(s.status === 403 || s.status === 415, `${s.url} answered ${s.status}`);
  assert.deepEqual(progress, [], 'no operation started');
  assert.deepEqual((await api(a!, '/api/terminals', TOKEN_A)).terminals, [], 'no shell was started');
  assert.equal((await api(a!, '/api/labs/01-one-broker/reset', TOKEN_A)).state, 'idle', 'no reset began');

  // The lab's own page, same browser, same cookie: its POSTs go through.
  await page.goto(`${a!.url}/`);
  const own = await page.evaluate(async () => {
    const input = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: 'true\r' }) };
    return (await fetch('/api/terminals/own/input', input)).status;
  });
  assert.equal(own, 202);
  await fetch(`${a!.url}/api/terminals/own`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN_A}` } });
  await page.context().close();
});

test('a page on another port cannot frame a live shell', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { page } = await openPage(browser!);
  await page.goto(a!.openUrl);
  await page.goto(`${attackerUrl}/frame`);
  await page.waitForTimeout(2000);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  const framedText = frame ? await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '') : '';
  await screenshot(page, 'server-origin-framed-shell');
  assert.equal((await page.locator('iframe#shell').count()), 1, 'the frame element is there');
  assert.ok(!/hmlab/.test(framedText), `the shell page did not render inside the other page: ${framedText.slice(0, 200)}`);
  assert.deepEqual((await api(a!, '/api/terminals', TOKEN_A)).terminals, [], 'no shell was started through the frame');
  await page.context().close();
});

test('two lab servers on two ports keep their own cookies: neither sees nor overwrites the other\'s', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { page } = await openPage(browser!);
  await page.goto(a!.openUrl);
  await page.goto(b!.openUrl);
  const all = await page.context().cookies();
  const nameA = tokenCookieName(Number(new URL(a!.url).port));
  const nameB = tokenCookieName(Number(new URL(b!.url).port));
  assert.equal(all.find((c) => c.name === nameA)?.value, TOKEN_A, 'the first server\'s cookie survives the second');
  assert.equal(all.find((c) => c.name === nameB)?.value, TOKEN_B);
  // Both pages stay signed in, each with its own token; B's server ignores A's cookie (sent to it, as host cookies are).
  const statusOf = async (p: Page, s: LabServer) => { await p.goto(`${s.url}/`); return p.evaluate(async () => (await fetch('/api/status')).status); };
  assert.equal(await statusOf(page, a!), 200);
  assert.equal(await statusOf(page, b!), 200);
  await page.context().clearCookies({ name: nameB });
  assert.equal(await statusOf(page, b!), 401, 'with only the other server\'s cookie, B refuses');
  await page.context().close();
});

test('every page works under the Content-Security-Policy: deck, speaker view, labs, flow view, terminal',
  { skip: skip ?? false, timeout: 120_000 }, async () => {
  const { page, errors } = await openPage(browser!);
  const violations: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(`${p.url()}: ${m.text()}`); });
  };
  watch(page);
  page.context().on('page', watch);
  await page.goto(a!.openUrl);
  const res = await page.goto(`${a!.url}/slides/`);
  assert.match(res?.headers()['content-security-policy'] ?? '', /frame-ancestors 'self'/);
  await page.locator('.reveal .slides section').first().waitFor();
  await page.waitForFunction(() => document.fonts.status === 'loaded');
  const fonts = await page.evaluate(() => [...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family));
  assert.ok(fonts.some((f) => /Source Sans/.test(f)), `the deck's bundled font loads: ${fonts.join(', ')}`);
  await page.goto(`${a!.url}/slides/#/demo-failover`);
  await page.waitForTimeout(1500);
  await screenshot(page, 'server-origin-csp-deck-demo');
  // the speaker view: reveal.js writes an inline script into an about:blank window
  const [speaker] = await Promise.all([page.context().waitForEvent('page'), page.keyboard.press('s')]);
  await speaker.locator('#current-slide iframe').waitFor({ timeout: 15_000 });
  await speaker.waitForTimeout(1500);
  await screenshot(speaker, 'server-origin-csp-speaker-view');
  assert.ok(await speaker.locator('.speaker-controls-time').count() > 0, 'the speaker view\'s script ran');
  await speaker.close();

  await page.goto(`${a!.url}/labs/`);
  await page.getByText('One broker for everything').first().waitFor({ timeout: 15_000 });
  await screenshot(page, 'server-origin-csp-labs');
  await page.goto(`${a!.url}/flow`);
  await page.getByTestId('flow-connection').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(1000);
  await screenshot(page, 'server-origin-csp-flow');
  await page.goto(`${a!.url}/terminal?name=csp`);
  await page.locator('.hm-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
  await page.locator('.xterm-rows').getByText(/[$#]/).first().waitFor({ timeout: 15_000 });
  await screenshot(page, 'server-origin-csp-terminal');
  await fetch(`${a!.url}/api/terminals/csp`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN_A}` } });
  assert.deepEqual(violations, [], 'no CSP violation on any page');
  assert.deepEqual(errors.filter((e) => /Refused|Content Security/i.test(e)), []);
  await page.context().close();
});

test('a page beyond the event stream\'s client cap says why it cannot connect, and connects once there is room',
  { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { default: WebSocket } = await import('ws');
  const others = await Promise.all(Array.from({ length: 32 }, () => new Promise<InstanceType<typeof WebSocket>>((resolve) => {
    const ws = new WebSocket(`${a!.url.replace('http', 'ws')}/api/events`, { headers: { authorization: `Bearer ${TOKEN_A}` } });
    ws.once('message', () => resolve(ws));
  })));
  const { page } = await openPage(browser!);
  await page.goto(a!.openUrl);
  await page.goto(`${a!.url}/flow`);
  const conn = page.getByTestId('flow-connection');
  await page.waitForFunction(() => /too many event stream clients/.test(document.querySelector('[data-testid="flow-connection"]')?.getAttribute('title') ?? ''),
    undefined, { timeout: 15_000 });
  assert.match(await conn.getAttribute('title') ?? '', /the lab server refused this page: too many event stream clients/);
  await screenshot(page, 'server-origin-events-full');
  for (const ws of others) ws.terminate();
  await conn.getByText('LIVE').waitFor({ timeout: 20_000 });
  await page.context().close();
});
