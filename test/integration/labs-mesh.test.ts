// Every check of labs 4, 5 and 8 against a real mesh of three routers: each
// check fails before its step is done and passes after. One lab home walks
// the labs in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLab, findFreePortBlock, embeddedRouterAvailable, findOnPath, type LabEnvironment } from '../../server/backends/index.js';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { labsPlugin } from '../../server/labs/index.js';

const TOKEN = 'labs-test-token-0123456789abcdef0123456789abcdef';
const noRabbit = existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? null : 'RabbitMQ is not installed (apt-get install rabbitmq-server)';
const noRouter = embeddedRouterAvailable() || findOnPath('qdrouterd') ? null : 'no router: qdrouterd is not installed and the embedded router is not built (npm run build)';

interface Result { pass: boolean; hint: string; data?: Record<string, unknown> }

let home = '';
let lab: LabEnvironment;
let server: LabServer;

async function api<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function check(labId: string, id: string): Promise<Result> {
  const r = await api<Result>('POST', `/labs/${labId}/checks/${id}`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function fails(labId: string, id: string): Promise<Result> {
  const r = await check(labId, id);
  assert.equal(r.pass, false, `${id} should fail before its step: ${r.hint}`);
  assert.ok(r.hint.length > 20, 'a failing check says what to do');
  return r;
}

/** Checks that read live traffic may need a few seconds after their step. */
async function passes(labId: string, id: string, timeoutMs = 30_000): Promise<Result> {
  const end = Date.now() + timeoutMs;
  let r = await check(labId, id);
  while (!r.pass && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await check(labId, id);
  }
  assert.equal(r.pass, true, `${id} should pass after its step: ${r.hint}`);
  return r;
}

async function reset(labId: string): Promise<void> {
  const r = await api<{ state: string }>('POST', `/labs/${labId}/reset`, {});
  assert.equal(r.status, 202);
  const end = Date.now() + 120_000;
  let st = r.body;
  while (st.state === 'running' && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 500));
    st = (await api<{ state: string; message: string }>('GET', `/labs/${labId}/reset`)).body;
  }
  assert.equal(st.state, 'done', JSON.stringify(st));
}

describe('mesh lab checks against a real lab', { skip: noRabbit ?? noRouter ?? false }, () => {
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'hmlab-labs-mesh-'));
    const basePort = await findFreePortBlock();
    lab = openLab(home);
    server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [labsPlugin({ lab, basePort })] });
  });
  after(async () => {
    await lab?.down().catch(() => {});
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('lab 4: the mesh forms, distributions carry traffic, a service moves', async () => {
    await reset('04-router-mesh'); // start: down
    for (const id of ['mesh-formed', 'distribution-counters', 'service-moved']) await fails('04-router-mesh', id);
    const detail = (await api<{ steps: { actions: { kind: string; command?: string }[] }[] }>('GET', '/labs/04-router-mesh')).body;
    const base = Number(/--base-port (\d+)/.exec(detail.steps[0].actions.find((a) => a.kind === 'run')?.command ?? '')?.[1]);
    await lab.up({ topology: 'hybrid-mesh', basePort: base });
    assert.match((await passes('04-router-mesh', 'mesh-formed')).hint, /sees 3 routers/);
    assert.match((await passes('04-router-mesh', 'distribution-counters')).hint, /balanced \d+.*closest \d+.*multicast \d+/);
    await fails('04-router-mesh', 'service-moved');
    const applied = await api<{ changed: boolean }>('POST', '/labs/04-router-mesh/edits/0/apply', {});
    assert.equal(applied.body.changed, true);
    await lab.restart('compute-1');
    assert.match((await passes('04-router-mesh', 'service-moved')).hint, /router-c and has served \d+ requests/);
  });

  test('lab 5 and 8: failover when the conductor\'s router dies, and monitoring', async () => {
    await passes('08-operating', 'router-healthy');
    await fails('05-failover', 'failover-measured');
    await fails('05-failover', 'router-restored');
    await lab.setTrafficRate(30);
    await lab.kill('router-c'); // the conductor's own router
    await fails('08-operating', 'router-healthy');
    const f = await passes('05-failover', 'failover-measured', 40_000);
    assert.match(f.hint, /reconnected to .* after [\d.]+ s, first call answered after [\d.]+ s/);
    await fails('05-failover', 'router-restored');
    await lab.start('router-c');
    await passes('05-failover', 'router-restored');
    await passes('08-operating', 'router-healthy');
    await lab.setTrafficRate(5);

    await fails('08-operating', 'notifications-queued');
    await lab.stop('telemetry');
    await passes('08-operating', 'notifications-queued');
    await fails('08-operating', 'broker-healthy');
    await lab.start('telemetry');
    await passes('08-operating', 'broker-healthy');
  });
});
