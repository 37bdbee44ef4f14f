// The "before" picture on real processes: RabbitMQ and four oslo.messaging
// services, driven through the hmlab CLI as a user would. One lab is shared
// by the assertions; a second home runs beside it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabStatus } from '../../common/wire.js';
import { findFreePortBlock, processesOfHome } from '../../server/backends/index.js';
import { component, hmlab, moreCalls, readEvents, tempLab, waitFor, type TempLab } from '../helpers/lab-env.js';

let one: TempLab;
let upOutput = '';

before(async () => {
  one = await tempLab('hmlab-broker-');
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', one.home, '--base-port', String(one.basePort)]);
  upOutput = r.stdout + r.stderr;
  assert.equal(r.code, 0, `hmlab up failed:\n${upOutput}`);
});
after(async () => { await one?.cleanup(); });

async function statusJson(home: string): Promise<LabStatus> {
  const r = await hmlab(['status', '--json', '--home', home]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LabStatus;
}

test('up reports progress per component and returns once all are ready', () => {
  for (const name of ['broker', 'compute-1', 'compute-2', 'conductor', 'telemetry']) {
    assert.match(upOutput, new RegExp(`${name}\\s+running\\s+[\\d.]+s\\s+ready`), `${name} reported ready`);
  }
  assert.match(upOutput, /lab ready in [\d.]+s/);
});

test('status --json has the documented shape and says what each process is', async () => {
  const st = await statusJson(one.home);
  assert.equal(st.home, one.home);
  assert.equal(st.topology, 'broker-only');
  assert.equal(st.router, null);
  assert.equal(st.transports.rpc, `rabbit://guest:***@127.0.0.1:${one.basePort}/`);
  assert.equal(st.transports.notify, st.transports.rpc);
  assert.deepEqual(st.components.map((c) => c.name), ['broker', 'compute-1', 'compute-2', 'conductor', 'telemetry']);
  for (const c of st.components) {
    assert.equal(c.state, 'running', `${c.name} running`);
    assert.ok(typeof c.pid === 'number' && c.pid > 0, `${c.name} has a pid`);
  }
  const broker = component(st, 'broker');
  assert.equal(broker.kind, 'broker');
  assert.match(broker.product ?? '', /^RabbitMQ 3\.\d+\.\d+$/);
  assert.equal(broker.endpoint, `amqp://127.0.0.1:${one.basePort}`);
  assert.equal(broker.management, `http://127.0.0.1:${one.basePort + 1}`);
  const overview = await fetch(`${broker.management}/api/overview`, { headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') } });
  assert.equal(overview.status, 200, 'the management API answers with guest/guest');
  const c1 = component(st, 'compute-1');
  assert.equal(c1.kind, 'service');
  assert.match(c1.product ?? '', /^oslo\.messaging 14\.0\.3$/);
  assert.equal(c1.connectedTo, broker.endpoint);
  // Every counter the status promises, each a count (the next test checks they move).
  const fields = { rpcCalls: ['failed', 'ok'], rpcCasts: ['sent'], fanouts: ['sent'], notifications: ['received', 'sent'] };
  assert.deepEqual(Object.keys(st.traffic).sort(), Object.keys(fields).sort());
  for (const [key, names] of Object.entries(fields)) {
    const counter = st.traffic[key as keyof typeof fields] as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(counter).sort(), names, `traffic.${key}`);
    for (const n of names) assert.ok(Number.isInteger(counter[n]) && (counter[n] as number) >= 0, `traffic.${key}.${n} = ${String(counter[n])}`);
  }
});

test('calls, casts, fanouts and notifications flow, none failed', async () => {
  const st = await waitFor('traffic of every kind', async () => {
    const s = one.lab.statusSync();
    const t = s.traffic;
    return t.rpcCalls.ok >= 10 && t.rpcCasts.sent > 0 && t.fanouts.sent > 0 && t.notifications.received > 0 ? s : null;
  }, 30_000);
  assert.equal(st.traffic.rpcCalls.failed, 0);
  // The ids tie the two ends together: a call the conductor made arrived at a compute.
  const calls = readEvents(one.home, 'conductor').filter((e) => e.kind === 'rpc.call');
  assert.ok(calls.every((e) => e.ok === true && typeof e.latencyMs === 'number'));
  const handled = new Set(['compute-1', 'compute-2'].flatMap((s) => readEvents(one.home, s)).filter((e) => e.kind === 'rpc.request').map((e) => e.id));
  assert.ok(calls.some((e) => handled.has(e.id)), 'a call id shows up at a compute');
  const named = calls.find((e) => e.target?.server);
  assert.ok(named, 'calls to a named server too');
  // Named calls take turns, so each compute is called by name.
  await waitFor('named calls to both computes', async () => {
    const servers = new Set(readEvents(one.home, 'conductor').filter((e) => e.kind === 'rpc.call').map((e) => e.target?.server).filter(Boolean));
    return servers.has('compute-1') && servers.has('compute-2') ? servers : null;
  }, 20_000);
  const sent = new Set(['compute-1', 'compute-2'].flatMap((s) => readEvents(one.home, s)).filter((e) => e.kind === 'notify.sent').map((e) => e.id));
  const received = readEvents(one.home, 'telemetry').filter((e) => e.kind === 'notify.received');
  assert.ok(received.some((e) => sent.has(e.id) && /^compute\.instance\./.test(e.method ?? '')), 'telemetry receives compute.instance.* notifications');
});

test('the traffic rate can be paused and resumed', async () => {
  await one.lab.setTrafficRate(0);
  await new Promise((r) => setTimeout(r, 2500)); // the conductor re-reads its rate every second
  const paused = one.lab.statusSync().traffic.rpcCalls.ok;
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(one.lab.statusSync().traffic.rpcCalls.ok - paused <= 1, 'no new calls while paused');
  const r = await hmlab(['traffic', '10', '--home', one.home]);
  assert.equal(r.code, 0, r.stderr);
  await moreCalls(one.lab, 5, 15_000);
});

test('a second up on a running home is refused and leaves the lab running', async () => {
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', one.home, '--base-port', String(one.basePort)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /a lab is already running in .*: run "hmlab down" first/);
  assert.ok(one.lab.statusSync().components.every((c) => c.state === 'running'));
});

test('an unknown component is named, with the ones that exist', async () => {
  const r = await hmlab(['stop', 'router-a', '--home', one.home]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown component "router-a": this lab \(broker-only\) has broker, compute-1, compute-2, conductor, telemetry/);
});

test('a malformed openstack.conf is refused by line, and the services keep running', async (t) => {
  const file = join(one.home, 'etc', 'openstack.conf');
  const good = readFileSync(file, 'utf8');
  t.after(() => writeFileSync(file, good));
  const lines = good.split('\n');
  const at = lines.findIndex((l) => l.startsWith('transport_url'));
  lines[at] = 'transport_url rabbit://guest:guest@127.0.0.1/';
  writeFileSync(file, lines.join('\n'));
  const pids = one.lab.statusSync().components.map((c) => c.pid);
  const r = await hmlab(['restart', 'services', '--home', one.home]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`openstack.conf line ${at + 1} \\(in \\[DEFAULT\\]\\): .*is not "key = value"`));
  assert.deepEqual(one.lab.statusSync().components.map((c) => c.pid), pids, 'nothing was restarted');
});

test('a service that cannot connect says which URL and what the driver said', async (t) => {
  const file = join(one.home, 'etc', 'openstack.conf');
  const good = readFileSync(file, 'utf8');
  const closed = await findFreePortBlock(1);
  writeFileSync(file, good.replace(/^transport_url = .*$/m, `transport_url = rabbit://guest:guest@127.0.0.1:${closed}/`));
  t.after(async () => {
    writeFileSync(file, good);
    await one.lab.start('compute-1');
  });
  const r = await hmlab(['restart', 'compute-1', '--home', one.home]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`compute-1 failed: cannot connect to rabbit://guest:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/.*the driver said: `
    + `.*(unreachable|refused)`, 's'));
  assert.match(r.stderr, /--- last lines of logs\/compute-1\.log ---/);
  const c1 = component(one.lab.statusSync(), 'compute-1');
  assert.equal(c1.state, 'failed');
  assert.equal(c1.pid, null);
});

