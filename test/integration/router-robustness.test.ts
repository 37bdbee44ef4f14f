// The embedded router under abuse: garbage, malformed frames, a peer that
// vanishes mid-transfer, a thousand idle connections. Each hits only its
// own connection; the router keeps routing for everyone else.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { cleanupScope, eventually, freePort, startRouter, tempDir, sleep } from '../helpers/router-procs.js';
import { amqpConnect, closeConnection, openReceiver, openSender, roundTrip, waitSendable, whenClosedByPeer } from '../helpers/router-amqp.js';
import { ManagementClient } from '../../server/router/index.js';
import type { RouterProc } from '../helpers/router-procs.js';
import { AMQP_HEADER, frame, rawPeer } from '../helpers/amqp-raw.js';

/** Write bytes, collect what comes back until the router closes the socket. */
function probe(port: number, bytes: Buffer, timeoutMs = 3000): Promise<{ closed: boolean; reply: Buffer }> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let reply = Buffer.alloc(0);
    s.on('data', (d) => { reply = Buffer.concat([reply, d]); });
    s.on('error', () => {});
    const t = setTimeout(() => { s.destroy(); res({ closed: false, reply }); }, timeoutMs);
    s.on('close', () => { clearTimeout(t); res({ closed: true, reply }); });
  });
}

describe('embedded router robustness', () => {
  const scope = cleanupScope();
  let router: RouterProc;
  before(async () => {
    router = await startRouter(scope, tempDir(scope), { id: 'Router.R', normal: await freePort(), mode: 'standalone' });
  });
  after(() => scope.run());

  it('answers garbage with an AMQP close carrying an error, then closes only that connection', async (t) => {
    const http = await probe(router.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(http.closed, true);
    assert.equal(http.reply.subarray(0, 4).toString('latin1'), 'AMQP', 'the reply should start with the AMQP protocol header');
    assert.match(http.reply.toString('latin1'), /amqp:decode-error/);
    const badFrame = Buffer.from([0, 0, 0, 16, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const bad = await probe(router.port, Buffer.concat([AMQP_HEADER, badFrame]));
    assert.equal(bad.closed, true);
    assert.match(bad.reply.toString('latin1'), /amqp:decode-error/);
    await roundTrip(t, router.port, 'robust/after-garbage');
    assert.equal(router.child.exitCode, null, 'the router died');
  });

  it('refuses an array of millions of zero-width elements in a tiny frame, without decoding them', async (t) => {
    // an Open whose body is an array32 of 0x04000000 nulls: 17 bytes claim 67 million elements
    const body = Buffer.from([0x00, 0x53, 0x10, 0xf0, 0, 0, 0, 5, 0x04, 0, 0, 0, 0x40]);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(8 + body.length);
    const bomb = await probe(router.port, Buffer.concat([AMQP_HEADER, size, Buffer.from([2, 0, 0, 0]), body]));
    assert.equal(bomb.closed, true);
    assert.match(bomb.reply.toString('latin1'), /amqp:decode-error/);
    assert.match(bomb.reply.toString('latin1'), /array of 67108864 Null elements in 21 bytes/, 'the close should say why the frame was refused');
    await roundTrip(t, router.port, 'robust/after-array-bomb');
  });

  it('heartbeats a peer that asks for the longest idle timeout rarely, not every millisecond', async () => {
    const peer = await rawPeer(router.port);
    try {
      peer.write(Buffer.concat([AMQP_HEADER, frame(0, 'open', { container_id: 'longest-idle', idle_time_out: 0xffffffff })]));
      await eventually(async () => peer.frameCount() >= 1 || null, 3000, "the router's Open");
      await sleep(500);
      // its Open, and no heartbeat: half of 2^32-1 ms overflowed Node's timer into a 1 ms one
      assert.equal(peer.frameCount(), 1, `the router sent ${peer.frameCount()} frames in half a second`);
    } finally {
      peer.destroy();
    }
  });

  it('loses only the deliveries of a peer that vanishes mid-transfer', async (t) => {
    const cc = await amqpConnect(t, router.port);
    const r = await openReceiver(cc, 'robust/big', { autoaccept: true });
    let got = 0;
    r.on('message', () => { got++; });
    const pc = await amqpConnect(t, router.port);
    const s = await openSender(pc, 'robust/big');
    assert.ok(await waitSendable(s, 3000));
    // the peer vanishes after the first megabyte of an 8 MB delivery is on the wire
    const socket = (pc as unknown as { socket: Socket }).socket;
    const write = socket.write.bind(socket) as (b: Buffer) => boolean;
    let written = 0;
    (socket as unknown as { write(b: Buffer): boolean }).write = (b: Buffer) => {
      const room = (1 << 20) - written;
      if (room <= 0) return true;
      written += b.length;
      if (b.length < room) return write(b);
      write(b.subarray(0, room));
      setImmediate(() => socket.destroy());
      return true;
    };
    s.send({ body: Buffer.alloc(8 * 1024 * 1024, 7) });
    await sleep(500);
    assert.equal(got, 0, 'the consumer got a message from a transfer that never finished');
    await roundTrip(t, router.port, 'robust/after-vanish');
    assert.equal(router.child.exitCode, null);
  });

  it('holds 1,000 idle connections and keeps routing', async (t) => {
    const conns = [];
    for (let i = 0; i < 1000; i += 50) {
      conns.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => amqpConnect(t, router.port, `idle-${i + j}`)))));
    }
    const m = await ManagementClient.connect('127.0.0.1', router.port);
    const [stats] = await m.query('router', ['connectionCount']);
    await m.close();
    assert.ok(Number(stats.connectionCount) >= 1000, `router reports ${String(stats.connectionCount)} connections`);
    await roundTrip(t, router.port, 'robust/after-idle');
    await Promise.all(conns.map((c) => closeConnection(c)));
  });
});

