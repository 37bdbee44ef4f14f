// The labs API at its edges, on a lab home that was never brought up:
// validation errors name the field, progress survives a server restart,
// checks and edits say what to do when the lab is not running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { labsPlugin } from '../../server/labs/index.js';

const TOKEN = 'labs-api-token-0123456789abcdef0123456789abcdef';
let home = '';
let server: LabServer;

async function start(): Promise<LabServer> {
  return startLabServer({ home, port: 0, token: TOKEN, plugins: [labsPlugin({ basePort: 47000 })] }); // the lab of the server's home
}

async function call(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/api${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hmlab-labs-api-'));
  server = await start();
});
after(async () => {
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

const SHIPPED_LABS = [
  ['01-one-broker', 'One broker for everything'],
  ['02-split-transports', 'Split the transports'],
  ['03-temporal-coupling', 'Temporal coupling'],
  ['04-router-mesh', 'A router mesh'],
  ['05-failover', 'Failover'],
  ['06-durable-notifications', 'Notifications that must not be lost'],
  ['07-measure', 'Measure'],
  ['08-operating', 'Operating it'],
  ['09-across-regions', 'Across regions'],
];

test('the lab list needs the token and lists every lab with steps, checks and progress', async () => {
  assert.equal((await call('GET', '/labs', undefined, false)).status, 401);
  const r = await call('GET', '/labs');
  assert.equal(r.status, 200);
  const labs = r.body.labs as { id: string; title: string; steps: unknown[]; checks: { id: string }[]; progress: { passed: number; total: number } }[];
  // The nine labs of labs/*/lab.md, in order, with their front matter titles.
  assert.deepEqual(labs.map((l) => [l.id, l.title]), SHIPPED_LABS);
  for (const l of labs) assert.ok(l.steps.length > 0 && l.checks.length > 0, `${l.id} has steps and checks`);
  assert.deepEqual(labs[0].checks.map((c) => c.id), ['broker-running', 'rpc-on-broker', 'notifications-on-broker', 'one-transport']);
  assert.deepEqual(labs[0].progress, { step: 0, passed: 0, total: 4, updatedAt: null });
});

test('a lab page has rendered steps, and run commands carry the learner\'s port block', async () => {
  const r = await call('GET', '/labs/01-one-broker');
  const steps = r.body.steps as { html: string; actions: { kind: string; command?: string }[] }[];
  assert.match(steps[0].html, /hmlab up --topology broker-only --base-port 47000/);
  assert.equal(steps[0].actions[0].command, 'hmlab up --topology broker-only --base-port 47000');
});

test('bad requests get an error naming the field', async () => {
  const unknown = await call('GET', '/labs/99-nope');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.field, 'lab');
  assert.match(String(unknown.body.error), /no lab "99-nope".*01-one-broker/);
  const badStep = await call('POST', '/labs/01-one-broker/progress', { step: 'two' });
  assert.deepEqual([badStep.status, badStep.body.field], [400, 'step']);
  const tooFar = await call('POST', '/labs/01-one-broker/progress', { step: 9 });
  assert.deepEqual([tooFar.status, tooFar.body.field], [400, 'step']);
  const extra = await call('POST', '/labs/01-one-broker/progress', { stepp: 1 });
  assert.equal(extra.status, 400);
  assert.match(String(extra.body.error), /allowed are "step" and "action"/);
  const check = await call('POST', '/labs/01-one-broker/checks/mesh-formed', {});
  assert.deepEqual([check.status, check.body.field], [404, 'check']);
  const edit = await call('POST', '/labs/02-split-transports/edits/7/preview', {});
  assert.deepEqual([edit.status, edit.body.field], [404, 'edit']);
});

test('before the lab is up, a check fails with the way out and an edit is refused with the reason', async () => {
  const c = await call('POST', '/labs/01-one-broker/checks/broker-running', {});
  assert.equal(c.status, 200);
  assert.equal(c.body.pass, false);
  assert.match(String(c.body.hint), /hmlab up --topology broker-only/);
  const e = await call('POST', '/labs/02-split-transports/edits/0/apply', {});
  assert.equal(e.status, 409);
  assert.match(String(e.body.error), /bring it up first/);
});

test('progress is kept on the server and survives a restart of the lab server', async () => {
  await call('POST', '/labs/01-one-broker/progress', { step: 2, action: 'run:0' });
  await call('POST', '/labs/01-one-broker/checks/broker-running', {}); // a failed check is recorded too
  await server.close();
  server = await start();
  const p = await call('GET', '/labs/01-one-broker/progress');
  assert.equal(p.body.step, 2);
  assert.deepEqual(p.body.actions, ['run:0']);
  assert.equal((p.body.checks as Record<string, { pass: boolean }>)['broker-running'].pass, false);
});
