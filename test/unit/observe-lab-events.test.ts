// What the event stream says about components stopping: a deliberate stop
// ("hmlab down", "hmlab stop") is a stop, never a crash, even while its
// process is already gone and the lab has not recorded the stop yet; a
// process that dies unasked is a failure; "hmlab kill" is one at once. And a
// service stopping and starting again afresh is no failover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComponentStatus, LabEvent, LabStatus } from '../../common/wire.js';
import { EventBus, LabObserver } from '../../server/observe/index.js';
import { UNEXPECTED_EXIT, type LabEnvironmentApi } from '../../server/backends/index.js';

const broker = (state: ComponentStatus['state'], detail: string | null = null): ComponentStatus => ({
  name: 'broker', kind: 'broker', state, pid: state === 'running' ? 100 : null, endpoint: 'amqp://127.0.0.1:15800',
  management: null, product: 'RabbitMQ 3.10.8', detail,
});
const status = (...components: ComponentStatus[]): LabStatus => ({
  home: '(test)', topology: 'broker-only', router: null, transports: { rpc: null, notify: null }, components,
  traffic: { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } },
});
const gone = () => broker('failed', `${UNEXPECTED_EXIT}: see "hmlab logs broker"`);

/** An observer over a lab whose status follows a script, polled every 40 ms. */
function observe(t: import('node:test').TestContext, graceMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-obs-lab-'));
  let current = status(broker('running'));
  const lab = { paths: { events: join(dir, 'events') }, status: async () => current } as unknown as LabEnvironmentApi;
  const bus = new EventBus();
  const seen: LabEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  const obs = new LabObserver(lab, bus, { statusIntervalMs: 40, exitGraceMs: graceMs, connect: async () => { throw new Error('no routers here'); } });
  t.after(async () => { await obs.stop(); rmSync(dir, { recursive: true, force: true }); });
  const states = () => seen.flatMap((e) => (e.type === 'component' ? [e.state] : e.type === 'status' ? e.status.components.map((c) => c.state) : []));
  return { obs, seen, states, set: (s: LabStatus) => { current = s; } };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('"hmlab down": a process gone before its stop is recorded is reported stopped, never failed', async (t) => {
  const o = observe(t, 1500);
  await o.obs.start();
  o.set(status(gone())); // the broker's process exited; state.json still says running
  await sleep(600);
  o.set(status(broker('stopped'))); // down records the stop
  await sleep(300);
  assert.ok(!o.states().includes('failed'), `no failure on the stream, saw: ${o.states().join(', ')}`);
  assert.ok(o.seen.some((e) => e.type === 'component' && e.name === 'broker' && e.state === 'stopped'), 'the stop is on the stream');
  assert.equal((await o.obs.status()).components[0].state, 'stopped');
});

test('a process that dies unasked is a failure once the grace is over; "hmlab kill" is one at once', async (t) => {
  const o = observe(t, 300);
  await o.obs.start();
  o.set(status(gone()));
  await sleep(120);
  assert.ok(!o.states().includes('failed'), 'not yet: it may be a stop being recorded');
  await sleep(500);
  const failed = o.seen.find((e) => e.type === 'component' && e.state === 'failed');
  assert.ok(failed && failed.type === 'component' && failed.detail?.startsWith(UNEXPECTED_EXIT), 'then it is a crash, saying so');

  const k = observe(t, 60_000);
  await k.obs.start();
  k.set(status(broker('failed', 'killed with SIGKILL (a crash): it stays down until "hmlab start broker"')));
  await sleep(200);
  assert.ok(k.seen.some((e) => e.type === 'component' && e.state === 'failed'), 'a recorded kill shows at once');
});

test('a service stopped and started afresh on another router is no failover; one that loses its router is', async (t) => {
  const o = observe(t, 1000);
  const router = (name: string, port: number): ComponentStatus => ({
    name, kind: 'router', state: 'running', pid: port, endpoint: `amqp://127.0.0.1:${port}`, product: null,
  });
  const svc = (state: ComponentStatus['state'], on: number | null): ComponentStatus => ({
    name: 'compute-2', kind: 'service', state, pid: state === 'stopped' ? null : 7, endpoint: null, product: null,
    connectedTo: on ? `amqp://127.0.0.1:${on}` : null,
  });
  o.set(status(router('router-a', 15810), router('router-b', 15811), svc('running', 15810)));
  await o.obs.start();
  const dir = (o.obs.lab.paths as { events: string }).events;
  mkdirSync(dir, { recursive: true });
  const line = (kind: string, transport?: string) => JSON.stringify({ t: Date.now(), service: 'compute-2', kind, transport }) + '\n';
  const file = join(dir, 'compute-2.jsonl');
  appendFileSync(file, '');
  await sleep(150);
  // "hmlab down; hmlab up": the service stops (its connection goes), starts again on router-b.
  appendFileSync(file, line('transport.lost', '127.0.0.1:15810') + line('service.stopping'));
  o.set(status(router('router-a', 15810), router('router-b', 15811), svc('stopped', null)));
  await sleep(150);
  o.set(status(router('router-a', 15810), router('router-b', 15811), svc('starting', null)));
  await sleep(150);
  appendFileSync(file, line('transport.connected', 'amqp://127.0.0.1:15811') + line('service.started'));
  o.set(status(router('router-a', 15810), router('router-b', 15811), svc('running', 15811)));
  await sleep(600);
  assert.deepEqual(o.seen.filter((e) => e.type === 'failover'), [], 'a fresh start is not a failover');
  // Its router dies: the connection moves, and that is a failover.
  appendFileSync(file, line('transport.lost', '127.0.0.1:15811') + line('transport.connected', 'amqp://127.0.0.1:15810'));
  const end = Date.now() + 3000;
  while (Date.now() < end && !o.seen.some((e) => e.type === 'failover')) await sleep(30);
  const f = o.seen.find((e) => e.type === 'failover');
  assert.deepEqual(f?.type === 'failover' && [f.service, f.from, f.to], ['compute-2', 'router-b', 'router-a']);
});

test('the observer runs only while someone watches: it starts with the first subscriber and stops after the last one leaves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-obs-lab-'));
  let current = status(broker('running'));
  let reads = 0;
  const lab = { paths: { events: join(dir, 'events') }, status: async () => { reads++; return current; } } as unknown as LabEnvironmentApi;
  const bus = new EventBus();
  const obs = new LabObserver(lab, bus, { statusIntervalMs: 40, exitGraceMs: 300, connect: async () => { throw new Error('no routers here'); } });
  t.after(async () => { await obs.dispose(); rmSync(dir, { recursive: true, force: true }); });
  obs.observeWhileWatched(100);
  await sleep(300);
  assert.equal(obs.running, false, 'nobody watches: nothing polls');
  assert.equal(reads, 0, 'and the lab is not read');

  const seen: LabEvent[] = [];
  const unsubscribe = bus.subscribe((e) => seen.push(e));
  assert.equal(obs.running, true, 'a subscriber starts the observer');
  await sleep(300);
  assert.ok(reads >= 3, `it polls while watched (${reads} reads)`);
  assert.ok(seen.some((e) => e.type === 'status'), 'and publishes the status');
  unsubscribe();
  assert.equal(obs.running, true, 'it lingers a moment after the last subscriber (a page reload)');
  await sleep(250);
  assert.equal(obs.running, false, 'then it stops');
  assert.equal(bus.status, null, 'the bus forgets what would go stale');
  const after = reads;
  await sleep(200);
  assert.equal(reads, after, 'stopped: no more reads');

  // Nobody watching, status() still reads the lab as it is now, crashes included (after their grace).
  current = status(gone());
  const t0 = Date.now();
  const st = await obs.status();
  assert.equal(st.components[0].state, 'failed', 'a crash shows on demand, not masked as running');
  assert.ok(Date.now() - t0 < 2000, 'within the grace and a little more');
  current = status(broker('stopped'));
  assert.equal((await obs.status()).components[0].state, 'stopped', 'a stop shows at once');
});
