import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabStatus, RouterSnapshot } from '../../common/wire.js';
import { EventBus, Recorder, RecordingExists, readRecording, listRecordings } from '../../server/observe/index.js';

const status: LabStatus = {
  home: 'lab', topology: 'hybrid-mesh', router: 'embedded', transports: { rpc: null, notify: null }, components: [],
  traffic: { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } },
};
const snap = (router: string): RouterSnapshot => ({
  router, id: router, product: 'x', nodes: [], connections: [], addresses: [], links: [], deliveries: { in: 0, out: 0, transit: 0 },
});

test('a recording is a header, the starting picture, then the stream thinned to its budget with honest counts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bus = new EventBus();
  bus.publish({ type: 'router', t: 1, snapshot: snap('router-a') });
  const rec = new Recorder(bus, { maxMessagesPerSecond: 10, snapshotIntervalMs: 1000 });
  const file = join(dir, 'recordings', 'demo.jsonl');
  rec.start(file, { ...status, home: join(dir, 'home') }, 'two routers, one killed');
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) {
    bus.publish({ type: 'message', t: t0 + i, event: { t: t0 + i, service: 'conductor', kind: 'rpc.call', id: `m${i}`, ok: true }, sampled: 2 });
  }
  bus.publish({ type: 'message', t: t0 + 200, event: { t: t0, service: 'compute-1', kind: 'transport.connected', transport: '127.0.0.1:1' } });
  for (let i = 0; i < 5; i++) bus.publish({ type: 'router', t: t0 + i * 250, snapshot: snap('router-a') });
  bus.publish({ type: 'component', t: t0 + 300, name: 'router-b', state: 'stopped', pid: null });
  const r = await rec.stop();
  assert.equal(rec.active, false);
  const { header, events } = readRecording(file);
  assert.equal(header.topology, 'hybrid-mesh');
  assert.equal(header.scenario, 'two routers, one killed');
  assert.ok(header.machine.cores > 0 && header.machine.cpu.length > 0);
  assert.equal(events[0].type, 'hello');
  assert.ok(!readFileSync(file, 'utf8').includes(dir), 'the machine\'s paths stay out of a recording');
  assert.equal(events[0].type === 'hello' && events[0].status.home, '~/.hmlab');
  assert.equal(events[1].type, 'router', 'the latest snapshots come first');
  const calls = events.filter((e) => e.type === 'message' && e.event.kind === 'rpc.call');
  assert.equal(calls.length, 10, 'message events thinned to the budget');
  assert.ok(events.some((e) => e.type === 'message' && e.event.kind === 'transport.connected'), 'connection events are never thinned');
  assert.ok(events.some((e) => e.type === 'component'));
  assert.equal(events.filter((e) => e.type === 'router').length, 2, 'the starting snapshot, then at most one per second per router');
  const weights = calls.reduce((n, e) => n + (e.type === 'message' ? e.sampled ?? 1 : 0), 0);
  assert.ok(weights >= 20 && weights <= 200, `weights ${weights}`);
  assert.equal(r.events, events.length + 1);
});

test('recordings are listed from the project and the lab home; a file that is not a recording is refused with a reason', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pub')); mkdirSync(join(dir, 'home'));
  writeFileSync(join(dir, 'pub', 'failover.jsonl'), '{}\n');
  writeFileSync(join(dir, 'home', 'mine.jsonl'), '{"type":"hello"}\n');
  writeFileSync(join(dir, 'home', 'notes.txt'), 'x');
  const list = listRecordings(join(dir, 'pub'), join(dir, 'home'));
  assert.deepEqual(
    list.map((r) => [r.name, r.source, r.url]),
    [['mine', 'home', '/api/recordings/mine.jsonl'], ['failover', 'public', '/recordings/failover.jsonl']],
  );
  assert.throws(() => readRecording(join(dir, 'home', 'mine.jsonl')), /not a recording header \(type/);
});

test('a recording never replaces another, and stops by itself at its size or duration cap', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-rec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bus = new EventBus();
  const file = join(dir, 'demo.jsonl');
  writeFileSync(file, 'kept\n');
  const rec = new Recorder(bus, { maxBytes: 4096, maxDurationMs: 300 });
  assert.throws(() => rec.start(file, status), (e: Error) => e instanceof RecordingExists && /already exists.*choose another name/.test(e.message));
  assert.equal(readFileSync(file, 'utf8'), 'kept\n', 'the existing recording is untouched');
  assert.equal(rec.active, false);

  const big = join(dir, 'big.jsonl');
  rec.start(big, status);
  const t0 = Date.now();
  for (let i = 0; i < 500; i++) bus.publish({ type: 'component', t: t0 + i, name: `router-${i}`, state: 'running', pid: i });
  assert.equal(rec.active, false, 'stopped at the size cap');
  assert.match(rec.stoppedBy ?? '', /4 KiB limit/);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(readFileSync(big).length <= 4096, 'the file stays within the cap');

  const long = join(dir, 'long.jsonl');
  rec.start(long, status);
  assert.equal(rec.stoppedBy, null);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(rec.active, false, 'stopped at the duration cap');
  assert.match(rec.stoppedBy ?? '', /s limit/);
});
