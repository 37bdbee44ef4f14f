// The flow view of a real running lab, through the real `hmlab serve`: every
// component drawn, counters rising, a router killed from the backend panel
// turning dead while traffic keeps flowing through the other routers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, ROOT, screenshot } from '../helpers/browser.js';
import { freePort, findFreePortBlock } from '../../server/backends/index.js';

const skip = browserSkipReason();
let home = '';
let serve: ChildProcess | null = null;
let output = '';
let openUrl = '';
let browser: Browser | null = null;

const cli = (args: string[]) => [join(ROOT, 'server', 'cli', 'main.ts'), ...args];


before(async () => {
  if (skip) return;
  ensureWebBuild();
  home = mkdtempSync(join(tmpdir(), 'hmlab-flow-live-'));
  const port = await freePort();
  const basePort = await findFreePortBlock();
  const args = ['serve', '--home', home, '--port', String(port), '--up', 'hybrid-mesh', '--base-port', String(basePort), '--down-on-exit'];
  serve = spawn(process.execPath, ['--import', 'tsx', ...cli(args)], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  serve.stdout!.on('data', (d) => { output += String(d); });
  serve.stderr!.on('data', (d) => { output += String(d); });
  // Ready when the lab is up and the URL with the token is printed after it.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const m = /lab is up[\s\S]*open: (http:\/\/\S+\?token=\S+)/.exec(output);
    if (m) { openUrl = m[1]; break; }
    if (serve.exitCode !== null) break;
    if (/bringing the lab up failed/.test(output)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!openUrl) throw new Error(`the lab did not come up under "hmlab serve":\n${output}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (serve && serve.exitCode === null && serve.pid) {
    const exited = new Promise<void>((r) => serve!.once('exit', () => r()));
    process.kill(serve.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (serve.exitCode === null) process.kill(serve.pid, 'SIGKILL');
  }
  // --down-on-exit stops the backends; this makes sure of it even if the server died first.
  if (home) {
    spawnSync(process.execPath, ['--import', 'tsx', ...cli(['down', '--home', home])], { cwd: ROOT, timeout: 60_000 });
    rmSync(home, { recursive: true, force: true });
  }
});

/** A counter of the totals box: data-total, or data-ok (calls that succeeded). */
const total = (page: Page, kind: string, attr = 'data-total') =>
  page.locator(`[data-testid="flow-totals"] .row[data-kind="${kind}"]`).getAttribute(attr).then(Number);

async function rises(page: Page, kind: string, withinMs: number, attr = 'data-total'): Promise<boolean> {
  const start = await total(page, kind, attr);
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if ((await total(page, kind, attr)) > start) return true;
    await page.waitForTimeout(250);
  }
  return false;
}

test('the flow view of a running lab: every component, rising counters, a killed router dead and routed around', {
  skip: skip ?? false, timeout: 150_000,
}, async () => {
  const { page, errors } = await openPage(browser!);
  await page.goto(openUrl); // sets the token cookie
  await page.goto(new URL('/flow', openUrl).href);
  await page.getByTestId('flow-connection').getByText('LIVE').waitFor({ timeout: 10_000 });

  for (const name of ['router-a', 'router-b', 'router-c']) await page.locator(`g.router[data-name="${name}"]`).waitFor();
  for (const name of ['conductor', 'compute-1', 'compute-2', 'telemetry']) await page.locator(`g.service[data-name="${name}"]`).waitFor();
  await page.locator('g.broker[data-name="broker"]').waitFor();
  assert.equal(await page.locator('g.router.dead, g.service.dead, g.broker.dead').count(), 0, 'everything runs');
  assert.match(
    await page.getByTestId('flow-router-product').innerText(),
    /RPC router: (hmlab-router \S+ \(embedded router\)|qpid-dispatch-router \S+ \(Qpid Dispatch Router\)) × 3/,
  );

  assert.ok(await rises(page, 'rpc.call', 15_000), 'RPC call counter rises');
  assert.ok(await rises(page, 'notify.sent', 15_000), 'notification counter rises');
  await page.waitForTimeout(2000);
  await screenshot(page, 'flow-live-running');

  // Record from the panel, then kill router-b there, as a presenter would.
  await page.getByTestId('panel-toggle').click();
  const panel = page.getByTestId('backend-panel');
  await panel.getByRole('button', { name: '● Record' }).click();
  await panel.getByText(/recording the event stream as "/).waitFor({ timeout: 5000 });
  const row = panel.locator('tr[data-component="router-b"]');
  await page.waitForTimeout(1500);
  await row.locator('button[data-action="kill"]').click();
  const killedAt = Date.now();
  await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 5000 });
  const deadAfter = Date.now() - killedAt;
  assert.ok(deadAfter < 2000, `router-b drawn dead ${deadAfter} ms after the kill (want < 2 s)`);
  await row.and(page.locator('[data-state="failed"], [data-state="stopped"]')).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('g.router.dead').count(), 1, 'only the killed router is dead');

  // Services that were on router-b reconnect to another router; calls flow again through the others.
  await page.waitForFunction(
    () => [...document.querySelectorAll('g.service text.name')].every((t) => !/→ router-b$/.test(t.textContent ?? '')),
    null,
    { timeout: 20_000 },
  );
  // A call in flight through router-b fails after its timeout; later calls succeed.
  assert.ok(await rises(page, 'rpc.call', 30_000, 'data-ok'), 'RPC calls keep succeeding after the kill');
  assert.ok(await rises(page, 'notify.sent', 10_000), 'notifications keep flowing (the broker is not involved in the kill)');
  await page.waitForTimeout(1000);
  await screenshot(page, 'flow-live-after-kill');

  // Stop recording and replay what was recorded: the same view, router-b dying again.
  await panel.getByRole('button', { name: '■ Stop recording' }).click();
  const link = page.getByTestId('recording-link');
  await link.waitFor({ timeout: 5000 });
  await link.click();
  await page.waitForURL(/replay=/);
  await page.getByTestId('flow-connection').getByText(/REPLAY/).waitFor({ timeout: 10_000 });
  for (const name of ['router-a', 'router-b', 'router-c', 'conductor', 'compute-1', 'compute-2', 'telemetry']) {
    await page.locator(`[data-name="${name}"]`).waitFor();
  }
  await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 10_000 });
  await screenshot(page, 'flow-live-replay-of-recording');
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('the backend panel brings the lab down and a different topology up, showing progress', { skip: skip ?? false, timeout: 150_000 }, async () => {
  const { page, errors } = await openPage(browser!);
  await page.goto(openUrl);
  await page.goto(new URL('/flow?panel=1', openUrl).href);
  const panel = page.getByTestId('backend-panel');
  await panel.locator('tr[data-component="router-a"]').waitFor();

  await panel.getByRole('button', { name: 'Down' }).click();
  await panel.getByTestId('panel-message').getByText(/down done/).waitFor({ timeout: 60_000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid="backend-panel"] tr[data-component]')]
      .every((tr) => tr.getAttribute('data-state') === 'stopped'),
    null,
    { timeout: 10_000 },
  );
  assert.ok(await page.locator('g.router.dead').count() >= 3, 'stopped routers are drawn down');

  await panel.locator('select').selectOption('broker-only');
  await panel.getByRole('button', { name: 'Up' }).click();
  // Progress of each component shows while the lab comes up.
  await panel.getByTestId('panel-progress').locator('li', { hasText: 'broker' }).waitFor({ timeout: 10_000 });
  await screenshot(page, 'flow-live-panel-up-progress');
  await panel.getByTestId('panel-message').getByText(/up done/).waitFor({ timeout: 90_000 });
  for (const name of ['broker', 'compute-1', 'compute-2', 'conductor', 'telemetry']) {
    await panel.locator(`tr[data-component="${name}"][data-state="running"]`).waitFor({ timeout: 10_000 });
  }
  // The view follows the new topology: no routers, RPC over the broker.
  await page.getByTestId('flow-router-product').getByText('RPC over the broker (no router)').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('g.router').count(), 0);
  assert.ok(await rises(page, 'rpc.call', 20_000, 'data-ok'), 'RPC calls succeed over the broker');
  await screenshot(page, 'flow-live-broker-only');
  assert.deepEqual(errors, []);
  await page.context().close();
});