describe('embedded router SASL', () => {
  it('accepts SASL PLAIN as well as ANONYMOUS, as the oslo.messaging driver may use either', async (t) => {
    const scope = cleanupScope();
    t.after(() => scope.run());
    const router = await startRouter(scope, tempDir(scope), { id: 'Router.S', normal: await freePort(), mode: 'standalone' });
    const m = await ManagementClient.connect('127.0.0.1', router.port, { username: 'nova', password: 'secret' });
    const [r] = await m.query('router', ['id']);
    assert.equal(r.id, 'Router.S');
    await m.close();
  });
});

describe('embedded router roles', () => {
  it('refuses a client on an inter-router listener, and a router on a normal listener, saying which port to use', async (t) => {
    const scope = cleanupScope();
    t.after(() => scope.run());
    const dir = tempDir(scope);
    const inter = await freePort();
    const a = await startRouter(scope, dir, { id: 'Router.I', normal: await freePort(), interRouter: inter });
    const c = await amqpConnect(t, inter, 'lost-client');
    const err = await whenClosedByPeer(c);
    assert.equal(err.condition, 'amqp:unauthorized-access');
    assert.match(String(err.description), /inter-router listener .*clients use a normal listener/);
    // a router whose connector points at the normal listener is told so, and logs it
    const b = await startRouter(scope, dir, { id: 'Router.J', normal: await freePort(), connectTo: [a.port] });
    await eventually(() => /point its connector at an inter-router listener/.test(a.output()), 5000, 'Router.I to name the misconfiguration');
    assert.equal(b.child.exitCode, null);
  });
});

describe('embedded router mesh at rest', () => {
  const scope = cleanupScope();
  after(() => scope.run());

  it('sends its neighbours only keep-alives while nothing changes: no fresh advertisement for every router to recompute', async () => {
    const dir = tempDir(scope);
    const [an, ai, bn, bi, cn] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const a = await startRouter(scope, dir, { id: 'Rest.A', normal: an!, interRouter: ai! });
    await startRouter(scope, dir, { id: 'Rest.B', normal: bn!, interRouter: bi!, connectTo: [ai!] });
    await startRouter(scope, dir, { id: 'Rest.C', normal: cn!, connectTo: [ai!, bi!] });
    const m = await ManagementClient.connect('127.0.0.1', a.port);
    try {
      const controlSent = async () => (await m.query('router.link', ['linkType', 'linkDir', 'deliveryCount']))
        .filter((l) => l.linkType === 'router-control' && l.linkDir === 'out').map((l) => Number(l.deliveryCount));
      await eventually(async () => (await m.query('router.node', ['id'])).length === 3, 15000, 'Rest.A to know all three routers');
      await sleep(1000); // the burst of advertisements as the mesh formed is over
      const before = await controlSent();
      assert.equal(before.length, 2, 'Rest.A should have a control link to each of its two neighbours');
      const windowS = 7;
      await sleep(windowS * 1000);
      const sent = (await controlSent()).map((n, i) => n - before[i]!);
      // One keep-alive a second per neighbour (a late timer sends fewer, never more); a fresh
      // advertisement, flooded on by each neighbour, would add at least two in 7 s.
      for (const n of sent) assert.ok(n <= windowS + 1, `Rest.A sent ${n} control messages to a neighbour in ${windowS} s at rest: ${sent.join(', ')}`);
      assert.ok(sent.every((n) => n >= windowS - 2), `keep-alives should still flow: ${sent.join(', ')}`);
    } finally {
      await m.close();
    }
  });
});