test('kill is a crash that stays down until start; logs and config tell what runs', async () => {
  const k = await hmlab(['kill', 'compute-2', '--home', one.home]);
  assert.equal(k.code, 0, k.stderr);
  let c2 = component(one.lab.statusSync(), 'compute-2');
  assert.equal(c2.state, 'failed');
  assert.match(c2.detail ?? '', /SIGKILL/);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(component(one.lab.statusSync(), 'compute-2').state, 'failed', 'still down');
  const s = await hmlab(['start', 'compute-2', '--home', one.home]);
  assert.equal(s.code, 0, s.stderr);
  c2 = component(one.lab.statusSync(), 'compute-2');
  assert.equal(c2.state, 'running');
  const logs = await hmlab(['logs', 'broker', '-n', '5', '--home', one.home]);
  assert.equal(logs.code, 0);
  assert.ok(logs.stdout.trim().split('\n').length >= 1);
  const cfg = await hmlab(['config', '--home', one.home]);
  assert.equal(cfg.code, 0, cfg.stderr);
  assert.match(cfg.stdout, /RPC .*rabbit:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\/\n.*served by broker \(RabbitMQ 3\.\d+\.\d+\)/);
  assert.match(cfg.stdout, /driver messagingv2/);
});

test('two homes run side by side without touching each other', async (t) => {
  const two = await tempLab('hmlab-broker2-');
  t.after(() => two.cleanup());
  await two.lab.up({ topology: 'broker-only', basePort: two.basePort });
  const [a, b] = [one.lab.statusSync(), two.lab.statusSync()];
  const pidsA = new Set(a.components.map((c) => c.pid));
  assert.ok(b.components.every((c) => c.state === 'running' && !pidsA.has(c.pid)));
  assert.notEqual(component(a, 'broker').endpoint, component(b, 'broker').endpoint);
  await moreCalls(two.lab, 5);
  await moreCalls(one.lab, 5);
  await two.lab.down();
  assert.deepEqual(processesOfHome(two.home), []);
  assert.ok(one.lab.statusSync().components.every((c) => c.state === 'running'), 'the first lab is untouched');
  await moreCalls(one.lab, 3);
});

test('down stops everything: no process of the home is left, and the user\'s own processes stay', async (t) => {
  assert.ok(processesOfHome(one.home).length >= 5);
  // Someone editing the lab's config in a terminal is not part of the lab.
  const editor = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', join(one.home, 'etc', 'openstack.conf')], { stdio: 'ignore' });
  t.after(() => editor.kill('SIGKILL'));
  const r = await hmlab(['down', '--home', one.home]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(processesOfHome(one.home), []);
  assert.equal(editor.exitCode, null, 'the editor still runs');
  assert.ok(editor.pid && process.kill(editor.pid, 0));
  const st = await statusJson(one.home);
  assert.ok(st.components.every((c) => c.state === 'stopped' && c.pid === null));
});
