// The workshop as its host and an attendee see it, in Debian's Chromium:
// an attendee joins through the join page and lands in their seat's
// workbook; the host dashboard shows the seats, progress moving when a seat
// passes a check, where the room is stuck, a help request on top, and its
// reset and "everyone to lab N" actions working on the real seats.
// Screenshots go to test-artifacts/workshop/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, browserSkipReason, ensureWebBuild, launchBrowser, openPage } from '../helpers/browser.js';
import { waitFor } from '../helpers/lab-env.js';
import { api, isolationSkip, joinSeat, leftovers, startTestWorkshop, waitSeatLab, type TestWorkshop } from '../helpers/workshop.js';

const SHOTS = join(ARTIFACTS, 'workshop');
const skip = isolationSkip || browserSkipReason() || false;

describe('workshop dashboard in Chromium', { skip }, () => {
  let w: TestWorkshop;
  let browser: Browser;
  let host: Page;
  let attendee: Page;
  let base = '';
  let cookieB = '';
  const errors: string[] = [];
  const shot = async (p: Page, name: string) => {
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const row = (label: string) => host.locator(`tr[data-seat="${label}"]`);

  before(async () => {
    ensureWebBuild();
    w = await startTestWorkshop({ seats: 3, topology: 'broker-only', trafficRate: 2 });
    base = w.server.url;
    browser = await launchBrowser();
    ({ page: host } = await openPage(browser, { width: 1400, height: 800 }));
    const a = await openPage(browser);
    attendee = a.page;
    attendee.on('dialog', (d) => void d.accept());
    host.on('dialog', (d) => void d.accept());
    host.on('pageerror', (e) => errors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    if (w) {
      await w.cleanup();
      assert.deepEqual(await leftovers(w.prefix), []);
    }
  });

  it('lets an attendee join from the join page into their own seat\'s workbook', async () => {
    await attendee.goto(w.server.joinUrl);
    await attendee.fill('input[name=name]', 'Ada');
    await shot(attendee, 'join-page');
    await attendee.click('button[type=submit]');
    await attendee.waitForURL(/\/labs\//, { timeout: 240_000 });
    await attendee.waitForSelector('.ws-seat-bar', { timeout: 30_000 });
    assert.match(await attendee.textContent('.ws-seat-bar') ?? '', /Seat 01.*Ada/);
    const j = await joinSeat(base, w.code, 'Grace');
    cookieB = j.cookie;
    assert.equal((await api(base, cookieB, '/workshop/me')).json.label, '02');
    await shot(attendee, 'attendee-workbook');
  });

  it('shows the room live: seats, progress on a passed check, where it is stuck, help on top', async () => {
    const cookieA = (await attendee.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    await Promise.all([waitSeatLab(base, cookieA), waitSeatLab(base, cookieB)]);
    await host.goto(w.server.hostUrl);
    await host.waitForURL(/\/host$/);
    await host.waitForSelector('tr[data-seat="03"]');
    assert.match(await row('03').textContent() ?? '', /free/);
    await waitFor('both seats ready on the dashboard',
      async () => /ready/.test(await row('01').textContent() ?? '') && /ready/.test(await row('02').textContent() ?? ''), 60_000, 500);

    const bar = row('01').locator('.ws-bar[data-lab="01-one-broker"]');
    assert.equal(await bar.getAttribute('data-passed'), '0');
    // Lab 1 starts down. Whether this seat's lab came up before or after Ada's
    // workbook opened lab 1 (which begins it) depends on how fast the seat
    // started, so she brings it down and up herself, as its step 1 has her do;
    // the rule itself is tested in labs-start and labs-mesh.
    assert.equal((await api(base, cookieA, '/api/labs/01-one-broker')).status, 200); // opening the lab begins it
    assert.equal((await api(base, cookieA, '/api/lab/down', { method: 'POST', body: { wait: true } })).status, 200);
    const up = await api(base, cookieA, '/api/lab/up', { method: 'POST', body: { topology: 'broker-only', wait: true } });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    const pass = await api(base, cookieA, '/api/labs/01-one-broker/checks/broker-running', { method: 'POST', body: {} });
    assert.equal(pass.json.pass, true, pass.json.hint);
    await waitFor('seat 01\'s progress bar moves', async () => (await bar.getAttribute('data-passed')) === '1', 20_000, 300);

    // Seat 02 runs a check it has not earned: its hint shows under "where the room is stuck".
    const fail = await api(base, cookieB, '/api/labs/02-split-transports/checks/rpc-url-router', { method: 'POST', body: {} });
    assert.equal(fail.json.pass, false);
    await waitFor('the failing hint counted on the dashboard', async () => (await host.textContent('.ws-stuck') ?? '').includes('1 seat: '), 20_000, 300);

    assert.equal((await api(base, cookieB, '/workshop/help', { method: 'POST', body: { question: 'my services do not restart' } })).status, 202);
    await waitFor('the help request on top', async () => (await host.locator('tbody tr').first().getAttribute('data-seat')) === '02', 20_000, 300);
    assert.match(await row('02').textContent() ?? '', /my services do not restart/);
    await shot(host, 'dashboard-live');
    await row('02').getByRole('button', { name: 'answered' }).click();
    await waitFor('the answered request leaves the top', async () => (await host.locator('tbody tr').first().getAttribute('data-seat')) === '01', 20_000, 300);
  });

  it('lets the host type in a seat\'s terminal, and the attendee sees it', async () => {
    const svg = await host.evaluate(async () => {
      const r = await fetch('/host/api/join.svg');
      return `${r.status} ${r.headers.get('content-type')} ${(await r.text()).slice(0, 60)}`;
    });
    assert.match(svg, /^200 image\/svg\+xml.*<svg/, 'the join QR code');
    const typing = attendee.locator('.ws-host-typing');
    assert.equal(await typing.isHidden(), true);
    const term = await host.context().newPage();
    await term.goto(`${base}/host/seats/1/open?to=${encodeURIComponent('/terminal?name=main')}`);
    await term.waitForSelector('.xterm-screen', { timeout: 30_000 });
    await typing.waitFor({ state: 'visible', timeout: 20_000 });
    await shot(attendee, 'attendee-host-typing');
    await term.close();
    await typing.waitFor({ state: 'hidden', timeout: 20_000 });
  });

  it('pauses every seat\'s traffic, sets it for all, and resumes it at the rate the seats started with, not the lab\'s default', async () => {
    const cookieA = (await attendee.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const rateOf = async (cookie: string) => ((await api(base, cookie, '/api/status')).json as { trafficRate?: number }).trafficRate;
    const rates = async () => Promise.all([cookieA, cookieB].map(rateOf));
    const counts = host.locator('.ws-top .hm-muted');
    const says = async (what: RegExp) => what.test(await counts.textContent() ?? '');
    await waitFor('the dashboard names the room\'s traffic', () => says(/traffic 2 operations\/s per seat/), 20_000, 300);
    await host.getByRole('button', { name: 'pause all traffic' }).click();
    await waitFor('both seats paused', async () => (await rates()).every((r) => r === 0), 30_000, 500);
    await waitFor('the dashboard says so', () => says(/traffic paused/), 20_000, 300);
    await host.getByLabel('traffic per seat').fill('1');
    await host.getByRole('button', { name: 'set for all' }).click();
    await waitFor('both seats at 1 operation/s', async () => (await rates()).every((r) => r === 1), 30_000, 500);
    await waitFor('the dashboard says so', () => says(/traffic 1 operations\/s per seat/), 20_000, 300);
    // an attendee who joins now gets the room's rate, not the one the seats started with
    const late = await joinSeat(base, w.code, 'Linus');
    await waitSeatLab(base, late.cookie);
    await waitFor('the late seat at 1 operation/s', async () => (await rateOf(late.cookie)) === 1, 30_000, 500);
    await host.getByLabel('traffic per seat').fill('');
    await host.getByRole('button', { name: 'set for all' }).click();
    await waitFor('an empty rate refused, naming the field', async () => /set for all: .*rate/.test(await host.textContent('.ws-msg') ?? ''), 20_000, 300);
    await host.getByRole('button', { name: 'resume traffic (2/s)' }).click();
    await waitFor('both seats back at 2 operations/s', async () => (await rates()).every((r) => r === 2), 30_000, 500);
    await waitFor('the dashboard says so', () => says(/traffic 2 operations\/s per seat/), 20_000, 300);
  });

  it('resets one seat, then moves everyone to a lab, on the real seats', async () => {
    // Seat 01 is on lab 1 (its last touched lab); reset clears its progress and brings the lab to its start (down).
    await row('01').getByRole('button', { name: 'reset lab' }).click();
    const cookieA = (await attendee.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    await waitFor('seat 01 reset: lab down, progress cleared', async () => {
      const st = (await api(base, cookieA, '/api/status')).json as { components: { state: string }[] };
      const pr = (await api(base, cookieA, '/api/labs/01-one-broker/progress')).json as { checks: Record<string, unknown> };
      return st.components.every((c) => c.state !== 'running') && Object.keys(pr.checks).length === 0;
    }, 120_000, 1000);
    await waitFor('the dashboard shows seat 01\'s bar back at 0',
      async () => (await row('01').locator('.ws-bar[data-lab="01-one-broker"]').getAttribute('data-passed')) === '0', 20_000, 300);
    assert.ok(await row('02').locator('.ws-comp[data-state="running"]').count() > 0, 'seat 02 is untouched');

    await host.selectOption('select[aria-label=lab]', '01-one-broker');
    await host.getByRole('button', { name: 'go' }).click();
    await waitFor('seat 02 moved to lab 1\'s start too', async () => {
      const st = (await api(base, cookieB, '/api/status')).json as { components: { state: string }[] };
      return st.components.every((c) => c.state !== 'running');
    }, 120_000, 1000);
    await waitFor('the dashboard shows no running component', async () => (await host.locator('.ws-comp[data-state="running"]').count()) === 0, 20_000, 300);
    await waitFor('the dashboard shows both seats at lab 1, step 1', async () => {
      const rows = await Promise.all(['01', '02'].map(async (l) => await row(l).textContent() ?? ''));
      return rows.every((t) => /One broker for everything · step 1/.test(t));
    }, 60_000, 500);
    assert.match(await host.textContent('.ws-log') ?? '', /everyone to lab: 01-one-broker/);
    assert.match(await host.textContent('.ws-log') ?? '', /seat 01\s+reset lab \(progress cleared\)/);
    await shot(host, 'dashboard-after-reset');
    assert.deepEqual(errors, []);
  });
});
