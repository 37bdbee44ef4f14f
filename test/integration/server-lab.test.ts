// The lab server against a real lab: RabbitMQ, embedded routers in a mesh,
// oslo.messaging services. One hybrid-mesh lab is shared by every test here
// (bringing it up is the slow part), in the order a user would go.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import type { LabEvent, LabStatus } from '../../common/wire.js';
import { openLab } from '../../server/backends/index.js';
import { ManagementClient } from '../../server/router/index.js';
import { startLabServer, tokenCookieName, type LabServer } from '../../server/http/index.js';
import { LabRuntime, labApiPlugin } from '../../server/http/lab-api.js';
import { eventsPlugin } from '../../server/http/events.js';
import { readRecording } from '../../server/observe/index.js';

const TOKEN = 'T'.repeat(48);
const home = mkdtempSync(join(tmpdir(), 'hmlab-server-'));
let basePort = 0;
let server: LabServer;
let rt: LabRuntime;
let stream: EventStream;

async function portFree(p: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
  });
}
async function freeBlock(size = 40): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 21000 + Math.floor(Math.random() * 900) * 40;
    let ok = true;
    for (let p = base; p < base + size && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free block of ports');
}

async function startServer(): Promise<void> {
  const lab = openLab(home);
  rt = new LabRuntime({ lab, home, basePort, connect: (h, p, o) => ManagementClient.connect(h, p, o) });
  server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [labApiPlugin(rt), eventsPlugin(rt)] });
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const contentType: Record<string, string> = body !== undefined ? { 'content-type': 'application/json' } : {};
  const payload = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(server.url + path, { method, headers: { ...headers, ...contentType }, body: payload });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/** A WebSocket client of /api/events that keeps everything it receives. */
