// The router under hostile peers, each attack reproduced first: a tiny
// max-frame-size, frames and messages larger than announced, transfers
// beyond credit, silent and half-open connections, heartbeat floods, and
// more connections, sessions and links than allowed. The limits carry
// qdrouterd's names (listener maxFrameSize, maxSessions, idleTimeoutSeconds,
// initialHandshakeTimeoutSeconds; policy maxConnections, maxMessageSize;
// vhost group maxSessions, maxSenders, maxReceivers); where qdrouterd is
// installed, the shared cases also run against it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection, EventContext, Sender } from 'rhea';
import {
  cleanupScope, eventually, findQdrouterd, freePort, rssOf, sleep, startRouter, tempDir, type Product, type RouterProc, type TestContext,
} from '../helpers/router-procs.js';
import {
  amqpConnect, closeConnection, nextMessage, openReceiver, openSender, roundTrip, sendForOutcome, waitSendable, whenClosedByPeer,
} from '../helpers/router-amqp.js';
import { AMQP_HEADER, EMPTY_FRAME, frame, rawPeer } from '../helpers/amqp-raw.js';

const qdrouterd = findQdrouterd();


type OpenFields = { max_frame_size?: number; channel_max?: number; idle_time_out?: number };
const remoteOpen = (c: Connection) => (c as unknown as { remote: { open: OpenFields } }).remote.open;
const linkClosed = (l: Sender | { once(e: string, f: (ctx: EventContext) => void): void }, kind: 'sender' | 'receiver') =>
  new Promise<{ condition?: string; description?: string }>((res) => l.once(`${kind}_close`, (ctx: EventContext) => {
    const link = kind === 'sender' ? ctx.sender : ctx.receiver;
    res((link?.error ?? {}) as { condition?: string });
  }));

describe('router limits: defaults (embedded)', () => {
  const scope = cleanupScope();
  let router: RouterProc;
  before(async () => {
    router = await startRouter(scope, tempDir(scope), { id: 'Router.D', normal: await freePort(), mode: 'standalone' });
  });
  after(() => scope.run());

  it('announces qdrouterd\'s defaults in its Open: max-frame-size 16384, channel-max 32767, idle-time-out 8 s', async (t) => {
    const c = await amqpConnect(t, router.port);
    const open = remoteOpen(c);
    assert.equal(open.max_frame_size, 16384);
    assert.equal(open.channel_max, 32767);
    assert.equal(open.idle_time_out, 8000);
    await closeConnection(c);
  });

  it('delivers to a peer announcing max-frame-size 40 in frames of 512 instead of looping forever', async (t) => {
    const before = rssOf(router.child.pid!);
    const c = await amqpConnect(t, router.port, 'tiny-frames', { max_frame_size: 40 });
    const r = await openReceiver(c, 'limits/tiny', { autoaccept: true });
    const s = await openSender(c, 'limits/tiny');
    assert.ok(await waitSendable(s, 5000));
    const got = nextMessage(r);
    const { outcome } = sendForOutcome(s, 'x'.repeat(2000));
    assert.equal(String((await got).message!.body).length, 2000, 'the message did not arrive whole');
    assert.equal((await outcome).kind, 'accepted');
    await closeConnection(c);
    assert.ok(rssOf(router.child.pid!) - before < 50e6, 'the router grew by more than 50 MB for one small message');
    await roundTrip(t, router.port, 'limits/after-tiny');
    assert.match(router.output(), /asked for max-frame-size 40, below AMQP's minimum: using 512/);
  });

  it('closes a connection that claims a frame larger than max-frame-size, before buffering it', async (t) => {
    const before = rssOf(router.child.pid!);
    const p = await rawPeer(router.port);
    p.write(Buffer.concat([AMQP_HEADER, frame(0, 'open', { container_id: 'huge-frame' })]));
    const header = Buffer.alloc(8);
    header.writeUInt32BE(0xfffffff0, 0);
    header[4] = 2;
    p.write(header);
    // stream into the claimed frame until the router hangs up
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 200 && !p.socket.destroyed; i++) { p.write(chunk); await sleep(2); }
    const { closed } = await p.closed(5000);
    assert.ok(closed, 'the router kept reading a 4 GB frame');
    assert.match(p.received().toString('latin1'), /amqp:connection:framing-error/);
    assert.ok(rssOf(router.child.pid!) - before < 30e6, 'the router buffered the oversized frame');
    p.destroy();
    await roundTrip(t, router.port, 'limits/after-huge-frame');
  });

  it('detaches a producer that sends beyond its credit with amqp:link:transfer-limit-exceeded, logged once, nothing on stderr', async (t) => {
    const cc = await amqpConnect(t, router.port);
    const r = await openReceiver(cc, 'limits/credit', { autoaccept: true, credit: 1000 });
    let received = 0;
    r.on('message', () => { received++; });
    const pc = await amqpConnect(t, router.port, 'credit-violator', { session_buffer_size: 32768 });
    const s = await openSender(pc, 'limits/credit');
    assert.ok(await waitSendable(s, 5000));
    const closedWith = linkClosed(s, 'sender');
    // a client that ignores credit: rhea sends whatever its own credit count allows
    (s as unknown as { credit: number }).credit = 1e9;
    const before = rssOf(router.child.pid!);
    for (let i = 0; i < 20000; i++) s.send({ body: 'x'.repeat(100) });
    const err = await closedWith;
    assert.equal(err.condition, 'amqp:link:transfer-limit-exceeded');
    await sleep(500);
    const receivedThen = received;
    await sleep(500);
    // what the router granted as deliveries moved on arrives; nothing beyond it, nothing after the detach
    assert.ok(received < 20000, 'every transfer went through although the producer ignored credit');
    assert.equal(received, receivedThen, 'deliveries kept arriving after the link was detached');
    assert.equal((router.output().match(/transfer-limit-exceeded/g) ?? []).length, 1, 'the violation should be logged exactly once');
    assert.doesNotMatch(router.stderr(), /credit/i, 'rhea wrote to stderr outside the router log');
    assert.ok(rssOf(router.child.pid!) - before < 40e6, 'the router held the transfers beyond credit');
    await closeConnection(pc);
    await closeConnection(cc);
    await roundTrip(t, router.port, 'limits/after-credit');
  });

  it('puts a floor under the heartbeat interval for a peer announcing idle-time-out 1 ms', async () => {
    const p = await rawPeer(router.port);
    p.write(Buffer.concat([AMQP_HEADER, frame(0, 'open', { container_id: 'hb-flood', idle_time_out: 1 })]));
    // answer with our own heartbeats so the router keeps the connection
    const keep = setInterval(() => p.write(EMPTY_FRAME), 500);
    await sleep(3000);
    clearInterval(keep);
    const n = p.frameCount();
    p.destroy();
    // its open, then one heartbeat a second at most (without a floor: hundreds a second)
    assert.ok(n >= 2 && n <= 6, `the router sent ${n} frames in 3 s`);
  });
});

