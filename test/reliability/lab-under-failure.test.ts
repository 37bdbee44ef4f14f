// One real hybrid-mesh lab (RabbitMQ, three routers, oslo.messaging 14.0.3
// services) under `hmlab serve`, its own process, and three ordeals in turn:
// - chaos under load: the conductor at 50 operations per second while a random
//   router is killed every few seconds and started again. Every call must end
//   (a success or an error), failures only for calls in flight at a kill; the
//   median time from a kill to the next successful call is printed;
// - notifications across a broker crash: lab 6's durable settings, 10,000
//   notifications, the broker SIGKILLed once and started again; what the
//   telemetry agent received is counted by id;
// - the lab server under its backends' failures: every backend killed in turn
//   (through the API, or straight from outside as a crash) while a client
//   polls the API; the server keeps answering, and the API, the event stream
//   and the flow view (in Chromium, when installed) say what died.
// One lab for the three keeps the suite within its time on a loaded machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import type { ComponentStatus, LabEvent, LabStatus } from '../../common/wire.js';
import { findFreePortBlock, freePort, processesOfHome, signalGroup } from '../../server/backends/index.js';
import { applySettings, loadLabs } from '../../server/labs/index.js';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, ROOT, screenshot } from '../helpers/browser.js';
import { readEvents, waitFor } from '../helpers/lab-env.js';
import { analyzeChaos, describeChaos, killRoutersInTurn, ROUTERS } from '../helpers/chaos.js';
import { noRabbit, noRouter } from '../helpers/labs-harness.js';

const skip = noRabbit ?? noRouter ?? null;
const heavy = { skip: skip ?? false, timeout: 200_000 };
const CHAOS_MS = Number(process.env.HMLAB_CHAOS_SECONDS ?? 60) * 1000;
const CHAOS_RATE = 50;
const CALL_TIMEOUT_S = 10; // the conductor's default (etc/traffic.json callTimeout)
const NOTIFICATIONS = 10_000;
const NOTIFY_RATE = 400; // per second: the crash lands in the middle of the run
const BROKER_KILL_AT = 3_000;

let home = '';
let serve: ChildProcess | null = null;
let output = '';
let base = '';
let token = '';
let browser: Browser | null = null;
const cli = (args: string[]) => ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts'), ...args];

async function api<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; json: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
}
const component = async (name: string) => (await api<LabStatus>('GET', '/api/status')).json.components.find((c) => c.name === name);

before(async () => {
  if (skip) return;
  home = mkdtempSync(join(tmpdir(), 'hmlab-chaos-'));
  const port = await freePort();
  const basePort = await findFreePortBlock();
  const args = ['serve', '--home', home, '--port', String(port), '--up', 'hybrid-mesh', '--base-port', String(basePort),
    '--traffic-rate', '10', '--down-on-exit'];
  serve = spawn(process.execPath, cli(args), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  serve.stdout!.on('data', (d) => { output += String(d); });
  serve.stderr!.on('data', (d) => { output += String(d); });
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline && !base) {
    const m = /lab is up[\s\S]*open: (http:\/\/[^/\s]+)\/\?token=(\S+)/.exec(output);
    if (m) { base = m[1]!; token = m[2]!; }
    if (serve.exitCode !== null || /bringing the lab up failed/.test(output)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!base) throw new Error(`the lab did not come up under "hmlab serve":\n${output}`);
  if (!browserSkipReason()) { ensureWebBuild(); browser = await launchBrowser(); }
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (serve?.pid && serve.exitCode === null && serve.signalCode === null) {
    const exited = new Promise<void>((r) => serve!.once('exit', () => r()));
    process.kill(serve.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 60_000); })]);
    clearTimeout(timer);
    if (serve.exitCode === null && serve.signalCode === null) process.kill(serve.pid, 'SIGKILL');
  }
  if (home) {
    spawnSync(process.execPath, cli(['down', '--home', home]), { cwd: ROOT, timeout: 90_000 });
    for (const p of processesOfHome(home)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(home, { recursive: true, force: true });
  }
});

