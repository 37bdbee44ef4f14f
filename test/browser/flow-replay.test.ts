// The flow view replaying recordings with no backends at all: a lab server
// with no lab plugins serves only the pages and the recording files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { syntheticRecording } from '../../widgets/flow/synthetic.js';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, ROOT, screenshot, WEB_ROOT } from '../helpers/browser.js';

const skip = browserSkipReason();
let server: LabServer;
let browser: Browser;
let home: string;

before(async () => {
  if (skip) return;
  ensureWebBuild();
  home = mkdtempSync(join(tmpdir(), 'hmlab-flow-replay-'));
  server = await startLabServer({ home, port: 0, token: 'r'.repeat(48), plugins: [], webRoot: WEB_ROOT });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Serve a synthetic recording under /recordings/NAME.jsonl for this page only. */
async function serveRecording(page: Page, name: string, body: string): Promise<void> {
  await page.route(`**/recordings/${name}.jsonl`, (route) => route.fulfill({ status: 200, contentType: 'application/x-ndjson', body }));
}

const total = (page: Page, kind: string) =>
  page.locator(`[data-testid="flow-totals"] .row[data-kind="${kind}"]`).getAttribute('data-total').then(Number);

test('a replayed failover shows every component, rising counters, a dead router and traffic rerouted', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { page, errors } = await openPage(browser);
  await serveRecording(page, 'synthetic-failover', syntheticRecording({ durationMs: 14_000, messagesPerSecond: 80, killRouterAt: 5_000, startT: Date.now() }));
  await page.goto(`${server.url}/flow?replay=synthetic-failover`);

  // Every component of the recorded lab is drawn.
  for (const name of ['router-a', 'router-b', 'router-c']) await page.locator(`g.router[data-name="${name}"]`).waitFor();
  for (const name of ['conductor', 'compute-1', 'compute-2', 'telemetry']) await page.locator(`g.service[data-name="${name}"]`).waitFor();
  await page.locator('g.broker[data-name="broker"]').waitFor();
  await page.locator('g.queue[data-queue="notifications.info"]').waitFor();
  assert.match(await page.getByTestId('flow-router-product').innerText(), /hmlab-router 0\.1\.0 \(embedded router\) × 3/);
  assert.match(await page.getByTestId('flow-connection').innerText(), /REPLAY/);

  // Counters rise while it plays.
  await page.waitForTimeout(1500);
  const calls1 = await total(page, 'rpc.call');
  const notes1 = await total(page, 'notify.sent');
  await page.waitForTimeout(1500);
  assert.ok((await total(page, 'rpc.call')) > calls1, 'RPC call counter rises');
  assert.ok((await total(page, 'notify.sent')) > notes1, 'notification counter rises');
  assert.equal(await page.locator('g.router.dead').count(), 0, 'no router is dead before the kill');
  await screenshot(page, 'flow-replay-synthetic-before-kill');

  // The kill at 5 s: router-b turns dead, and calls keep completing through the other routers.
  await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 6000 });
  assert.equal(await page.locator('g.router.dead').count(), 1, 'only the killed router is dead');
  await page.getByTestId('flow-banner').getByText(/router-b is down/).waitFor();
  await page.getByTestId('flow-banner').getByText(/failover: compute-1 moved router-b → router-c/).waitFor({ timeout: 5000 });
  assert.match(await page.locator('g.service[data-name="compute-1"] text.name').textContent() ?? '', /→ router-c/);
  const after1 = await total(page, 'rpc.call');
  await page.waitForTimeout(1500);
  assert.ok((await total(page, 'rpc.call')) > after1, 'RPC calls keep flowing after the kill');
  assert.equal(await page.locator('line.mesh-link.dead').count(), 2, "router-b's two inter-router links are drawn dead");
  await screenshot(page, 'flow-replay-synthetic-after-kill');
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('with no lab server, the flow page falls back to the dual-backends recording and says so', { skip: skip ?? false, timeout: 30_000 }, async () => {
  const { page, errors } = await openPage(browser);
  await serveRecording(page, 'dual-backends', syntheticRecording({ durationMs: 8000, messagesPerSecond: 40, startT: Date.now() }));
  await page.goto(`${server.url}/flow`);
  await page.locator('g.router[data-name="router-a"]').waitFor();
  assert.match(await page.getByTestId('stream-reason').innerText(), /needs its token .*: replaying recording "dual-backends"/);
  // The panel is read-only in a replay: no button can act on a lab that is not there.
  await page.getByTestId('panel-toggle').click();
  await page.locator('[data-testid="backend-panel"] tr[data-component="router-b"]').waitFor();
  assert.equal(await page.locator('[data-testid="backend-panel"] button[data-action="kill"]:enabled').count(), 0);
  await screenshot(page, 'flow-replay-fallback-panel');
  // The probe's 401 is the expected answer here; nothing else may fail.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await page.context().close();
});

test('a bad recording name or a missing recording is reported on the page', { skip: skip ?? false, timeout: 30_000 }, async () => {
  const { page } = await openPage(browser);
  await page.goto(`${server.url}/flow?replay=../../etc/passwd`);
  await page.getByText(/is not a recording name/).waitFor();
  await page.goto(`${server.url}/flow?replay=no-such-recording`);
  await page.getByText(/recording "no-such-recording" not found \(HTTP 404/).waitFor();
  await page.context().close();
});

for (const name of ['dual-backends', 'failover', 'regions']) {
  const file = join(ROOT, 'public', 'recordings', `${name}.jsonl`);
  const why = skip ?? (existsSync(file) ? false : `public/recordings/${name}.jsonl is not in this checkout yet`);
  test(`the shipped "${name}" recording replays into the flow view`, { skip: why, timeout: 90_000 }, async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/flow?replay=${name}`);
    await page.locator('g.router, g.service').first().waitFor({ timeout: 15_000 });
    assert.ok(await page.locator('g.service').count() >= 2, 'services are drawn');
    assert.match(await page.getByTestId('flow-connection').innerText(), /REPLAY/);
    // Counters rise: sum of every kind.
    const sum = () => page.locator('[data-testid="flow-totals"] .row[data-kind]')
      .evaluateAll((rows) => rows.reduce((s, r) => s + Number(r.getAttribute('data-total')), 0));
    await page.waitForTimeout(3000);
    const a = await sum();
    await page.waitForTimeout(3000);
    assert.ok((await sum()) > a, 'messages keep arriving in the replay');
    await screenshot(page, `flow-replay-${name}`);
    if (name === 'failover') {
      // The recorded kill of router-b (about 20 s in) plays back: dead router, a client failing over.
      await page.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 30_000 });
      await page.getByTestId('flow-banner').getByText(/failover: .* moved router-b →/).waitFor({ timeout: 10_000 });
      await screenshot(page, 'flow-replay-failover-killed');
    }
    assert.deepEqual(errors, []);
    await page.context().close();
  });
}
