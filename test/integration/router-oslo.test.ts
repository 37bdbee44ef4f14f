// Real oslo.messaging 14.0.3 (AMQP 1.0 driver) through a mesh of three real
// router processes: RPC call/cast/fanout, balanced spreading, no-consumer
// timeouts, failover, notifications, management. The same suite runs against
// qdrouterd when it is installed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  cleanupScope, eventually, findQdrouterd, freePort, MGMT_HELPER, OsloProc, PYTHON, ROOT, sleep, startRouter, tempDir,
  type Product, type RouterProc,
} from '../helpers/router-procs.js';
import { ManagementClient } from '../../server/router/index.js';

const qdrouterd = findQdrouterd();

for (const product of ['embedded', 'qdrouterd'] as Product[]) {
  const skip = product === 'qdrouterd' && !qdrouterd ? 'qdrouterd is not installed here (Debian 12 has no package): the reference run is skipped' : false;

  describe(`oslo.messaging through a 3-router mesh (${product})`, { skip }, () => {
    const scope = cleanupScope();
    let a: RouterProc, b: RouterProc, c: RouterProc;
    let s1: OsloProc, s2: OsloProc, client: OsloProc;
    let ports: { an: number; ai: number; bn: number; bi: number; cn: number };
    let dir: string;
    const url = (...p: number[]) => `amqp://${p.map((x) => `127.0.0.1:${x}`).join(',')}/`;

    before(async () => {
      dir = tempDir(scope);
      ports = { an: await freePort(), ai: await freePort(), bn: await freePort(), bi: await freePort(), cn: await freePort() };
      a = await startRouter(scope, dir, { id: 'Router.A', normal: ports.an, interRouter: ports.ai }, product);
      b = await startRouter(scope, dir, { id: 'Router.B', normal: ports.bn, interRouter: ports.bi, connectTo: [ports.ai] }, product);
      c = await startRouter(scope, dir, { id: 'Router.C', normal: ports.cn, connectTo: [ports.ai, ports.bi] }, product);
      for (const r of [a, b, c]) {
        await eventually(async () => {
          const m = await ManagementClient.connect('127.0.0.1', r.port);
          try { return (await m.query('router.node', ['id'])).length === 3; } finally { await m.close(); }
        }, 10000, `${r.id} to know all three routers`);
      }
      [s1, s2, client] = await Promise.all([
        OsloProc.start(scope, 'server', url(ports.cn), { topic: 'rpc', server: 's1' }),
        OsloProc.start(scope, 'server', url(ports.an), { topic: 'rpc', server: 's2' }),
        OsloProc.start(scope, 'client', url(ports.bn), { topic: 'rpc' }),
      ]);
    });
    after(() => scope.run());

    it('calls a server on another router and gets its reply', async () => {
      const r = await client.op({ op: 'call', id: 'call-1', timeout: 15 });
      assert.equal(r.ok, true, `call failed: ${String(r.error)} ${String(r.detail)}`);
      assert.ok(['s1', 's2'].includes((r.result as { server: string }).server));
    });

    it('delivers a cast to exactly one server', async () => {
      const r = await client.op({ op: 'cast', id: 'cast-1' });
      assert.equal(r.ok, true);
      await eventually(() => s1.handled((l) => l.value === 'cast-1').length + s2.handled((l) => l.value === 'cast-1').length === 1, 5000, 'the cast to arrive');
      await sleep(500);
      assert.equal(s1.handled((l) => l.value === 'cast-1').length + s2.handled((l) => l.value === 'cast-1').length, 1);
    });

    // qdrouterd 1.19.0 delivers a fanout twice to each server in a full mesh of
    // three, and now and then a server misses it (a defect of the reference,
    // in the README's differences table).
    const fanoutCopies = product === 'embedded' ? 'exactly once' : 'at most twice';
    it(`delivers a fanout cast to every server (${fanoutCopies})`, async () => {
      const r = await client.op({ op: 'cast', id: 'fan-1', fanout: true });
      assert.equal(r.ok, true);
      const got = (s: OsloProc) => s.handled((l) => l.value === 'fan-1').length;
      const both = await eventually(() => got(s1) >= 1 && got(s2) >= 1, 5000, 'both servers to get the fanout').then(() => true, () => false);
      await sleep(1000);
      if (product === 'embedded') {
        assert.ok(both, 'a server did not get the fanout');
        for (const [name, s] of [['s1', s1], ['s2', s2]] as const) assert.equal(got(s), 1, `server ${name} got the fanout ${got(s)} times`);
      } else {
        assert.ok(got(s1) + got(s2) >= 1, 'no server got the fanout');
        for (const [name, s] of [['s1', s1], ['s2', s2]] as const) assert.ok(got(s) <= 2, `server ${name} got the fanout ${got(s)} times`);
      }
    });

    it('sends a call to the named server only', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await client.op({ op: 'call', id: `uni-${i}`, server: 's2', timeout: 15 });
        assert.equal(r.ok, true);
        assert.equal((r.result as { server: string }).server, 's2');
      }
      assert.equal(s1.handled((l) => String(l.value).startsWith('uni-')).length, 0);
    });

    it('spreads concurrent calls across both servers (balanced)', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `bal-${i}`);
      const results = await Promise.all(ids.map((id) => client.op({ op: 'call', id, method: 'sleep', args: { seconds: 0.2 }, timeout: 20 })));
      assert.ok(results.every((r) => r.ok), 'some balanced calls failed');
      const by = (s: string) => results.filter((r) => (r.result as { server: string }).server === s).length;
      assert.ok(by('s1') >= 3 && by('s2') >= 3, `calls were not spread: s1=${by('s1')} s2=${by('s2')}`);
    });

    it('sends calls made one at a time to the same server, as qdrouterd does (balanced, nothing outstanding)', async () => {
      // Client on Router.B, servers on Router.A and Router.C at the same cost: with no
      // call outstanding the tie goes to the same router each time. A reply can
      // overtake its request's settlement, so now and then one call goes the other way.
      const servers: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await client.op({ op: 'call', id: `seq-${i}`, timeout: 15 });
        assert.equal(r.ok, true, `call failed: ${String(r.error)} ${String(r.detail)}`);
        servers.push((r.result as { server: string }).server);
      }
      const most = Math.max(...['s1', 's2'].map((s) => servers.filter((x) => x === s).length));
      assert.ok(most >= 18, `sequential calls were spread: ${servers.join(' ')}`);
    });

    it('times out a call with no server, and delivers one once a server attaches', async () => {
      // no consumer anywhere: no credit, so the send itself waits and times out
      const t0 = Date.now();
      const r = await client.op({ op: 'call', id: 'lonely-1', topic: 'lonely', timeout: 6 });
      const took = Date.now() - t0;
      assert.equal(r.ok, false);
      assert.equal(r.error, 'MessagingTimeout');
      assert.ok(took >= 5500 && took < 12000, `the call should time out after its 6 s timeout, took ${took} ms`);
      client.send({ op: 'call', id: 'lonely-2', topic: 'lonely', timeout: 20 });
      await sleep(1000);
      await OsloProc.start(scope, 'server', url(ports.an), { topic: 'lonely', server: 'late' });
      const r2 = await client.waitFor((l) => l.event === 'result' && l.id === 'lonely-2', 20000, 'the late call');
      assert.equal(r2.ok, true, `call after the server attached failed: ${String(r2.error)} ${String(r2.detail)}`);
      assert.equal((r2.result as { server: string }).server, 'late');
    });

    it('delivers notifications to a listener, and keeps none without one', async () => {
      const notifier = await OsloProc.start(scope, 'notifier', url(ports.cn), { topic: 'notifications' });
      const listener = await OsloProc.start(scope, 'listener', url(ports.an), { topic: 'notifications' });
      await eventually(async () => {
        const r = await notifier.op({ id: `probe-${Date.now()}`, event_type: 'compute.instance.probe' }, 15000);
        return r.ok && listener.lines.some((l) => l.event === 'notification');
      }, 15000, 'the first notification to reach the listener');
      await notifier.op({ id: 'n1', event_type: 'compute.instance.create.end', payload: { n: 1 } }, 15000);
      await listener.waitFor((l) => l.event === 'notification' && (l.payload as { n?: number }).n === 1, 5000, 'notification n=1');
      await listener.stop();
      // Nobody listens: the router offers no credit, the notifier gives up; nothing is stored.
      // (the Notifier logs the failure instead of raising: the wait until default_notify_timeout shows it)
      const lost = await notifier.op({ id: 'n2', event_type: 'compute.instance.delete.end', payload: { n: 2 } }, 20000);
      assert.ok(Number(lost.ms) >= 4500, `a notification with no listener should wait for credit until it times out, took ${Number(lost.ms)} ms`);
      const late = await OsloProc.start(scope, 'listener', url(ports.an), { topic: 'notifications' });
      await eventually(async () => {
        await notifier.op({ id: `n3-${Date.now()}`, event_type: 'compute.instance.create.end', payload: { n: 3 } }, 15000);
        return late.lines.some((l) => l.event === 'notification' && (l.payload as { n?: number }).n === 3);
      }, 20000, 'a new notification to reach the late listener');
      const kept = late.lines.filter((l) => l.event === 'notification' && (l.payload as { n?: number }).n === 2);
      assert.equal(kept.length, 0, 'the notification sent with no listener was kept');
    });

    it('answers management queries a qpid-proton client reads, and qdstat -n lists the mesh', async () => {
      assert.equal((await client.op({ op: 'call', id: 'mgmt-call', timeout: 15 })).ok, true);
      // a query by the qpid-proton management helper, to Router.B
      const mgmtQuery = (entityType: string, ...attributes: string[]) =>
        spawnSync(PYTHON, [MGMT_HELPER, `127.0.0.1:${ports.bn}`, entityType, ...attributes], { encoding: 'utf8', timeout: 20000 });
      const q = mgmtQuery('org.apache.qpid.dispatch.router.node', 'id', 'nextHop', 'cost');
      assert.equal(q.status, 0, q.stderr);
      const reply = JSON.parse(q.stdout) as {
        statusCode: number; correlation_id: number | null; string_correlation_id: string; attributeNames: string[]; results: unknown[][]; product: string;
      };
      assert.equal(reply.statusCode, 200);
      // qdrouterd 1.19.0 answers a numeric (ulong) correlation_id with none at all;
      // the embedded router copies it, as AMQP management asks (README: differences).
      assert.equal(reply.correlation_id, product === 'embedded' ? 4711 : null);
      assert.equal(reply.string_correlation_id, 'hmlab-4712', 'a string correlation_id comes back on both routers');
      assert.deepEqual(reply.attributeNames, ['id', 'nextHop', 'cost']);
      assert.deepEqual(reply.results.map((r) => r[0]).sort(), ['Router.A', 'Router.B', 'Router.C']);
      assert.equal(reply.product, product === 'embedded' ? 'hmlab-router' : 'qpid-dispatch-router');
      const links = mgmtQuery('org.apache.qpid.dispatch.router.link', 'linkType', 'linkDir', 'owningAddr', 'deliveryCount');
      assert.equal(links.status, 0, links.stderr);
      const lr = JSON.parse(links.stdout) as { results: unknown[][] };
      const rpcEndpoint = (r: unknown[]) => r[0] === 'endpoint' && typeof r[2] === 'string' && String(r[2]).includes('openstack.org/om/rpc');
      assert.ok(lr.results.some(rpcEndpoint), `no endpoint link for the RPC client on Router.B: ${JSON.stringify(lr.results)}`);
      const qd = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts'), 'qdstat', '-b', `127.0.0.1:${ports.bn}`, '-n'],
        { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
      assert.equal(qd.status, 0, qd.stderr);
      assert.match(qd.stdout, /Routers in the Network/);
      for (const id of ['Router.A', 'Router.B', 'Router.C']) assert.match(qd.stdout, new RegExp(id.replace('.', '\\.')));
    });

    it('fails over: the client moves to the next router, the call in flight times out, later calls succeed', async () => {
      const fo = await OsloProc.start(scope, 'client', url(ports.bn, ports.cn), { topic: 'rpc' });
      const r0 = await fo.op({ op: 'call', id: 'fo-0', timeout: 15 });
      assert.equal(r0.ok, true);
      // which router did the driver pick? its container id carries its pid
      const pid = String(fo.child.pid);
      let victim: RouterProc | null = null;
      for (const r of [b, c]) {
        const m = await ManagementClient.connect('127.0.0.1', r.port);
        const conns = await m.query('connection', ['container']);
        await m.close();
        if (conns.some((x) => String(x.container).includes(`/${pid}/`))) victim = r;
      }
      assert.ok(victim, 'the client is connected to neither Router.B nor Router.C');
      fo.send({ op: 'call', id: 'fo-inflight', method: 'sleep', args: { seconds: 2 }, timeout: 8 });
      await sleep(700);
      await victim.kill('SIGKILL');
      const t0 = Date.now();
      const inflight = await fo.waitFor((l) => l.event === 'result' && l.id === 'fo-inflight', 20000, 'the in-flight call to end');
      assert.equal(inflight.ok, false, 'a call in flight when its router died should fail');
      assert.equal(inflight.error, 'MessagingTimeout');
      assert.ok(Date.now() - t0 < 12000);
      const ok = await eventually(async () => {
        const r = await fo.op({ op: 'call', id: `fo-after-${Date.now()}`, timeout: 6 }, 15000);
        return r.ok ? r : null;
      }, 30000, 'a call after failover to succeed');
      assert.ok(['s1', 's2'].includes((ok.result as { server: string }).server));
      // the crashed router comes back with the same id and config: the mesh takes it in again
      const back = victim === b
        ? await startRouter(scope, dir, { id: 'Router.B', normal: ports.bn, interRouter: ports.bi, connectTo: [ports.ai] }, product)
        : await startRouter(scope, dir, { id: 'Router.C', normal: ports.cn, connectTo: [ports.ai, ports.bi] }, product);
      const t1 = Date.now();
      await eventually(async () => {
        const m = await ManagementClient.connect('127.0.0.1', a.port);
        try { return (await m.query('router.node', ['id'])).some((n) => n.id === back.id); } finally { await m.close(); }
      }, 10000, `Router.A to see ${back.id} again`);
      assert.ok(Date.now() - t1 < 5000, 'the mesh took more than 5 s to take the router back');
    });
  });
}
