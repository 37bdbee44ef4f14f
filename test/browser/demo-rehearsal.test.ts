// A rehearsal of the talk's two live demos, as a presenter gives them: the
// deck at 1440x900 on a lab that already ran (traffic, a killed router), every
// numbered button pressed in order, and after each what the flow view says
// checked against what the speaker notes promise: no false alarm while the
// mesh restarts, counters from zero, no traffic before "Start traffic",
// notifications into a consumed broker queue, a killed router dead at once,
// its clients failing over, the one call in flight failing while the rest
// carry on, and the router back after its restart. The numbers it measures
// are printed, for the notes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { serveLab, type ServedLab } from '../helpers/serve.js';
import { DEMOS } from '../../slides/deck/demos.js';

const skip = browserSkipReason();
let lab: ServedLab | null = null;
let browser: Browser | null = null;

before(async () => {
  if (skip) return;
  ensureWebBuild();
  // The presenter's machine: "npm start" brought a lab up, and it ran.
  lab = await serveLab({ up: 'hybrid-mesh', prefix: 'hmlab-rehearsal-' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await lab?.close();
});

const slide = (page: Page) => page.locator('section.present .live');
const total = (demo: Locator, kind: string, attr = 'data-total') =>
  demo.locator(`[data-testid="flow-totals"] .row[data-kind="${kind}"]`).getAttribute(attr).then(Number);
const bannerText = (demo: Locator) => demo.getByTestId('flow-banner').innerText().catch(() => '');

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await cond()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

async function press(demo: Locator, n: number): Promise<void> {
  await demo.locator('button.live-step').nth(n - 1).click();
}

/**
 * Readable from the back of the room, at the deck's sizes: the legend in
 * view beside the notices, every queue label inside its pipe, the broker
 * box and every node inside the diagram.
 */
async function assertFlowReadable(page: Page, name: string): Promise<void> {
  for (const size of [{ width: 1440, height: 900 }, { width: 1280, height: 720 }]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(1200);
    const where = `${name} at ${size.width}x${size.height}`;
    await screenshot(page, `rehearsal-${name}-${size.width}x${size.height}`);
    const problems = await page.evaluate(() => {
      const out: string[] = [];
      const flow = document.querySelector('section.present [data-testid="flow-view"]')!;
      const view = flow.getBoundingClientRect();
      const inside = (r: DOMRect, box: DOMRect) => r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
      const legend = flow.querySelector('.hm-flow-legend')!.getBoundingClientRect();
      if (!legend.height || !inside(legend, view)) {
        out.push(`the legend is out of view (${legend.top.toFixed(0)}-${legend.bottom.toFixed(0)} px, ` +
          `the view ${view.top.toFixed(0)}-${view.bottom.toFixed(0)})`);
      }
      for (const b of flow.querySelectorAll('.hm-flow-banner > div')) {
        if (!inside(b.getBoundingClientRect(), view)) out.push(`a notice is cut: ${b.textContent}`);
      }
      const stage = flow.querySelector('.hm-flow-stage')!.getBoundingClientRect();
      for (const n of flow.querySelectorAll('g.broker rect.body, g.router circle.body, g.service rect.body')) {
        if (!inside(n.getBoundingClientRect(), stage)) out.push(`${n.parentElement?.getAttribute('data-name')} is cut by the diagram's edge`);
      }
      for (const q of flow.querySelectorAll('g.queue')) {
        const pipe = (q.querySelector('rect.pipe') as SVGGraphicsElement).getBoundingClientRect();
        const label = q.querySelector('text.qname') as SVGGraphicsElement;
        if (label.getBoundingClientRect().right > pipe.right + 1) out.push(`queue label "${label.textContent}" runs out of its pipe`);
      }
      return out;
    });
    assert.deepEqual(problems, [], `${where}:\n${problems.join('\n')}`);
  }
}

/** The speaker notes of a demo slide name its steps, in the order of its buttons. */
async function notesFollowSteps(page: Page, id: string, name: keyof typeof DEMOS): Promise<string> {
  const notes = await page.locator(`section#${id} aside.notes`).textContent() ?? '';
  let at = -1;
  for (const [i, step] of DEMOS[name].steps.entries()) {
    const here = notes.indexOf(`${i + 1}, ${step.label}`);
    assert.ok(here > at, `the notes of ${id} say "${i + 1}, ${step.label}" after the steps before it`);
    at = here;
  }
  return notes;
}

test('rehearsal: both live demo slides, every button in order, the flow view saying what the notes say',
  { skip: skip ?? false, timeout: 240_000 }, async () => {
  // The lab ran before the talk: traffic, then a router killed, so it has counters, a failover, a dead router.
  lab!.hmlab(['traffic', '10']);
  const { page, errors } = await openPage(browser!, { width: 1440, height: 900 });
  await page.addInitScript('globalThis.__name = (f) => f');
  await page.goto(lab!.openUrl);
  await page.goto(new URL('/slides/?transition=none#/demo-dual', lab!.openUrl).href);
  const demo = slide(page);
  await demo.getByTestId('live-source').filter({ hasText: /^live$/ }).waitFor({ timeout: 20_000 });
  await until('calls counted from the running lab', async () => (await total(demo, 'rpc.call')) > 0, 30_000);
  lab!.hmlab(['kill', 'router-b']);
  await until('router-b drawn dead', async () => (await demo.locator('g.router.dead[data-name="router-b"]').count()) === 1, 10_000);
  await until('the old lab\'s failover shown', async () => /failover: compute-2 moved router-b/.test(await bannerText(demo)), 15_000);
  await notesFollowSteps(page, 'demo-dual', 'dual-backends');

  // 1, Start the mesh: down (no alarm: nothing crashed), up afresh (no failover: services start on their routers).
  // What the banner said before (the kill of the old lab) is not an alarm of the restart.
  const earlier = new Set((await bannerText(demo)).split('\n').map((l) => l.trim()));
  const alarms = new Set<string>();
  await press(demo, 1);
  // Until the new lab runs: every component running in the panel.
  const panelRunning = async () => (await demo.locator('[data-testid="backend-panel"] tr[data-component][data-state="running"]').count()) === 8;
  await until('hmlab down ends (the panel shows the components stopped)', async () => {
    for (const l of (await bannerText(demo)).split('\n')) if (l.trim()) alarms.add(l.trim());
    return (await demo.locator('[data-testid="backend-panel"] tr[data-component][data-state="stopped"]').count()) >= 4;
  }, 60_000);
  const upMs = await until('the mesh comes up', async () => {
    for (const l of (await bannerText(demo)).split('\n')) if (l.trim()) alarms.add(l.trim());
    return panelRunning();
  }, 120_000);
  await page.waitForTimeout(3000);
  for (const l of (await bannerText(demo)).split('\n')) if (l.trim()) alarms.add(l.trim());
  assert.deepEqual([...alarms].filter((l) => /is down|failover/.test(l) && !earlier.has(l)), [], 'a deliberate down and a fresh up raise no alarm');
  assert.equal(await demo.locator('g.router.dead, g.service.dead, g.broker.dead').count(), 0, 'everything runs');
  assert.equal(await total(demo, 'rpc.call'), 0, 'the new lab counts from zero, and no traffic runs yet');
  assert.equal(await demo.locator('[data-testid="flow-totals"] .row.failed').count(), 0, 'no failed calls carried over');
  await screenshot(page, 'rehearsal-1-start-the-mesh');

  // 2, Show transports: the terminal shows the two transport_url lines, underscores and all.
  await press(demo, 2);
  await page.waitForFunction(() => {
    const t = document.querySelector('section.present .live-term .xterm-rows')?.textContent ?? '';
    return /\[DEFAULT\] transport_url = amqp:/.test(t) && /\[oslo_messaging_notifications\] transport_url = rabbit:/.test(t);
  }, null, { timeout: 30_000 });
  assert.equal(await total(demo, 'rpc.call'), 0, 'still no traffic: showing the configuration starts none');
  await screenshot(page, 'rehearsal-2-show-transports');

  // 3, Start traffic: RPC calls over the mesh, notifications into the broker, telemetry consuming them.
  await press(demo, 3);
  const firstCallMs = await until('RPC calls counted', async () => (await total(demo, 'rpc.call')) > 0, 30_000);
  await until('notifications sent and delivered', async () => (await total(demo, 'notify.received')) > 0, 30_000);
  await until('the notification queue is drawn with its consumer', async () => {
    const q = await demo.locator('g.queue text.qname').allTextContents();
    return q.some((t) => /^notifications\.info/.test(t) && !/no consumer/.test(t));
  }, 20_000);
  await page.waitForTimeout(2000);
  await screenshot(page, 'rehearsal-3-start-traffic');
  await assertFlowReadable(page, 'traffic');

  // The failover demo: same lab, same shell.
  await page.evaluate(() => { location.hash = '#/demo-failover'; });
  const fo = slide(page);
  await fo.locator('g.router[data-name="router-b"]').waitFor({ timeout: 15_000 });
  await notesFollowSteps(page, 'demo-failover', 'failover');
  // 1, Traffic on: it keeps running at 10 operations a second.
  await press(fo, 1);
  const before1 = await total(fo, 'rpc.call');
  await until('calls keep rising', async () => (await total(fo, 'rpc.call')) > before1 + 5, 15_000);
  const onB = await page.evaluate(() => [...document.querySelectorAll('section.present g.service text.name')]
    .map((t) => t.textContent ?? '').filter((t) => /→ router-b$/.test(t)));
  assert.ok(onB.length > 0, 'a service is on router-b before the kill');
  await screenshot(page, 'rehearsal-4-failover-traffic');

  // 2, Kill router-b: dead at once, its clients move, the call in flight fails at its timeout, the rest carry on.
  await press(fo, 2);
  const pressed = Date.now();
  const deadMs = await until('router-b drawn dead', async () => (await fo.locator('g.router.dead[data-name="router-b"]').count()) === 1, 10_000);
  const okAtKill = await total(fo, 'rpc.call', 'data-ok');
  const movedMs = await until('the services on router-b shown moving to another router',
    async () => /failover: \S+ moved router-b → router-[ac]/.test(await bannerText(fo)), 15_000);
  assert.match(await bannerText(fo), /router-b is down: killed with SIGKILL/);
  await screenshot(page, 'rehearsal-5-kill-router-b');
  await assertFlowReadable(page, 'after-kill');
  const failedMs = await until('the call in flight through router-b fails',
    async () => (await fo.locator('[data-testid="flow-totals"] .row.failed').count()) > 0, 30_000);
  const okBeforeFail = (await total(fo, 'rpc.call', 'data-ok')) - okAtKill;
  const failed = Number((await fo.locator('[data-testid="flow-totals"] .row.failed .num').innerText()).replace(/\D/g, ''));
  assert.ok(failed >= 1 && failed <= 3, `only the calls in flight fail (${failed})`);
  // Until that failure, the other calls carried on: at 10 ops/s, mostly calls, well over half of them.
  const waitedS = (Date.now() - pressed - deadMs) / 1000;
  assert.ok(okBeforeFail >= waitedS * 3, `${okBeforeFail} calls succeeded in the ${waitedS.toFixed(1)} s before the failure: the rest carry on`);
  await page.waitForTimeout(1500);
  await screenshot(page, 'rehearsal-6-call-failed');

  // 3, Restart router-b: it rejoins, nothing is dead any more.
  await press(fo, 3);
  const backMs = await until('router-b alive again', async () => (await fo.locator('g.router.dead').count()) === 0, 30_000);
  await page.waitForTimeout(2000);
  assert.doesNotMatch(await bannerText(fo), /is down/);
  await screenshot(page, 'rehearsal-7-restart-router-b');
  assert.deepEqual(errors, [], errors.join('\n'));
  console.log(`rehearsal measured: mesh up ${(upMs / 1000).toFixed(1)} s after the down; ` +
    `first call ${(firstCallMs / 1000).toFixed(1)} s after "Start traffic"; ` +
    `router-b dead ${deadMs} ms after the press, failover shown ${(movedMs / 1000).toFixed(1)} s; ` +
    `${failed} call(s) failed ${(failedMs / 1000).toFixed(1)} s after the press ` +
    `while ${okBeforeFail} others succeeded; router-b back ${(backMs / 1000).toFixed(1)} s after its restart`);
  await page.context().close();
});
