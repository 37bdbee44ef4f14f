import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabEvent, ServiceEvent } from '../../common/wire.js';
import { endpointKey } from '../../common/endpoint.js';
import { ServiceEventObserver, parseServiceEvent, MessageSampler } from '../../server/observe/index.js';

const line = (e: Partial<ServiceEvent>) => JSON.stringify({ t: Date.now(), service: 'conductor', kind: 'rpc.call', ...e }) + '\n';

function setup(t: import('node:test').TestContext, opts: { maxMessagesPerSecond?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-obs-'));
  const events: LabEvent[] = [];
  const obs = new ServiceEventObserver(join(dir, 'events'), (e) => events.push(e), { pollMs: 100, ratesIntervalMs: 60000, ...opts });
  t.after(() => { obs.stop(); rmSync(dir, { recursive: true, force: true }); });
  return { dir, events, obs, eventsDir: join(dir, 'events') };
}

const waitFor = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

test('lines appended to a service file arrive as message events, quickly; lines already there before the start do not', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  mkdirSync(eventsDir);
  writeFileSync(join(eventsDir, 'conductor.jsonl'), line({ id: 'old' }));
  obs.start();
  const sent = Date.now();
  appendFileSync(join(eventsDir, 'conductor.jsonl'), line({ id: 'm1', latencyMs: 3.2, ok: true }));
  assert.ok(await waitFor(() => events.some((e) => e.type === 'message')), 'the appended line must arrive');
  const msgs = events.filter((e) => e.type === 'message');
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].type === 'message' && msgs[0].event.id, 'm1');
  assert.ok(Date.now() - sent < 500, 'delivery must not wait for a slow poll');
});

test('started again after a pause, the follower skips what was written while nobody watched', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  mkdirSync(eventsDir);
  const file = join(eventsDir, 'conductor.jsonl');
  writeFileSync(file, '');
  obs.start();
  appendFileSync(file, line({ id: 'seen-1' }));
  assert.ok(await waitFor(() => events.some((e) => e.type === 'message')), 'followed while watched');
  obs.stop();
  appendFileSync(file, line({ id: 'unwatched' }));
  writeFileSync(join(eventsDir, 'compute-1.jsonl'), line({ service: 'compute-1', id: 'unwatched-new-file' }));
  obs.start();
  appendFileSync(file, line({ id: 'seen-2' }));
  assert.ok(await waitFor(() => events.filter((e) => e.type === 'message').length >= 2), 'followed again');
  await new Promise((r) => setTimeout(r, 250));
  const ids = events.flatMap((e) => (e.type === 'message' ? [e.event.id] : []));
  assert.deepEqual(ids, ['seen-1', 'seen-2'], 'nothing written during the pause is replayed');
});

test('a folder that appears later, a partial line, a truncated and a replaced file are all followed', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  obs.start(); // no events folder yet: the lab is not up
  mkdirSync(eventsDir);
  const f = join(eventsDir, 'compute-1.jsonl');
  writeFileSync(f, line({ id: 'a', service: 'compute-1', kind: 'rpc.request' }));
  const half = line({ id: 'b', service: 'compute-1', kind: 'rpc.reply' });
  appendFileSync(f, half.slice(0, 20));
  const ids = () => events.flatMap((e) => (e.type === 'message' ? [e.event.id] : []));
  assert.ok(await waitFor(() => ids().includes('a')), 'a file in a folder created after the start is read from its beginning');
  appendFileSync(f, half.slice(20));
  assert.ok(await waitFor(() => ids().includes('b')), 'the rest of a line completes it');
  writeFileSync(f, line({ id: 'c', service: 'compute-1', kind: 'rpc.request' })); // truncated and rewritten
  assert.ok(await waitFor(() => ids().includes('c')), 'a truncated file is read from its start');
  const tmp = join(eventsDir, 'x.tmp');
  writeFileSync(tmp, line({ id: 'd', service: 'compute-1', kind: 'rpc.request' }) + line({ id: 'e', service: 'compute-1', kind: 'rpc.request' }));
  renameSync(tmp, f); // replaced by a new file (another inode), longer than before
  assert.ok(await waitFor(() => ids().includes('e')), 'a replaced file is read from its start');
  assert.deepEqual(ids(), ['a', 'b', 'c', 'd', 'e']);
});

test('bad lines are skipped and reported once, naming the field', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  mkdirSync(eventsDir);
  obs.start();
  const f = join(eventsDir, 'conductor.jsonl');
  appendFileSync(f, 'not json\n' + JSON.stringify({ t: 1, service: 'x', kind: 'rpc.bogus' }) + '\n' + line({ id: 'ok' }));
  assert.ok(await waitFor(() => events.some((e) => e.type === 'message')));
  const errors = events.filter((e) => e.type === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].type === 'error' ? errors[0].message : '', /conductor\.jsonl/);
  const p = parseServiceEvent(JSON.stringify({ t: 1, service: 'x', kind: 'rpc.bogus' }));
  assert.ok('error' in p && /kind/.test(p.error));
});