class EventStream {
  events: LabEvent[] = [];
  ws!: WebSocket;
  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<EventStream> {
    const s = new EventStream();
    s.ws = new WebSocket(url, opts);
    s.ws.on('message', (d) => s.events.push(JSON.parse(String(d))));
    await new Promise<void>((res, rej) => {
      s.ws.once('open', () => res());
      s.ws.once('error', rej);
      s.ws.once('unexpected-response', (_r, resp) => rej(new Error(`HTTP ${resp.statusCode}`)));
    });
    return s;
  }
  async waitFor<T extends LabEvent>(pred: (e: LabEvent) => e is T, ms: number, from = 0): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.events.length; i++) if (pred(this.events[i])) return this.events[i] as T;
      if (Date.now() > end) throw new Error(`no matching event within ${ms} ms (${this.events.length} events seen)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  close() { this.ws.terminate(); }
}
const is = <K extends LabEvent['type']>(type: K, f: (e: Extract<LabEvent, { type: K }>) => boolean = () => true) =>
  (e: LabEvent): e is Extract<LabEvent, { type: K }> => e.type === type && f(e as Extract<LabEvent, { type: K }>);
const wsUrl = () => server.url.replace(/^http/, 'ws') + '/api/events';

before(async () => {
  basePort = await freeBlock();
  await startServer();
  stream = await EventStream.open(`${wsUrl()}?token=${TOKEN}`);
});

after(async () => {
  stream?.close();
  try { await openLab(home).down(); } catch { /* already down */ }
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

test('every API endpoint and the event stream require the token; a foreign Origin is refused', async () => {
  assert.equal((await api('GET', '/api/status', undefined, {})).status, 401);
  const wrong = await api('GET', '/api/status', undefined, { authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  assert.match(wrong.json.error, /token/);
  assert.equal((await api('POST', '/api/lab/down', {}, {})).status, 401);
  assert.equal((await api('POST', '/api/components/router-a/kill', {}, {})).status, 401);
  const cookie = tokenCookieName(Number(new URL(server.url).port));
  assert.equal((await api('GET', '/api/status', undefined, { cookie: `${cookie}=${TOKEN}` })).status, 200);
  assert.equal((await api('GET', '/api/status', undefined, { cookie: `hmlab_token=${TOKEN}` })).status, 401, 'a cookie not named after this port is not ours');
  const page = await fetch(`${server.url}/?token=${TOKEN}`, { redirect: 'manual' });
  assert.match(page.headers.get('set-cookie') ?? '', new RegExp(`^${cookie}=`));
  await assert.rejects(EventStream.open(wsUrl()), /401/);
  await assert.rejects(EventStream.open(`${wsUrl()}?token=${TOKEN}`, { origin: 'http://evil.example' }), /403/);
  const ok = await EventStream.open(`${wsUrl()}?token=${TOKEN}`, { origin: server.url });
  const hello = await ok.waitFor(is('hello'), 2000);
  assert.equal(hello.status.home, home);
  const n = ok.events.length;
  ok.ws.send('{"type":"subscribe-all"}');
  const err = await ok.waitFor(is('error'), 2000, n);
  assert.match(err.message, /\{"type":"status"\}/, 'an unknown client message is answered with what is accepted');
  ok.ws.send('{"type":"status"}');
  await ok.waitFor(is('status'), 2000, n);
  ok.close();
});

test('bad requests get 400/404 naming the field and the fix', async () => {
  let r = await api('POST', '/api/lab/up', { topology: 'mesh' });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'topology');
  assert.match(r.json.error, /broker-only.*hybrid-mesh/);
  r = await api('POST', '/api/lab/up', { topology: 'hybrid', speed: 3 });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /speed|unknown field/);
  r = await api('POST', '/api/lab/up', '{"topology":');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /JSON/);
  r = await api('POST', '/api/traffic', { rate: 'fast' });
  assert.deepEqual([r.status, r.json.field], [400, 'rate']);
  r = await api('POST', '/api/traffic', { rate: 5000 });
  assert.deepEqual([r.status, r.json.field], [400, 'rate']);
  r = await api('POST', '/api/components/router-z/kill', {});
  assert.deepEqual([r.status, r.json.field], [404, 'name']);
  r = await api('POST', '/api/components/router-a/explode', {});
  assert.deepEqual([r.status, r.json.field], [404, 'action']);
  r = await api('POST', '/api/recording', { action: 'pause' });
  assert.deepEqual([r.status, r.json.field], [400, 'action']);
});

test('POST /api/lab/up answers 202 at once and streams progress until the hybrid-mesh lab is up', async () => {
  const from = stream.events.length;
  const began = Date.now();
  const r = await api('POST', '/api/lab/up', { topology: 'hybrid-mesh', trafficRate: 10 });
  assert.equal(r.status, 202);
  assert.ok(Date.now() - began < 2000, 'the request does not wait for the lab');
  assert.equal((await api('POST', '/api/lab/up', { topology: 'hybrid-mesh' })).status, 409, 'one operation at a time');
  const end = await stream.waitFor(is('progress', (e) => e.component === 'lab' && (e.state === 'done' || e.state === 'failed')), 90000, from);
  assert.equal(end.state, 'done', end.message);
  const progress = stream.events.slice(from).filter(is('progress', (e) => e.component !== 'lab'));
  assert.ok(progress.length >= 3, 'progress of the components along the way');
  const again = await api('POST', '/api/lab/up', { topology: 'hybrid' });
  assert.equal(again.status, 409, 'a running lab is not brought up twice');
  assert.match(again.json.error, /already running.*\/api\/lab\/down/);
  const status = (await api('GET', '/api/status')).json as LabStatus;
  assert.equal(status.topology, 'hybrid-mesh');
  for (const c of status.components) assert.equal(c.state, 'running', `${c.name}: ${c.detail ?? ''}`);
});

test('GET /api/status is the same JSON as "hmlab status --json"', async () => {
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'status', '--json', '--home', home], { encoding: 'utf8', timeout: 30000 });
  assert.equal(cli.status, 0, cli.stderr);
  const fromCli = JSON.parse(cli.stdout) as LabStatus;
  const fromApi = (await api('GET', '/api/status')).json as LabStatus;
  const shape = (s: LabStatus) => ({
    ...s, traffic: null, trafficRate: null, components: s.components.map((c) => ({ ...c, connectedTo: null, detail: null })),
  });
  assert.deepEqual(shape(fromApi), shape(fromCli));
});

test('the stream carries message events of every kind, router snapshots of the mesh, the broker\'s queues and rates', async () => {
  const from = stream.events.length;
  const kinds = ['rpc.call', 'rpc.cast', 'rpc.fanout', 'rpc.request', 'rpc.reply', 'notify.sent', 'notify.received'] as const;
  for (const k of kinds) await stream.waitFor(is('message', (e) => e.event.kind === k), 20000, from);
  const status = (await api('GET', '/api/status')).json as LabStatus;
  for (const r of status.components.filter((c) => c.kind === 'router')) {
    const snap = await stream.waitFor(is('router', (e) => e.snapshot.router === r.name && e.snapshot.nodes.length === 2), 5000, from);
    assert.ok(snap.snapshot.connections.some((c) => c.role === 'inter-router'), `${r.name} shows its inter-router connections`);
  }
  const rpcAddr = await stream.waitFor(
    is('router', (e) => e.snapshot.addresses.some((a) => a.address.startsWith('openstack.org/om/rpc') && a.rate > 0)), 5000, from);
  assert.ok(rpcAddr);
  // RabbitMQ lists connections once its statistics have been collected: give it a few rounds
  await stream.waitFor(
    is('broker', (e) => e.snapshot.queues.some((q) => q.name.startsWith('notifications')) && e.snapshot.connections.length > 0), 10000, from);
  const rates = await stream.waitFor(is('rates', (e) => (e.perSecond['rpc.call'] ?? 0) > 0), 3000, from);
  assert.ok(rates.latencyMs && rates.latencyMs.p50 > 0, `RPC latency in the rates: ${JSON.stringify(rates.latencyMs)}`);
});

test('a crashed router turns dead on the stream within 2 s, its clients fail over, ' +
  'RPC keeps flowing through the others, and a start brings it back', async () => {
  const from = stream.events.length;
  const before = (await api('GET', '/api/status')).json as LabStatus;
  const routerB = before.components.find((c) => c.name === 'router-b')!;
  const clientsOfB = before.components.filter((c) => c.kind === 'service' && c.connectedTo === routerB.endpoint).map((c) => c.name);
  assert.ok(clientsOfB.length > 0, 'a service uses router-b for RPC');
  // a crash, not an API call: the observers must notice on their own
  const killedAt = Date.now();
  process.kill(routerB.pid!, 'SIGKILL');
  await stream.waitFor(is('component', (e) => e.name === 'router-b' && e.state !== 'running' && e.state !== 'starting'), 2000, from);
  assert.ok(Date.now() - killedAt < 2000, `dead after ${Date.now() - killedAt} ms`);
  for (const service of clientsOfB) {
    const f = await stream.waitFor(is('failover', (e) => e.service === service), 15000, from);
    assert.equal(f.from, 'router-b');
    assert.ok(['router-a', 'router-c'].includes(f.to), `${service} moved to ${f.to}`);
  }
  // calls made after the kill (clients of router-b reconnect in about a second) succeed
  const afterKill = stream.events.length;
  await stream.waitFor(is('message', (e) => e.event.kind === 'rpc.call' && e.event.ok === true && e.event.t > killedAt + 3000), 20000, afterKill);
  const health = await api('GET', '/api/status');
  assert.equal(health.status, 200, 'the server lives on');
  const rr = await api('POST', '/api/components/router-b/start', {});
  assert.equal(rr.status, 200, rr.text);
  await stream.waitFor(is('component', (e) => e.name === 'router-b' && e.state === 'running'), 5000, afterKill);
  await stream.waitFor(is('router', (e) => e.snapshot.router === 'router-b'), 5000, afterKill);
});

test('the traffic rate can be changed, and the stream can be recorded from the API and fetched back', async () => {
  assert.deepEqual((await api('POST', '/api/traffic', { rate: 20 })).json, { rate: 20 });
  let r = await api('POST', '/api/recording', { action: 'start', name: 'api-test', scenario: 'test run' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await api('POST', '/api/recording', { action: 'start' })).status, 409);
  const from = stream.events.length;
  await stream.waitFor(is('message', (e) => e.event.kind === 'rpc.call'), 15000, from);
  await new Promise((res) => setTimeout(res, 1000));
  r = await api('POST', '/api/recording', { action: 'stop' });
  assert.ok(r.json.events > 10, `${r.json.events} lines recorded`);
  const list = (await api('GET', '/api/recordings')).json as { name: string; source: string; url: string }[];
  const mine = list.find((x) => x.name === 'api-test');
  assert.ok(mine && mine.source === 'home', `listed: ${JSON.stringify(list)}`);
  const file = await api('GET', mine.url);
  assert.equal(file.status, 200);
  const header = JSON.parse(file.text.split('\n')[0]);
  assert.equal(header.type, 'recording');
  assert.equal(header.topology, 'hybrid-mesh');
  const { events } = readRecording(join(home, 'recordings', 'api-test.jsonl'));
  const types = new Set(events.map((e) => e.type));
  assert.ok(types.has('message') && types.has('router') && types.has('hello'), `recorded: ${[...types].join(', ')}`);
  assert.equal((await api('GET', '/api/recordings/..%2Fserver%2Ftoken')).status, 404);
  // a name in use is refused, and the recording it names is kept as it was
  const again = await api('POST', '/api/recording', { action: 'start', name: 'api-test' });
  assert.equal(again.status, 409);
  assert.equal(again.json.field, 'name');
  assert.match(again.json.error, /already exists: choose another name/);
  assert.equal((await api('GET', '/api/recording')).json.active, false);
  assert.equal(readRecording(join(home, 'recordings', 'api-test.jsonl')).events.length, events.length);
});

test('the server survives the broker dying, and its own restart: state comes back from the home', async () => {
  const from = stream.events.length;
  assert.equal((await api('POST', '/api/components/broker/kill', {})).status, 200);
  await stream.waitFor(is('component', (e) => e.name === 'broker' && e.state !== 'running'), 3000, from);
  assert.equal((await api('GET', '/api/status')).status, 200);
  stream.close();
  await server.close();
  await startServer();
  stream = await EventStream.open(`${wsUrl()}?token=${TOKEN}`);
  const hello = await stream.waitFor(is('hello'), 3000);
  const byName = new Map(hello.status.components.map((c) => [c.name, c.state]));
  assert.equal(hello.status.topology, 'hybrid-mesh');
  assert.equal(byName.get('router-a'), 'running');
  assert.notEqual(byName.get('broker'), 'running');
  await stream.waitFor(is('router', (e) => e.snapshot.router === 'router-a'), 3000);
});

test('POST /api/lab/down with wait stops every component', async () => {
  const r = await api('POST', '/api/lab/down', { wait: true });
  assert.equal(r.status, 200, r.text);
  for (const c of (r.json as LabStatus).components) assert.notEqual(c.state, 'running', c.name);
});