/** Events of /api/events as they come. */
function eventStream(): { events: LabEvent[]; close(): void } {
  const events: LabEvent[] = [];
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/events`, { headers: { authorization: `Bearer ${token}` } });
  ws.on('message', (d) => { try { events.push(JSON.parse(String(d)) as LabEvent); } catch { /* not ours */ } });
  ws.on('error', () => { /* reported by the assertions */ });
  return { events, close: () => ws.terminate() };
}

test('chaos under load: the conductor at 50 ops/s, a random router killed and restarted every few seconds', heavy, async () => {
  assert.equal((await api('POST', '/api/traffic', { rate: CHAOS_RATE })).status, 200);
  // warm up: calls flowing at the new rate
  const warm = Date.now();
  const succeeded = () => readEvents(home, 'conductor').filter((e) => e.kind === 'rpc.call' && e.ok && e.t > warm).length;
  await waitFor('calls succeeding at the chaos rate', () => succeeded() >= 20, 30_000);
  const began = Date.now();
  const kills = await killRoutersInTurn({
    durationMs: CHAOS_MS,
    kill: async (name) => { const r = await api('POST', `/api/components/${name}/kill`, {}); assert.equal(r.status, 200, `kill ${name}`); },
    start: async (name) => {
      const r = await api('POST', `/api/components/${name}/start`, {}, 60_000);
      assert.equal(r.status, 200, `start ${name}: ${JSON.stringify(r.json)}`);
    },
  });
  const ended = Date.now();
  // every call started during the chaos gets its full timeout to end
  assert.equal((await api('POST', '/api/traffic', { rate: 0 })).status, 200);
  await new Promise((r) => setTimeout(r, (CALL_TIMEOUT_S + 3) * 1000));
  const r = analyzeChaos(home, kills, began, ended);
  for (const line of describeChaos(r, CHAOS_RATE)) console.log(`# ${line}`);

  assert.equal(serve!.exitCode, null, 'the lab server survived');
  assert.ok(kills.length >= Math.floor(CHAOS_MS / 12_000), `routers were killed: ${kills.length}`);
  assert.deepEqual([...new Set(kills.map((k) => k.name))].sort(), ROUTERS, 'every router was killed at least once');
  assert.ok(r.ok > r.started / 2, `most calls succeed: ${r.ok} of ${r.started}`);
  assert.equal(r.neverReturned, 0, 'every call ends in a success or an error');
  assert.equal(r.unexplained.length, 0, 'failures only for calls a kill caught in flight or on its dead connection');
  assert.ok(r.recoverMs.every(Number.isFinite), 'every kill is followed by a successful call');
});

