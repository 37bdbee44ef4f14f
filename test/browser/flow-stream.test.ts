// The browser's event streams as a presenter meets them: the live stream shows
// when the lab server goes away and comes back by itself; a looping replay
// starts the picture over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startLabServer, type LabServer, type ServerPlugin } from '../../server/http/index.js';
import type { LabEvent } from '../../common/wire.js';
import { syntheticEvents, syntheticRecording } from '../../widgets/flow/synthetic.js';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, screenshot, WEB_ROOT } from '../helpers/browser.js';

const skip = browserSkipReason();
const TOKEN = 's'.repeat(48);
let browser: Browser;
let home: string;

/** A stand-in event source: the real WebSocket route and auth, greeting with a lab's status, then a call every 100 ms. */
function fakeEvents(): ServerPlugin {
  const timers = new Set<NodeJS.Timeout>();
  return {
    name: 'fake-events',
    activate(ctx) {
      ctx.api.get('/status', (_req, res) => { res.json((syntheticEvents({ durationMs: 0 })[0] as Extract<LabEvent, { type: 'hello' }>).status); });
      ctx.ws('/api/events', (ws) => {
        const hello = syntheticEvents({ durationMs: 0, startT: Date.now() })[0];
        ws.send(JSON.stringify(hello));
        let n = 0;
        const timer = setInterval(() => {
          const t = Date.now();
          const id = `live-${++n}`;
          ws.send(JSON.stringify({ type: 'message', t, event: { t, service: 'compute-1', kind: 'rpc.request', id, target: { topic: 'compute' } } }));
          ws.send(JSON.stringify({ type: 'message', t, event: { t, service: 'conductor', kind: 'rpc.call', id, ok: true, latencyMs: 2 } }));
        }, 100);
        timers.add(timer);
        ws.on('close', () => { clearInterval(timer); timers.delete(timer); });
      });
    },
    dispose() { for (const t of timers) clearInterval(t); },
  };
}

before(async () => {
  if (skip) return;
  ensureWebBuild();
  home = mkdtempSync(join(tmpdir(), 'hmlab-flow-stream-'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

test('the live stream shows a lost lab server and reconnects when it is back', { skip: skip ?? false, timeout: 60_000 }, async () => {
  let server: LabServer = await startLabServer({ home, port: 0, token: TOKEN, plugins: [fakeEvents()], webRoot: WEB_ROOT });
  const port = Number(new URL(server.url).port);
  try {
    const { page } = await openPage(browser);
    await page.goto(`${server.url}/flow?token=${TOKEN}`);
    const conn = page.getByTestId('flow-connection');
    await conn.getByText('LIVE').waitFor({ timeout: 10_000 });
    await page.locator('g.router[data-name="router-b"]').waitFor();

    await server.close();
    await conn.getByText('RECONNECTING…').waitFor({ timeout: 10_000 });
    await screenshot(page, 'flow-stream-reconnecting');
    // The picture stays: the last known lab is still drawn while the server is away.
    assert.equal(await page.locator('g.router').count(), 3);

    server = await startLabServer({ home, port, token: TOKEN, plugins: [fakeEvents()], webRoot: WEB_ROOT });
    await conn.getByText('LIVE').waitFor({ timeout: 15_000 });
    const calls = () => page.locator('[data-testid="flow-totals"] .row[data-kind="rpc.call"]').getAttribute('data-total').then(Number);
    const before = await calls();
    await page.waitForTimeout(1000);
    assert.ok((await calls()) > before, 'events flow again after the reconnect');
    await page.context().close();
  } finally {
    await server.close();
  }
});

test('a looping replay starts the picture over at its end', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [], webRoot: WEB_ROOT });
  try {
    const { page, errors } = await openPage(browser);
    const body = syntheticRecording({ durationMs: 5000, messagesPerSecond: 40, killRouterAt: 2500, startT: Date.now() });
    await page.route('**/recordings/short-loop.jsonl', (r) => r.fulfill({ status: 200, body }));
    await page.goto(`${server.url}/flow?replay=short-loop&loop=1`);
    await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 10_000 });
    // After the end (5 s) and a pause, the lab is whole again and counting from the start.
    await page.waitForFunction(() => document.querySelectorAll('g.router.dead').length === 0, null, { timeout: 10_000 });
    await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 10_000 });
    const total = Number(await page.locator('[data-testid="flow-totals"] .row[data-kind="rpc.call"]').getAttribute('data-total'));
    assert.ok(total < 5 * 40 * 0.4 * 1.5, `counters restarted with the loop (rpc.call total ${total})`);
    assert.match(await page.getByTestId('flow-connection').innerText(), /REPLAY/);
    assert.deepEqual(errors, []);
    await page.context().close();
  } finally {
    await server.close();
  }
});
