// The lab server's one error path, against a real `hmlab serve` and a real
// broker-only lab: the long operation under way shows on GET
// /api/lab/operation; a damaged state.json is the same 409 on the lab API
// and the labs API, its message naming the file and the fix; and that fix works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabStatus } from '../../common/wire.js';
import { processesOfHome } from '../../server/backends/index.js';
import { hmlab } from '../helpers/lab-env.js';
import { noRabbit } from '../helpers/labs-harness.js';
import { serveLab, type ServedLab } from '../helpers/serve.js';

interface Operation { operation: 'up' | 'down'; topology?: string; startedAt: number }
interface OperationOutcome extends Operation { endedAt: number; error: string | null }

describe('the lab server\'s errors and long operations, on a real lab', { skip: noRabbit ?? false }, () => {
  let served: ServedLab;
  let base = '';
  let token = '';

  before(async () => {
    served = await serveLab({ prefix: 'hmlab-server-errors-' });
    const u = new URL(served.openUrl);
    base = u.origin;
    token = u.searchParams.get('token') ?? '';
  });
  after(async () => { await served?.close(); });

  const api = async <T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${base}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const operation = async () => (await api<{ operation: Operation | null }>('GET', '/lab/operation')).body.operation;
  /** Polls until no operation is under way; the lab's own progress bounds it. */
  const operationEnds = async (timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    while (await operation()) {
      assert.ok(Date.now() < end, `an operation still runs after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  test('GET /api/lab/operation names the up under way, another operation meanwhile is 409, and it is null once the lab is up', async () => {
    assert.deepEqual((await api('GET', '/lab/operation')).body, { operation: null, last: null }, 'nothing under way, nor ended, before the first up');
    const asked = Date.now();
    const up = await api('POST', '/lab/up', { topology: 'broker-only', trafficRate: 2 });
    assert.equal(up.status, 202, JSON.stringify(up.body));
    const op = await operation();
    assert.ok(op, 'the up shows while it runs (a broker takes seconds to start)');
    assert.deepEqual({ operation: op.operation, topology: op.topology }, { operation: 'up', topology: 'broker-only' });
    assert.ok(op.startedAt >= asked - 1000 && op.startedAt <= Date.now(), `started at ${op.startedAt}, asked at ${asked}`);
    const down = await api('POST', '/lab/down', {});
    assert.equal(down.status, 409);
    assert.match(String(down.body.error), /the lab is busy: "up" started \d+ s ago; wait for it to finish/);
    await operationEnds(180_000);
    const last = (await api<{ last: OperationOutcome | null }>('GET', '/lab/operation')).body.last;
    assert.deepEqual({ operation: last?.operation, topology: last?.topology, error: last?.error }, { operation: 'up', topology: 'broker-only', error: null },
      'the up that ended is the last operation, without an error');
    assert.ok(last!.endedAt >= last!.startedAt, `ended at ${last!.endedAt}, started at ${last!.startedAt}`);
    const st = (await api<LabStatus>('GET', '/status')).body;
    assert.equal(st.topology, 'broker-only');
    for (const c of st.components) assert.equal(c.state, 'running', `${c.name}: ${c.detail ?? ''}`);
  });

  test('a damaged state.json is the same 409 on /api/status and the labs routes, naming the file and the fix, and the fix works', async () => {
    const file = join(served.home, 'state.json');
    const text = readFileSync(file, 'utf8');
    const basePort = (JSON.parse(text) as { ports: { base: number } }).ports.base;
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2))); // cut off, as a full disk or a crash mid-write leaves it

    const status = await api('GET', '/status');
    assert.equal(status.status, 409, JSON.stringify(status.body));
    assert.equal(status.body.error, `${file} is not valid JSON: run "hmlab down" and "hmlab up" to start the lab afresh`);
    for (const [method, path] of [['GET', '/labs/01-one-broker'], ['GET', '/labs/01-one-broker/start'],
      ['POST', '/labs/01-one-broker/checks/broker-running'], ['POST', '/lab/up']] as const) {
      const r = await api(method, path, method === 'POST' ? (path === '/lab/up' ? { topology: 'broker-only' } : {}) : undefined);
      assert.deepEqual([r.status, r.body.error], [409, status.body.error], `${method} ${path} answers as /api/status does`);
    }

    // the fix the message names: down stops what runs although the file cannot say what; up writes it afresh
    assert.ok(processesOfHome(served.home).length > 0, 'the lab still runs');
    // run as a child the test waits for, not spawnSync: the test's connections to the server must stay served
    const down = await hmlab(['down', '--home', served.home], {}, 120_000);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.deepEqual(processesOfHome(served.home), [], 'nothing of the lab runs after "hmlab down"');
    const up = await hmlab(['up', '--topology', 'broker-only', '--base-port', String(basePort), '--home', served.home], {}, 240_000);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const after = await api<LabStatus>('GET', '/status');
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(after.body.topology, 'broker-only');
    assert.equal((await api('GET', '/labs/01-one-broker')).status, 200);
  });

  test('POST /api/lab/down shows as the operation under way until every component has stopped', async () => {
    const down = await api('POST', '/lab/down', {});
    assert.equal(down.status, 202, JSON.stringify(down.body));
    const op = await operation();
    assert.equal(op?.operation, 'down', 'stopping a broker takes seconds: the down shows meanwhile');
    assert.equal(op?.topology, undefined);
    await operationEnds(120_000);
    for (const c of (await api<LabStatus>('GET', '/status')).body.components) assert.equal(c.state, 'stopped', c.name);
  });
});