test('notifications across a broker crash: lab 6\'s durable settings, 10,000 notifications, one SIGKILL and restart of the broker', heavy, async () => {
  // Lab 6's own edit: durable queues, a notifier that never gives up.
  const lab6 = loadLabs(join(ROOT, 'labs'), ROOT).labs.find((l) => l.id === '06-durable-notifications');
  const edit = lab6?.actions.find((a) => a.kind === 'edit');
  assert.ok(edit && edit.kind === 'edit', 'lab 6 has its edit');
  const conf = join(home, 'etc', 'openstack.conf');
  writeFileSync(conf, applySettings(readFileSync(conf, 'utf8'), edit.settings));
  console.log(`# lab 6 settings: ${edit.settings.map((s) => `[${s.section}] ${s.key} = ${s.value}`).join(', ')}`);
  // RabbitMQ refuses to redeclare a transient queue or exchange as durable:
  // as in lab 6, the services that use the broker stop, the broker restarts
  // (the transient ones go with it), the services come back with the setting.
  for (const s of ['compute-1', 'compute-2', 'telemetry']) assert.equal((await api('POST', `/api/components/${s}/stop`, {})).status, 200, `stop ${s}`);
  assert.equal((await api('POST', '/api/components/broker/restart', {}, 120_000)).status, 200, 'restart the broker');
  for (const s of ['telemetry', 'compute-1', 'compute-2']) {
    assert.equal((await api('POST', `/api/components/${s}/start`, {}, 90_000)).status, 200, `start ${s}`);
  }
  const broker = (await component('broker'))!;
  const auth = { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') };
  const queues = async () =>
    (await (await fetch(`${broker.management!.replace(/\/$/, '')}/api/queues`, { headers: auth })).json()) as { name: string; durable: boolean }[];
  const durableQueue = async () => (await queues()).find((q) => q.name === 'notifications.info' && q.durable);
  const durable = await waitFor('a durable notifications.info queue', durableQueue, 30_000);
  assert.ok(durable);

  const burstArgs = ['--config-file', conf, '--count', String(NOTIFICATIONS), '--rate', String(NOTIFY_RATE), '--prefix', 'crash'];
  const burst = spawn('/usr/bin/python3', [join(ROOT, 'test/helpers/notify-burst.py'), ...burstArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = ''; let sent = 0; let failed = 0; let done = false;
  burst.stdout.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n'); out = lines.pop() ?? '';
    for (const l of lines) {
      try {
        const m = JSON.parse(l) as { sent?: number; failed?: number; done?: boolean };
        if (m.sent !== undefined) sent = m.sent;
        if (m.failed !== undefined) failed = m.failed;
        if (m.done) done = true;
      } catch { /* not a progress line */ }
    }
  });
  burst.stderr.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
  const exited = new Promise<number | null>((r) => burst.once('exit', (c) => r(c)));
  try {
    await waitFor(`${BROKER_KILL_AT} notifications sent`, () => sent >= BROKER_KILL_AT || burst.exitCode !== null, 60_000, 20);
    const killedAt = Date.now();
    const sentAtKill = sent;
    assert.equal((await api('POST', '/api/components/broker/kill', {})).status, 200);
    await new Promise((r) => setTimeout(r, 2000)); // as lab 6's run block: the dead node's port closes
    assert.equal((await api('POST', '/api/components/broker/start', {}, 120_000)).status, 200);
    const backAt = Date.now();
    const sentAtBack = sent;
    console.log(`# broker SIGKILLed after ${sentAtKill} notifications, running again ${((backAt - killedAt) / 1000).toFixed(1)} s later`);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((r) => { timer = setTimeout(() => r('timeout'), 150_000); })]);
    clearTimeout(timer);
    const unfinished = code === 'timeout' ? ' (and had not finished)' : '';
    console.log(`# the notifier sent ${sent - sentAtBack} more in ${((Date.now() - backAt) / 1000).toFixed(1)} s after the broker was back${unfinished}`);
    assert.equal(code, 0, `the notifier finished (${sent} sent): ${err}`);
    assert.ok(done);
  } finally {
    if (burst.exitCode === null && burst.signalCode === null && burst.pid) process.kill(burst.pid, 'SIGKILL');
  }

  const ids = () => readEvents(home, 'telemetry')
    .filter((e) => e.kind === 'notify.received' && typeof e.id === 'string' && e.id.startsWith('crash-'))
    .map((e) => e.id as string);
  let last = -1;
  await waitFor('the telemetry agent to drain the queue', () => {
    const n = ids().length;
    const stable = n === last && n > 0;
    last = n;
    return stable || n >= NOTIFICATIONS;
  }, 60_000, 2000).catch(() => undefined);
  const received = ids();
  const distinct = new Set(received);
  const missing: number[] = [];
  for (let n = 0; n < NOTIFICATIONS; n++) if (!distinct.has(`crash-${n}`)) missing.push(n);
  const range = missing.length ? ` (numbers ${missing[0]}..${missing[missing.length - 1]})` : '';
  console.log(`# notifications: ${NOTIFICATIONS} sent (${failed} failed at the notifier), ` +
    `${distinct.size} received (${received.length - distinct.size} duplicates), ${missing.length} lost${range}`);
  assert.equal(failed, 0, 'with retry = -1 the notifier never gives up');
  assert.equal(missing.length, 0, `${missing.length} notifications lost: ${missing.slice(0, 20).join(', ')}`);
});