for (const product of ['embedded', 'qdrouterd'] as Product[]) {
  const skip = product === 'qdrouterd' && !qdrouterd ? 'qdrouterd is not installed here: the reference run is skipped' : false;
  describe(`router limits: silent and half-open connections (${product})`, { skip }, () => {
    const scope = cleanupScope();
    let router: RouterProc;
    before(async () => {
      router = await startRouter(scope, tempDir(scope), {
        id: 'Router.T', normal: await freePort(), mode: 'standalone',
        listenerExtra: '    initialHandshakeTimeoutSeconds: 1\n    idleTimeoutSeconds: 2\n',
      }, product);
    });
    after(() => scope.run());

    it('closes connections that never send an AMQP Open (initialHandshakeTimeoutSeconds)', async () => {
      const silent = await Promise.all(Array.from({ length: 50 }, () => rawPeer(router.port)));
      const headerOnly = await rawPeer(router.port);
      headerOnly.write(AMQP_HEADER);
      const results = await Promise.all([...silent, headerOnly].map((p) => p.closed(6000)));
      for (const p of [...silent, headerOnly]) p.destroy();
      const open = results.filter((r) => !r.closed).length;
      assert.equal(open, 0, `${open} of 51 connections without an Open were still open after 6 s`);
    });

    it('closes an opened connection whose next frame never completes (idleTimeoutSeconds counts frames, not bytes)', async () => {
      const p = await rawPeer(router.port);
      p.write(Buffer.concat([AMQP_HEADER, frame(0, 'open', { container_id: 'half-frame' })]));
      await sleep(300);
      // a begin frame cut in three, its last part never sent, the others trickled
      const begin = frame(0, 'begin', { next_outgoing_id: 0, incoming_window: 10, outgoing_window: 10 });
      p.write(begin.subarray(0, 6));
      await sleep(1000);
      p.write(begin.subarray(6, 10));
      await sleep(1000);
      p.write(begin.subarray(10, 12));
      const { closed, afterMs } = await p.closed(8000);
      p.destroy();
      assert.ok(closed, 'a connection stuck in a partial frame was kept open');
      assert.ok(afterMs < 7000, `closed only after ${afterMs} ms`);
      assert.match(p.received().toString('latin1'), /amqp:resource-limit-exceeded/);
      if (product === 'embedded') assert.match(router.output(), /no complete frame for 2 s \(idleTimeoutSeconds\)/);
    });
  });
}

