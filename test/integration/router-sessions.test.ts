// A peer may end a session without detaching its links: AMQP 1.0 counts the
// links detached. proton does this when a link is freed unclosed (the
// oslo.messaging driver destroys links that way), and the connection stays
// up. The router must forget those consumers, or it keeps routing RPC calls
// into a session that no longer exists and the callers time out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Connection, Receiver } from 'rhea';
import { eventually, freePort, PYTHON, ROOT, startRouter, tempDir, sleep } from '../helpers/router-procs.js';
import { amqpConnect, nextMessage, openReceiver, openSender, sendForOutcome, waitSendable } from '../helpers/router-amqp.js';
import { ManagementClient } from '../../server/router/index.js';
import type { RouterProc } from '../helpers/router-procs.js';

const SESSION_END_HELPER = join(ROOT, 'test', 'helpers', 'router-session-end.py');

function cleanupScope() {
  const fns: (() => unknown)[] = [];
  return { after(fn: () => unknown) { fns.push(fn); }, async run() { for (const fn of fns.reverse()) { try { await fn(); } catch { /* keep cleaning */ } } } };
}

/** A receiver on a session of its own, so the session can be ended alone. */
function receiverInOwnSession(c: Connection, address: string): Promise<{ receiver: Receiver; end(): void }> {
  const session = (c as unknown as { create_session(): { begin(): void; end(): void; attach_receiver(o: unknown): Receiver } }).create_session();
  session.begin();
  const receiver = session.attach_receiver({ source: { address }, autoaccept: true, credit_window: 10 });
  // rhea's Session.end sends END only: the receiver is never detached
  return new Promise((res) => receiver.once('receiver_open', () => res({ receiver, end: () => session.end() })));
}

async function consumersOf(m: ManagementClient, address: string): Promise<number> {
  const rows = await m.query('router.link', ['owningAddr', 'linkDir', 'linkType']);
  return rows.filter((r) => r.linkDir === 'out' && r.linkType === 'endpoint' && String(r.owningAddr).endsWith(address)).length;
}

describe('embedded router: a session ended without detaching its links', () => {
  const scope = cleanupScope();
  let router: RouterProc;
  let mgmt: ManagementClient;
  before(async () => {
    router = await startRouter(scope, tempDir(scope), { id: 'Router.S', normal: await freePort(), mode: 'standalone' });
    mgmt = await ManagementClient.connect('127.0.0.1', router.port);
    scope.after(() => mgmt.close());
  });
  after(() => scope.run());

  it('sends every call for a server to its live consumer, none into the ended session', async (t) => {
    const address = 'openstack.org/om/rpc/unicast/openstack/compute/compute-1';
    const stale = await amqpConnect(t, router.port);
    const gone = await receiverInOwnSession(stale, address);
    let lost = 0;
    gone.receiver.on('message', () => { lost++; });
    const live = await amqpConnect(t, router.port);
    const r = await openReceiver(live, address, { autoaccept: true, credit: 100 });
    let got = 0;
    r.on('message', () => { got++; });
    await eventually(async () => (await consumersOf(mgmt, address)) === 2, 3000, 'two consumers attached');

    gone.end();
    await sleep(200);

    const pc = await amqpConnect(t, router.port);
    const s = await openSender(pc, address);
    assert.ok(await waitSendable(s, 3000), 'no credit while a live consumer is attached');
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(sendForOutcome(s, `call ${i}`, 3000).outcome);
    const kinds = (await Promise.all(outcomes.map((o) => o.catch((e: Error) => ({ kind: e.message }))))).map((o) => o.kind);
    assert.deepEqual(kinds, Array(10).fill('accepted'), 'every call should be accepted by the live server');
    assert.equal(got, 10);
    assert.equal(lost, 0);
    assert.equal(await consumersOf(mgmt, address), 1, 'the router still lists the consumer whose session ended');
  });

  it('grants no credit for an address whose only consumer\'s session ended (no consumer, no credit)', async (t) => {
    const address = 'openstack.org/om/rpc/anycast/openstack/scheduler';
    const c = await amqpConnect(t, router.port);
    const gone = await receiverInOwnSession(c, address);
    await eventually(async () => (await consumersOf(mgmt, address)) === 1, 3000, 'the consumer attached');
    gone.end();
    await sleep(200);
    const pc = await amqpConnect(t, router.port);
    const s = await openSender(pc, address);
    assert.equal(await waitSendable(s, 1000), false, 'a producer got credit for an address with no consumer left');
    // a consumer arriving later gets the producer going again
    const fresh = await openReceiver(c, address, { autoaccept: true });
    assert.ok(await waitSendable(s, 3000), 'no credit once a new consumer attached');
    const msg = nextMessage(fresh);
    const { outcome } = sendForOutcome(s, 'after');
    assert.equal((await msg).message!.body, 'after');
    assert.equal((await outcome).kind, 'accepted');
  });

  it('forgets the consumer of a pyngus client that frees its link unclosed, as oslo.messaging does', async (t) => {
    const address = 'openstack.org/om/rpc/unicast/openstack/compute/compute-9';
    const child = spawn(PYTHON, [SESSION_END_HELPER, String(router.port), address], { stdio: ['pipe', 'pipe', 'pipe'] });
    let errors = '';
    child.stderr!.on('data', (d) => { errors += d; });
    t.after(() => { if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL'); });
    const events: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => { try { events.push(JSON.parse(line).event); } catch { /* not ours */ } });
    await eventually(() => events.includes('attached'), 10000, `the pyngus consumer to attach${errors ? `: ${errors}` : ''}`);
    assert.equal(await consumersOf(mgmt, address), 1);
    child.stdin!.write('free\n');
    await eventually(() => events.includes('freed'), 5000, 'the pyngus consumer to free its link');
    assert.equal(child.exitCode, null, 'the helper should keep its connection open');
    await eventually(async () => (await consumersOf(mgmt, address)) === 0, 3000, 'the router to drop the freed consumer while its connection stays open');
  });
});