test('the lab server under its backends\' failures: each killed in turn, the server answers and says what died', heavy, async () => {
  const order = ['router-b', 'compute-1', 'telemetry', 'router-a', 'conductor', 'compute-2', 'router-c', 'broker'];
  // every other one dies from outside, as a crash the server did not cause: SIGKILL to its process group
  const fromOutside = new Set(['compute-1', 'router-a', 'compute-2', 'broker']);
  const status0 = (await api<LabStatus>('GET', '/api/status')).json;
  assert.deepEqual(status0.components.map((c) => c.name).sort(), [...order].sort(), 'every backend of the mesh is there');

  // A client polling the API all along, as the backend panel does.
  let polls = 0; let pollFailures = 0; let slowest = 0; let polling = true;
  const poller = (async () => {
    while (polling) {
      const t0 = Date.now();
      try { const r = await api('GET', '/api/status', undefined, 5000); if (r.status !== 200) pollFailures++; } catch { pollFailures++; }
      slowest = Math.max(slowest, Date.now() - t0);
      polls++;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const stream = eventStream();
  let page: Page | null = null;
  if (browser) {
    page = (await openPage(browser)).page;
    await page.goto(`${base}/?token=${token}`);
    await page.goto(`${base}/flow`);
    await page.getByTestId('flow-connection').getByText('LIVE').waitFor({ timeout: 15_000 });
  }
  const said: string[] = [];
  try {
    for (const name of order) {
      const kind = status0.components.find((c) => c.name === name)!.kind;
      if (fromOutside.has(name)) {
        const pid = (await component(name))?.pid;
        assert.ok(pid, `${name} has a pid`);
        signalGroup(pid, 'SIGKILL');
      } else {
        const killed = await api<ComponentStatus>('POST', `/api/components/${name}/kill`, {});
        assert.equal(killed.status, 200, `kill ${name}: ${JSON.stringify(killed.json)}`);
      }
      const dead = await waitFor(`${name} reported dead by the API`, async () => {
        const c = await component(name);
        return c && c.state !== 'running' && c.state !== 'starting' ? c : null;
      }, 10_000);
      const deadEvent = () => stream.events.find((e) => e.type === 'component' && e.name === name && (e.state === 'failed' || e.state === 'stopped'));
      const event = await waitFor(`${name} reported dead on the event stream`, deadEvent, 10_000);
      if (page) {
        await page.locator(`g.${kind}.dead[data-name="${name}"]`).waitFor({ timeout: 10_000 });
        await screenshot(page, `reliability-backend-dead-${name}`);
      }
      const how = fromOutside.has(name) ? 'SIGKILL from outside' : 'kill through the API';
      const streamSaid = event.type === 'component' && event.detail ? `; stream: ${event.detail}` : '';
      said.push(`${name} (${how}): ${dead.state}${dead.detail ? ` (${dead.detail})` : ''}${streamSaid}`);
      assert.match(`${dead.detail ?? ''}`, /kill|SIGKILL|exit|signal/i, `the API says why ${name} is down`);
      if (name === 'broker') break; // the last one stays down: the server must go on answering without it
      const started = await api<ComponentStatus>('POST', `/api/components/${name}/start`, {}, 120_000);
      assert.equal(started.status, 200, `start ${name}: ${JSON.stringify(started.json)}`);
      await waitFor(`${name} running again`, async () => (await component(name))?.state === 'running', 60_000);
    }
  } finally {
    polling = false;
    await poller;
    stream.close();
    await page?.context().close();
  }
  console.log(`# backends killed in turn: ${order.length}; what the API said:\n${said.map((s) => `#   ${s}`).join('\n')}`);
  const flowView = page ? '; the flow view drew each one dead' : '; no Chromium: the flow view was not checked';
  console.log(`# the server answered ${polls - pollFailures} of ${polls} status polls meanwhile (slowest ${slowest} ms)${flowView}`);
  assert.equal(serve!.exitCode, null, `the lab server is still running:\n${output.slice(-2000)}`);
  assert.equal(pollFailures, 0, 'every status poll answered');
  const st = (await api<LabStatus>('GET', '/api/status')).json;
  assert.deepEqual(st.components.filter((c) => c.state !== 'running').map((c) => c.name), ['broker'], 'all back up but the broker, left dead');
});