const POLICY = `policy {
    maxConnections: 5
    maxMessageSize: 100000
    enableVhostPolicy: true
}
vhost {
    hostname: $default
    allowUnknownUser: true
    groups: {
        "$default": {
            "users": "*",
            "remoteHosts": "*",
            "sources": "*",
            "targets": "*",
            "allowDynamicSource": true,
            "allowAnonymousSender": true,
            "maxSessions": 3,
            "maxSenders": 3,
            "maxReceivers": 3
        }
    }
}
`;

for (const product of ['embedded', 'qdrouterd'] as Product[]) {
  const skip = product === 'qdrouterd' && !qdrouterd ? 'qdrouterd is not installed here: the reference run is skipped' : false;
  describe(`router limits: policy (${product})`, { skip }, () => {
    const scope = cleanupScope();
    let router: RouterProc;
    before(async () => {
      router = await startRouter(scope, tempDir(scope), { id: 'Router.P', normal: await freePort(), mode: 'standalone', extra: POLICY }, product);
    });
    after(() => scope.run());
    // The router frees a connection's place under maxConnections when it
    // sees the socket close, which can come after the client is done with it:
    // a test's first connection may meet the last test's leftovers.
    const connect = (t: TestContext, id?: string) =>
      eventually(() => amqpConnect(t, router.port, id), 5000, 'a connection within maxConnections');

    it('refuses client connections beyond maxConnections, and takes new ones when others leave', async (t) => {
      const conns: Connection[] = [];
      // the readiness probe's connection may still be closing
      await eventually(async () => {
        while (conns.length < 5) conns.push(await amqpConnect(t, router.port, `c${conns.length}`));
        return true;
      }, 5000, 'five client connections');
      const p = await rawPeer(router.port);
      p.write(AMQP_HEADER);
      const { closed } = await p.closed(3000);
      assert.ok(closed, 'a sixth connection was kept');
      p.destroy();
      await closeConnection(conns.pop()!);
      const again = await eventually(() => amqpConnect(t, router.port, 'c-again'), 5000, 'a connection once one left');
      conns.push(again);
      await Promise.all(conns.map((c) => closeConnection(c)));
    });

    it('rejects a delivery above maxMessageSize with amqp:link:message-size-exceeded and closes the connection', async (t) => {
      const cc = await connect(t);
      const r = await openReceiver(cc, 'limits/size', { autoaccept: true });
      const pc = await connect(t, 'big-sender');
      const s = await openSender(pc, 'limits/size');
      assert.ok(await waitSendable(s, 5000));
      const got = nextMessage(r);
      assert.equal((await sendForOutcome(s, 'a'.repeat(50000)).outcome).kind, 'accepted');
      assert.equal(String((await got).message!.body).length, 50000);
      const { outcome } = sendForOutcome(s, 'b'.repeat(300000));
      const o = await outcome;
      assert.equal(o.kind, 'rejected');
      assert.equal((o.state.error as { condition?: string }).condition, 'amqp:link:message-size-exceeded');
      const err = await whenClosedByPeer(pc);
      assert.equal(err.condition, 'amqp:connection:forced');
      await closeConnection(cc);
    });

    it('closes a connection that begins more sessions than maxSessions', async (t) => {
      const c = await connect(t, 'many-sessions');
      const closedWith = whenClosedByPeer(c);
      for (let i = 0; i < 5; i++) (c as unknown as { create_session(): { begin(): void } }).create_session().begin();
      const err = await closedWith;
      assert.equal(err.condition, 'amqp:connection:framing-error');
      assert.match(String(err.description), /channel_max 2/);
    });

    it('detaches sending and receiving links beyond maxSenders and maxReceivers', async (t) => {
      const c = await connect(t, 'many-links');
      const senders = Array.from({ length: 5 }, (_, i) => c.open_sender(`limits/s${i}`));
      const receivers = Array.from({ length: 5 }, (_, i) => c.open_receiver(`limits/r${i}`));
      const refused = await Promise.all([...senders.slice(3).map((s) => linkClosed(s, 'sender')), ...receivers.slice(3).map((r) => linkClosed(r, 'receiver'))]);
      for (const e of refused) assert.equal(e.condition, 'amqp:resource-limit-exceeded');
      await sleep(300);
      assert.ok(senders.slice(0, 3).every((s) => s.is_open()), 'links within the limit were closed');
      assert.ok(receivers.slice(0, 3).every((r) => r.is_open()), 'links within the limit were closed');
      await closeConnection(c);
      await roundTrip(t, router.port, 'limits/after-links');
    });
  });
}
