// Labs 1 to 3 completed in Debian's Chromium the way a learner does it:
// clicking the run, edit and check buttons of the workbook, with a real lab
// server (terminals, event stream, labs) and real backends behind it.
// Screenshots go to test-artifacts/labs/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openLab, findFreePortBlock, embeddedRouterAvailable, findOnPath, type LabEnvironment } from '../../server/backends/index.js';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { LabRuntime, labApiPlugin } from '../../server/http/lab-api.js';
import { eventsPlugin } from '../../server/http/events.js';
import { ManagementClient } from '../../server/router/index.js';
import { terminalsPlugin } from '../../server/terminals/index.js';
import { labsPlugin } from '../../server/labs/index.js';
import { ARTIFACTS, browserSkipReason, ensureWebBuild, launchBrowser, openPage } from '../helpers/browser.js';
import { useLabRouter, type RouterChoice } from '../helpers/router-choice.js';

const TOKEN = 'labs-browser-token-0123456789abcdef0123456789abcd';
const skip = browserSkipReason()
  ?? (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? null : 'RabbitMQ is not installed (apt-get install rabbitmq-server)')
  ?? (embeddedRouterAvailable() || findOnPath('qdrouterd') ? null : 'no router: qdrouterd is not installed and the embedded router is not built (npm run build)');
const SHOTS = join(ARTIFACTS, 'labs');
let shotPrefix = '';

let home = '';
let lab: LabEnvironment;
let rt: LabRuntime;
let server: LabServer;
let browser: Browser;
let page: Page;
let errors: string[] = [];

async function shot(name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${shotPrefix}${name}.png`) });
}

/** Click a check until it passes (steps with live traffic need a few seconds). */
async function checkUntilPass(id: string, timeoutMs = 40_000): Promise<string> {
  const box = page.locator(`.action.check[data-check="${id}"]`);
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    await box.locator('.do-check').click();
    await page.waitForFunction((el) => el?.getAttribute('data-state') !== 'running', await box.locator('.result').elementHandle(), { timeout: 15_000 });
    const state = await box.locator('.result').getAttribute('data-state');
    last = (await box.locator('.result').textContent()) ?? '';
    if (state === 'pass') return last;
    if (Date.now() > end) assert.fail(`check ${id} did not pass: ${last}`);
    await page.waitForTimeout(1500);
  }
}

async function expectFail(id: string): Promise<void> {
  const box = page.locator(`.action.check[data-check="${id}"]`);
  await box.locator('.do-check').click();
  await page.waitForFunction((el) => el?.getAttribute('data-state') !== 'running', await box.locator('.result').elementHandle(), { timeout: 15_000 });
  assert.equal(await box.locator('.result').getAttribute('data-state'), 'fail', `${id} should fail before its step`);
}

async function runAll(): Promise<void> {
  const buttons = page.locator('.wb-text .action.run .do-run');
  const n = await buttons.count();
  for (let i = 0; i < n; i++) {
    await buttons.nth(i).click();
    await page.locator('.wb-text .action.run').nth(i).and(page.locator('[data-done="true"]')).waitFor({ timeout: 10_000 });
  }
}

async function applyEdits(): Promise<void> {
  const edits = page.locator('.wb-text .action.edit');
  for (let i = 0; i < await edits.count(); i++) {
    await edits.nth(i).locator('.do-preview').click();
    await edits.nth(i).locator('.wb-diff').waitFor();
    await edits.nth(i).locator('.do-apply').click();
    await edits.nth(i).locator('[data-op="add"]').first().waitFor();
    await page.locator('.wb-text .action.edit[data-done="true"]').nth(i).waitFor();
  }
}

async function gotoStep(labId: string, n: number): Promise<void> {
  await page.locator('.wb-step-tab').nth(n).click();
  await page.waitForURL(new RegExp(`#/${labId}/${n + 1}$`));
}

async function resetLab(): Promise<void> {
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Reset lab' }).click();
  await page.waitForFunction(() => {
    const s = document.querySelector('.wb-status') as HTMLElement | null;
    return !!s && (s.dataset.kind === 'ok' || s.dataset.kind === 'error') && !/^Resetting/.test(s.textContent ?? '');
  }, undefined, { timeout: 120_000 });
  assert.equal(await page.locator('.wb-status').getAttribute('data-kind'), 'ok', (await page.locator('.wb-status').textContent()) ?? '');
}

