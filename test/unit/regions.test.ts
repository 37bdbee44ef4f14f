// The multi-region pieces that need no root and no backends: the WAN's
// command-line forms, the generated router configs (the WAN connectors and
// their cost, parsed as the embedded router parses them), the relay plans,
// and POST /api/wan's validation and effect on a lab home's WAN settings.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration, parseRate, formatRate, readWanSettings, relayConfigSchema } from '../../server/isolation/index.js';
import { labPaths, openLab, planPorts, renderRouterConf, regionNamespaces, wanFile } from '../../server/backends/index.js';
import { relayPlans } from '../../server/backends/regions.js';
import { parseConfig as parseRouterConfig } from '../../server/router/config.js';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { LabRuntime, labApiPlugin } from '../../server/http/lab-api.js';
import { ManagementClient } from '../../server/router/index.js';
import type { WanStatus } from '../../common/wire.js';

test('WAN durations and rates read as tc writes them, with a clear error otherwise', () => {
  assert.equal(parseDuration('80ms', '--delay'), 80);
  assert.equal(parseDuration('0.08s', '--delay'), 80);
  assert.equal(parseDuration('5', '--jitter'), 5);
  assert.throws(() => parseDuration('fast', '--delay'), /--delay "fast" is not a duration: write it like 80ms/);
  assert.equal(parseRate('10mbit'), 10_000_000);
  assert.equal(parseRate('512kbit'), 512_000);
  assert.equal(parseRate('none'), null);
  assert.throws(() => parseRate('10MB/s'), /--rate "10MB\/s" is not a rate/);
  assert.equal(formatRate(10_000_000), '10mbit');
  assert.equal(formatRate(null), 'none');
});

test('router-c joins router-a and router-b across the WAN at the cost asked for; region 1 joins at cost 1', () => {
  const plan = planPorts(20000);
  const c = parseRouterConfig(renderRouterConf('router-c', 'multi-region', plan, { wanCost: 25 }), 'router-c.conf');
  assert.deepEqual(c.connectors.map((k) => [k.port, k.role, k.cost]), [
    [plan.routers['router-a'].interRouter, 'inter-router', 25],
    [plan.routers['router-b'].interRouter, 'inter-router', 25],
  ]);
  const b = parseRouterConfig(renderRouterConf('router-b', 'multi-region', plan), 'router-b.conf');
  assert.deepEqual(b.connectors.map((k) => [k.port, k.cost]), [[plan.routers['router-a'].interRouter, 1]]);
  assert.equal(b.router.mode, 'interior');
});

test('relay plans: the host reaches every router and broker of both regions, the WAN is shaped on region 2\'s side only', () => {
  const paths = labPaths('/h');
  const plan = planPorts(20000);
  const relays = relayPlans(paths, plan);
  for (const r of relays) assert.ok(relayConfigSchema.safeParse(r.config).success, `${r.name} is a valid relay config`);
  const host = relays.find((r) => r.region === null)!;
  assert.deepEqual(host.config.forwards.map((f) => ('tcp' in f.listen ? f.listen.tcp.port : 0)).sort(), [20000, 20001, 20005, 20006, 20010, 20011, 20012]);
  const wan = relays.flatMap((r) => r.config.forwards.filter((f) => f.wan).map(() => r.region));
  assert.deepEqual(wan, ['region-2', 'region-2']);
  assert.throws(() => relayPlans(labPaths(`/${'x'.repeat(120)}`), plan), /too long for the Unix sockets joining the regions .* use a shorter --home/);
  const ns = regionNamespaces('/h');
  assert.match(ns['region-1'], /^hmlab-r1-[0-9a-f]{8}$/);
});