test('a service reconnecting to another router after losing its connection is a failover; to the broker, or after its own restart, is not', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  mkdirSync(eventsDir);
  obs.failovers.setComponents([
    { name: 'broker', kind: 'broker', state: 'running', pid: 1, endpoint: 'amqp://127.0.0.1:15800', product: null },
    { name: 'router-a', kind: 'router', state: 'running', pid: 2, endpoint: 'amqp://127.0.0.1:15810', product: null },
    { name: 'router-b', kind: 'router', state: 'running', pid: 3, endpoint: 'amqp://127.0.0.1:15811', product: null },
  ]);
  obs.start();
  const f = join(eventsDir, 'compute-1.jsonl');
  const c = (transport: string, kind: ServiceEvent['kind'] = 'transport.connected') => line({ service: 'compute-1', kind, transport });
  appendFileSync(f, c('127.0.0.1:15810') + c('rabbit://guest@localhost:15800/') + c('127.0.0.1:15810', 'transport.lost') + c('amqp://127.0.0.1:15811'));
  assert.ok(await waitFor(() => events.some((e) => e.type === 'failover')));
  // a restarted service, as services write it: connected, then started
  appendFileSync(f, c('127.0.0.1:15810') + line({ service: 'compute-1', kind: 'service.started' }));
  await waitFor(() => events.filter((e) => e.type === 'message').length >= 6);
  const fo = events.filter((e) => e.type === 'failover');
  assert.equal(fo.length, 1);
  assert.deepEqual(fo[0].type === 'failover' && [fo[0].service, fo[0].from, fo[0].to], ['compute-1', 'router-a', 'router-b']);
  assert.equal(endpointKey('amqp://user:pw@localhost:1234,h2:5/vh'), '127.0.0.1:1234');
});

test('a failover is recognised even when the first connection happened before the observer started', async (t) => {
  const { events, obs, eventsDir } = setup(t);
  mkdirSync(eventsDir);
  obs.failovers.setComponents([
    { name: 'router-a', kind: 'router', state: 'running', pid: 2, endpoint: 'amqp://127.0.0.1:15810', product: null },
    { name: 'router-b', kind: 'router', state: 'running', pid: 3, endpoint: 'amqp://127.0.0.1:15811', product: null },
    { name: 'compute-2', kind: 'service', state: 'running', pid: 4, endpoint: null, product: null, connectedTo: 'amqp://127.0.0.1:15811' },
  ]);
  obs.start();
  appendFileSync(join(eventsDir, 'compute-2.jsonl'), line({ service: 'compute-2', kind: 'transport.lost', transport: 'amqp://127.0.0.1:15811' })
    + line({ service: 'compute-2', kind: 'transport.connected', transport: 'amqp://127.0.0.1:15810' }));
  const fo = await waitFor(() => events.some((e) => e.type === 'failover'));
  assert.ok(fo, 'failover from the router the status named');
  const e = events.find((x) => x.type === 'failover');
  assert.deepEqual(e?.type === 'failover' && [e.from, e.to], ['router-b', 'router-a']);
});

test('a burst of 3,000 events is sampled to the budget, keeps calls with their replies, and accounts for every event', () => {
  const s = new MessageSampler({ maxPerSecond: 200 });
  let forwarded = 0, weight = 0;
  const kept = new Set<string>();
  const now = 1_000_000;
  for (let i = 0; i < 1500; i++) {
    const ms = now + Math.floor(i / 1.5); // 1,500 messages in one second, each with a reply
    for (const kind of ['rpc.request', 'rpc.reply'] as const) {
      const w = s.offer({ t: ms, service: 'compute-1', kind, id: `m${i}` }, ms);
      if (w === null) continue;
      forwarded++; weight += w;
      if (kind === 'rpc.request') kept.add(`m${i}`);
      else assert.ok(kept.has(`m${i}`), 'a reply is kept only with its request');
    }
  }
  assert.equal(weight + s.pendingCount, 3000, 'kept weights plus the not yet reported drops are every event');
  const failed = s.offer({ t: now, service: 'conductor', kind: 'rpc.call', ok: false }, now + 1000);
  assert.ok(failed !== null, 'a failed call is always forwarded');
  assert.ok(forwarded <= 2 * 210 && forwarded >= 150, `forwarded ${forwarded}`);
});