/** Labs 1 to 3 in the workbook with one router; each router has its own test file, so each stays within the per-file time limit. */
export function workbookLabs({ router, skip: routerSkip }: RouterChoice): void {
  describe(`the workbook in Chromium completes labs 1 to 3 (${router})`, { skip: skip ?? routerSkip }, () => {
    useLabRouter(router);
    before(async () => {
      shotPrefix = router === 'embedded' ? '' : `${router}-`;
      ensureWebBuild();
      home = mkdtempSync(join(tmpdir(), 'hmlab-labs-browser-'));
      const basePort = await findFreePortBlock();
      lab = openLab(home);
      rt = new LabRuntime({ lab, connect: (h, p, o) => ManagementClient.connect(h, p, o), home, basePort });
      server = await startLabServer({
        home, port: 0, token: TOKEN,
        plugins: [labApiPlugin(rt), eventsPlugin(rt), terminalsPlugin(), labsPlugin({ lab, runtime: rt, basePort })],
      });
      await rt.start();
      browser = await launchBrowser();
      ({ page, errors } = await openPage(browser));
      await page.goto(`${server.url}/labs/?token=${TOKEN}`);
    });
    after(async () => {
      await browser?.close().catch(() => {});
      await rt?.stop().catch(() => {});
      await server?.close().catch(() => {});
      await lab?.down().catch(() => {});
      if (home) rmSync(home, { recursive: true, force: true });
    });

    test('the lab list shows every lab with its progress', async () => {
      await page.locator('.wb-card').first().waitFor();
      assert.ok(await page.locator('.wb-card').count() >= 8);
      assert.equal(await page.locator('.wb-card-link').first().evaluate((el) => el === document.activeElement), true, 'the first lab has the keyboard focus');
      await shot('00-list');
    });

    test('lab 1: start the lab and see RPC and notifications on one broker', async () => {
      await page.locator('.wb-card-link').first().press('Enter'); // keyboard: open the first lab
      await page.waitForURL(/#\/01-one-broker/);
      await page.locator('.wb-terminal .xterm').waitFor();
      await expectFail('broker-running');
      const cmd = await page.locator('.wb-text .action.run code').first().textContent();
      assert.match(cmd ?? '', /^hmlab up --topology broker-only --base-port \d+$/);
      await runAll();
      await checkUntilPass('broker-running', 60_000);
      await shot('01-step1');
      for (const [step, id] of [[1, 'rpc-on-broker'], [2, 'notifications-on-broker'], [3, 'one-transport']] as const) {
        await gotoStep('01-one-broker', step);
        await runAll();
        await checkUntilPass(id);
        await shot(`01-step${step + 1}`);
      }
      assert.equal(await page.locator('.wb-step-tab[data-done]').count(), 4, 'every step is marked done');
      // Progress comes back from the server after a reload.
      await page.reload();
      await page.locator('.wb-step-tab').first().waitFor();
      assert.equal(await page.locator('.wb-step-tab[data-done]').count(), 4, 'progress survives a reload');
      assert.equal(await page.locator('.action.check[data-check="one-transport"] .result').getAttribute('data-state'), 'pass');
    });

    test('lab 2: split the transports with the run and edit buttons', async () => {
      await page.goto(`${server.url}/labs/#/`);
      await page.locator('.wb-card[data-lab="01-one-broker"][data-done]').waitFor();
      await page.locator('.wb-card[data-lab="02-split-transports"] .wb-card-link').click();
      await page.waitForURL(/#\/02-split-transports/);
      await resetLab();
      await expectFail('router-running');
      await runAll();
      await checkUntilPass('router-running');
      assert.equal((await lab.status()).router, router, `the lab runs ${router}`);
      await gotoStep('02-split-transports', 1);
      await expectFail('rpc-url-router');
      const edit = page.locator('.wb-text .action.edit').first();
      await edit.locator('.do-preview').click();
      await edit.locator('[data-op="del"]').first().waitFor();
      await shot('02-edit-preview');
      await applyEdits();
      await checkUntilPass('rpc-url-router');
      await gotoStep('02-split-transports', 2);
      await expectFail('rpc-left-broker');
      await runAll();
      await checkUntilPass('rpc-left-broker', 60_000);
      await shot('02-done');
    });

    test('lab 3: temporal coupling, seen in both numbers', async () => {
      await page.goto(`${server.url}/labs/#/03-temporal-coupling`);
      await page.locator('.wb-step-tab').first().waitFor();
      await resetLab();
      await expectFail('notifications-queued');
      await runAll();
      await checkUntilPass('notifications-queued');
      await gotoStep('03-temporal-coupling', 1);
      await runAll();
      const failed = await checkUntilPass('rpc-calls-fail', 60_000);
      assert.match(failed, /RPC call\(s\) failed/);
      await shot('03-rpc-failed');
      await gotoStep('03-temporal-coupling', 2);
      await expectFail('queue-drained');
      await runAll();
      await checkUntilPass('queue-drained', 60_000);
      await shot('03-done');
      assert.deepEqual(errors.filter((e) => !/WebSocket|net::ERR/.test(e)), [], 'no page errors');
    });
  });
}