let home = '';
let server: LabServer;
let rt: LabRuntime;
const TOKEN = 'wan-test-token-0123456789abcdef0123456789abcdef';
before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hmlab-wan-'));
  rt = new LabRuntime({ lab: openLab(home), home, connect: (h, p, o) => ManagementClient.connect(h, p, o) });
  server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [labApiPlugin(rt)] });
});
after(async () => {
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/api/wan`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('POST /api/wan: validated field by field, refused from another origin, and applied to a multi-region lab\'s WAN', async () => {
  let r = await post({ delayMs: -5 });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'delayMs');
  r = await post({ delay: 80 });
  assert.equal(r.status, 400);
  assert.match(String(r.json.error), /allowed are "delayMs", "jitterMs", "rateBitsPerS", "state"/);
  r = await post({ state: 'down' });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'state');
  r = await post({ state: 'cut' }, { origin: 'http://evil.example' });
  assert.equal(r.status, 403);
  r = await post({ state: 'cut' });
  assert.equal(r.status, 409, 'no lab yet');
  assert.match(String(r.json.error), /hmlab up/);
  const got = await fetch(`${server.url}/api/wan`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(got.status, 404);

  // A multi-region lab's state (its processes are not needed to change the WAN's settings).
  const paths = labPaths(home);
  mkdirSync(paths.etc, { recursive: true });
  const plan = planPorts(20000);
  writeFileSync(paths.state, JSON.stringify({
    version: 1, home: paths.home, topology: 'multi-region', ports: plan, router: 'embedded', qdrouterd: null,
    nodeName: 'x@localhost', trafficRate: 0, upAt: Date.now(),
    components: [], regions: { namespaces: regionNamespaces(paths.home), wanCost: 10, relays: [{ name: 'relay-host', namespace: null, pid: null }] },
  }));
  r = await post({ delayMs: 80, jitterMs: 5 });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.delayMs, 80);
  assert.equal(readWanSettings(wanFile(paths))?.jitterMs, 5);
  const before = Date.now();
  r = await post({ state: 'cut' });
  assert.equal(r.json.state, 'cut');
  assert.ok((r.json.changedAt as number) >= before, 'a cut starts the clock');
  assert.deepEqual((r.json.relays as { running: boolean }[]).map((x) => x.running), [false], 'a relay that is not running says so');
});

test('GET /api/wan keeps the last cut, its heal and the first call answered across after it, topic calls included', async () => {
  const paths = labPaths(home);
  const get = async () => (await (await fetch(`${server.url}/api/wan`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as WanStatus;
  const cut = await post({ state: 'cut' });
  const cutAt = cut.json.changedAt as number;
  assert.deepEqual((await get()).lastPartition, { cutAt, healedAt: null, firstSuccess: null }, 'cut, not healed yet');
  await post({ state: 'up' });
  const w = await get();
  const healedAt = w.lastPartition!.healedAt!;
  assert.ok(healedAt >= cutAt && w.lastPartition!.firstSuccess === null, 'healed, no call across yet');
  // The conductor's events: a call in region 1, then a topic call answered by compute-3 (region 2).
  mkdirSync(paths.events, { recursive: true });
  const call = (dt: number, extra: object) => JSON.stringify({ t: healedAt + dt, service: 'conductor', kind: 'rpc.call', ok: true, latencyMs: 90, ...extra });
  writeFileSync(join(paths.events, 'conductor.jsonl'), [
    call(-100, { target: { topic: 'compute', server: 'compute-2' } }), // before the heal
    call(300, { target: { topic: 'compute', server: 'compute-1' } }),
    call(2400, { target: { topic: 'compute', server: null }, answeredBy: 'compute-3' }),
    call(2600, { target: { topic: 'compute', server: 'compute-2' } }),
  ].join('\n') + '\n');
  await new Promise((res) => setTimeout(res, 1100)); // looked for at most once a second
  const first = (await get()).lastPartition?.firstSuccess;
  assert.deepEqual(first, { t: healedAt + 2400, server: 'compute-3', latencyMs: 90, topic: true });
});

test('POST /api/wan: a cut is closing unless asked to be silent; cutMode goes with a cut', async () => {
  let r = await post({ cutMode: 'silent' });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'cutMode');
  assert.match(String(r.json.error), /"state": "cut", "cutMode": "silent"/);
  r = await post({ state: 'cut', cutMode: 'quiet' });
  assert.equal(r.status, 400);
  assert.match(String(r.json.error), /must be "close" or "silent"/);
  await post({ state: 'up' });
  r = await post({ state: 'cut', cutMode: 'silent' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.cutMode, 'silent');
  assert.equal(readWanSettings(wanFile(labPaths(home)))?.cutMode, 'silent', 'the relays read it from the WAN settings');
  r = await post({ state: 'cut', cutMode: 'close' });
  assert.equal(r.json.cutMode, 'close', 'a silent cut can be turned into a closing one');
  await post({ state: 'up' });
  r = await post({ state: 'cut' });
  assert.equal(r.json.cutMode, 'close', 'the default');
});
