// Labs 1 to 3 completed in Debian's Chromium the way a learner does it:
// clicking the run, edit and check buttons of the workbook, with a real lab
// server (terminals, event stream, labs) and real backends behind it. Also
// what the learner reads: a lab opened on another lab's state says so and
// offers Reset, stale results do not linger, the last step leads on, the
// terminal holds the tools' tables and no word of the text is broken.
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
  ?? (embeddedRouterAvailable() || findOnPath('qdrouterd') ? null : 'no router: qdrouterd is not installed and the embedded router is not built '
    + '(npm run build)');
const SHOTS = join(ARTIFACTS, 'labs');

let home = '';
let lab: LabEnvironment;
let rt: LabRuntime;
let server: LabServer;
let browser: Browser;
let page: Page;
let errors: string[] = [];
let shotPrefix = '';

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

async function resetLab(from: 'header' | 'notice' = 'header'): Promise<void> {
  page.once('dialog', (d) => void d.accept());
  await page.locator(from === 'header' ? '.wb-top' : '.wb-start').getByRole('button', { name: 'Reset lab' }).click();
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
      assert.equal(await page.locator('.wb-card').count(), 9, 'one card per lab of labs/*/lab.md');
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
      // Lab 1's broker-only lab still runs: the page says so before anything else, with Reset at hand.
      const notice = page.locator('.wb-start');
      await notice.waitFor({ state: 'visible', timeout: 10_000 });
      assert.match((await notice.textContent()) ?? '', /Not this lab's environment: the broker-only lab runs, this lab works on hybrid/);
      await expectFail('router-running'); // and no check passes on it
      assert.match((await page.locator('.action.check[data-check="router-running"] .result').textContent()) ?? '', /Reset lab/);
      await shot('02-not-at-start');
      await resetLab('notice');
      await page.waitForFunction(() => (document.querySelector('.wb-start') as HTMLElement | null)?.hidden === true, undefined, { timeout: 10_000 });
      await expectFail('router-running');
      await runAll();
      await checkUntilPass('router-running');
      assert.equal((await lab.status()).router, router, `the lab runs ${router}`);
      await gotoStep('02-split-transports', 1);
      assert.equal((await page.locator('.wb-status').textContent()) ?? '', '', 'what step 1 sent to the terminal is not said on step 2');
      await expectFail('rpc-url-router');
      const edit = page.locator('.wb-text .action.edit').first();
      await edit.locator('.do-preview').click();
      await edit.locator('[data-op="del"]').first().waitFor();
      await shot('02-edit-preview');
      await applyEdits();
      assert.equal(
        (await page.locator('.action.check[data-check="rpc-url-router"] .result').textContent()) ?? '',
        '',
        'the old "Not yet" goes once the step is done',
      );
      await checkUntilPass('rpc-url-router');
      await gotoStep('02-split-transports', 2);
      await expectFail('rpc-left-broker');
      await runAll();
      await checkUntilPass('rpc-left-broker', 60_000);
      // The last step: the lab is complete, and the next lab is one click away.
      const finish = page.locator('.wb-finish');
      assert.match((await finish.textContent()) ?? '', /Lab complete: every check passed/);
      assert.equal(await page.locator('.wb-pager button', { hasText: 'Next →' }).isHidden(), true);
      await shot('02-done');
      // Back on step 1 an earlier failure is not shown again; its pass is.
      await gotoStep('02-split-transports', 0);
      assert.equal(await page.locator('.action.check[data-check="router-running"] .result').getAttribute('data-state'), 'pass');
      await gotoStep('02-split-transports', 2);
      await finish.getByRole('link', { name: /Next lab: Temporal coupling/ }).click();
      await page.waitForURL(/#\/03-temporal-coupling/);
    });

    test('lab 3: temporal coupling, seen in both numbers', async () => {
      await page.locator('.wb-top h1', { hasText: 'Temporal coupling' }).waitFor();
      // Lab 3 starts where lab 2 ended: no notice.
      await page.locator('.wb-start[data-checked]').waitFor({ state: 'attached', timeout: 10_000 });
      assert.equal(await page.locator('.wb-start').isHidden(), true, 'lab 2 ended where lab 3 starts');
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

    test('the terminal holds hmlab status and qdstat -a whole at 1440x900 and 1280x720', async () => {
      await page.goto(`${server.url}/labs/#/03-temporal-coupling/1`);
      for (const size of [{ width: 1440, height: 900 }, { width: 1280, height: 720 }]) {
        await page.setViewportSize(size);
        await page.reload();
        await page.locator('.wb-terminal .xterm-rows').waitFor();
        await page.waitForTimeout(1000); // the terminal fits itself to its box
        assert.ok(await page.locator('.wb-terminal .xterm-screen').evaluate((el) => el.getBoundingClientRect().width) > 0, 'the terminal is laid out');
        const label = `${size.width}x${size.height}`;
        // The session takes the size the page's terminal fitted to its box.
        let cols = 0;
        for (let end = Date.now() + 10_000; Date.now() < end && cols < 132; await page.waitForTimeout(300)) {
          cols = await page.evaluate(async () => {
            const list = (await (await fetch('/api/terminals')).json()) as { terminals: { name: string; cols: number }[] };
            return list.terminals.find((t) => t.name === 'main')?.cols ?? 0;
          });
        }
        assert.ok(cols >= 132, `${label}: the terminal has ${cols} columns, qdstat -a needs up to 131`);
        /** Types a command into the lab terminal and returns the screen's rows once its output ends in a prompt. */
        const runAndRead = async (command: string, row: RegExp): Promise<string[]> => {
          await page.evaluate(
            (data) => fetch('/api/terminals/main/input', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) }),
            `clear; ${command}\r`,
          );
          const deadline = Date.now() + 20_000;
          let text: string[] = [];
          while (Date.now() < deadline) {
            text = await page.evaluate(() => [...document.querySelectorAll('.wb-terminal .xterm-rows > div')]
              .map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
            const at = text.findIndex((l) => row.test(l));
            if (at >= 0 && text.slice(at + 1).some((l) => /\[hmlab:/.test(l))) return text;
            await page.waitForTimeout(500);
          }
          return text;
        };
        let text = await runAndRead('hmlab status', /^conductor\s/);
        const status = text.find((l) => /^conductor\s/.test(l)) ?? '';
        assert.match(
          status,
          /^conductor\s+running\s+\d+\s+-> router-a \(127\.0\.0\.1:\d+\)\s+oslo\.messaging 14\.0\.3\s+\d+[smh][\dsm]*$/,
          `${label}: the conductor's status row is whole:\n${text.join('\n')}`,
        );
        await shot(`terminal-status-${label}`);
        text = await runAndRead('qdstat -a', /openstack\.org\/om\/rpc\/anycast\/openstack\/compute\s/);
        const address = text.find((l) => /openstack\.org\/om\/rpc\/anycast\/openstack\/compute\s/.test(l)) ?? '';
        assert.match(address, /balanced(\s+\S+){6,}$/, `${label}: qdstat -a keeps each address on one row:\n${text.join('\n')}`);
        await shot(`terminal-qdstat-${label}`);
      }
    });

    test('at 1280x720 no word of any lab breaks across lines or runs out of the text column', async () => {
      await page.setViewportSize({ width: 1280, height: 720 });
      await page.addInitScript('globalThis.__name = (f) => f');
      const res = await fetch(`${server.url}/api/labs`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const labs = (await res.json()) as { labs: { id: string; steps: unknown[] }[] };
      const broken: string[] = [];
      for (const l of labs.labs) {
        for (let s = 0; s < l.steps.length; s++) {
          await page.goto(`${server.url}/labs/#/${l.id}/${s + 1}`);
          await page.waitForURL(new RegExp(`#/${l.id}/${s + 1}$`));
          await page.locator('.wb-text h2').first().waitFor();
          const found = await page.evaluate(() => {
            const out: string[] = [];
            const column = document.querySelector('.wb-text')!;
            const right = column.getBoundingClientRect().left + column.clientWidth;
            const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const text = n.textContent ?? '';
              for (const m of text.matchAll(/\S+/g)) {
                const r = document.createRange();
                r.setStart(n, m.index);
                r.setEnd(n, m.index + m[0].length);
                const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
                // A word may wrap after a hyphen or a slash, as any browser does; never inside letters.
                if (tops.size > 1 && !/[-/]/.test(m[0])) out.push(m[0]);
                // Outside a code block (which scrolls), every word stays inside the column.
                else if (!n.parentElement?.closest('pre') && [...r.getClientRects()].some((x) => x.right > right + 1)) {
                  out.push(`${m[0]} (runs out of the column)`);
                }
              }
            }
            return out;
          });
          for (const w of found) broken.push(`${l.id} step ${s + 1}: "${w}"`);
        }
      }
      await page.goto(`${server.url}/labs/#/08-operating/3`);
      await page.locator('.wb-text h2').first().waitFor();
      await shot('text-1280x720');
      assert.deepEqual(broken, [], 'words broken mid-word');
    });
  });
}
