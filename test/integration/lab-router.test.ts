// RPC through routers: the hybrid lab's "edit openstack.conf, restart the
// services" story, and failover in the mesh. Runs with qdrouterd when one is
// installed, otherwise with the embedded router; skipped when neither is.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedRouterAvailable, findOnPath, processesOfHome } from '../../server/backends/index.js';
import { component, hmlab, moreCalls, readEvents, tempLab, waitFor, type TempLab } from '../helpers/lab-env.js';

const routerSkip = findOnPath('qdrouterd') || embeddedRouterAvailable()
  ? false
  : 'no router available: neither qdrouterd on PATH nor the embedded router ("npm run build" builds "hmlab router")';
if (routerSkip) console.log(`# skipping router lab tests: ${routerSkip}`);

const auth = { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') };

describe('hybrid: RPC on the router, notifications on the broker', { skip: routerSkip }, () => {
  let lab: TempLab;
  before(async () => {
    lab = await tempLab('hmlab-hybrid-');
    await lab.lab.up({ topology: 'hybrid', basePort: lab.basePort });
  });
  after(async () => { await lab?.cleanup(); });

  test('services attach RPC to the router and notifications to the broker', async () => {
    const st = lab.lab.statusSync();
    const router = component(st, 'router-a');
    assert.equal(router.state, 'running');
    assert.match(router.product ?? '', /^(hmlab-router|qpid-dispatch-router) /);
    assert.ok(st.router === 'embedded' || st.router === 'qdrouterd');
    assert.equal(st.transports.rpc, `amqp://127.0.0.1:${lab.basePort + 10}/`);
    assert.equal(component(st, 'compute-1').connectedTo, router.endpoint);
    assert.equal(component(st, 'conductor').connectedTo, router.endpoint);
    assert.equal(component(st, 'telemetry').connectedTo, component(st, 'broker').endpoint);
    const flowing = await waitFor('calls and notifications', () => {
      const t = lab.lab.statusSync().traffic;
      return t.rpcCalls.ok >= 10 && t.notifications.received > 0 ? t : null;
    });
    assert.equal(flowing.rpcCalls.failed, 0);
  });

  test('editing transport_url in openstack.conf and restarting the services moves RPC between router and broker', async () => {
    const file = join(lab.home, 'etc', 'openstack.conf');
    const routed = readFileSync(file, 'utf8');
    const brokerUrl = `rabbit://guest:guest@127.0.0.1:${lab.basePort}/`;
    writeFileSync(file, routed.replace(/^transport_url = amqp:.*$/m, `transport_url = ${brokerUrl}`));
    let r = await hmlab(['restart', 'services', '--home', lab.home]);
    assert.equal(r.code, 0, r.stderr);
    // each service restarted has its own line, with its new pid and where it is connected
    for (const s of ['compute-1', 'compute-2', 'conductor', 'telemetry']) {
      assert.match(r.stdout, new RegExp(`^${s}: running \\(pid \\d+\\), oslo\\.messaging \\S+ -> broker \\(`, 'm'));
    }
    let st = lab.lab.statusSync();
    const broker = component(st, 'broker');
    for (const s of ['compute-1', 'compute-2', 'conductor']) assert.equal(component(st, s).connectedTo, broker.endpoint, `${s} on the broker`);
    await moreCalls(lab.lab, 5);
    // RPC now uses queues on the broker (its statistics lag by a second or so)
    await waitFor('a consumed compute.compute-1 queue on the broker', async () => {
      const queues = (await (await fetch(`${broker.management}/api/queues`, { headers: auth })).json()) as { name: string; consumers?: number }[];
      return queues.some((q) => q.name === 'compute.compute-1' && (q.consumers ?? 0) > 0);
    }, 15_000);

    writeFileSync(file, routed);
    r = await hmlab(['restart', 'services', '--home', lab.home]);
    assert.equal(r.code, 0, r.stderr);
    for (const s of ['compute-1', 'compute-2', 'conductor']) {
      assert.match(r.stdout, new RegExp(`^${s}: running \\(pid \\d+\\).* -> router-a \\(127\\.0\\.0\\.1:${lab.basePort + 10}\\)$`, 'm'));
    }
    st = lab.lab.statusSync();
    for (const s of ['compute-1', 'compute-2', 'conductor']) {
      assert.equal(component(st, s).connectedTo, component(st, 'router-a').endpoint, `${s} back on the router`);
    }
    const after = await moreCalls(lab.lab, 5);
    assert.equal(after.traffic.rpcCalls.failed, 0, 'no call failed across both switches');
  });
});

describe('hybrid-mesh: three routers, services spread over them, failover', { skip: routerSkip }, () => {
  let lab: TempLab;
  before(async () => {
    lab = await tempLab('hmlab-mesh-');
    await lab.lab.up({ topology: 'hybrid-mesh', basePort: lab.basePort });
  });
  after(async () => { await lab?.cleanup(); });

  test('each service starts on its own router and lists the others for failover', () => {
    const st = lab.lab.statusSync();
    assert.deepEqual(st.components.filter((c) => c.kind === 'router').map((c) => c.state), ['running', 'running', 'running']);
    assert.equal(component(st, 'compute-1').connectedTo, component(st, 'router-a').endpoint);
    assert.equal(component(st, 'compute-2').connectedTo, component(st, 'router-b').endpoint);
    assert.equal(component(st, 'conductor').connectedTo, component(st, 'router-c').endpoint);
    assert.equal(
      component(st, 'compute-2').transport?.rpc,
      `amqp://127.0.0.1:${lab.basePort + 11},127.0.0.1:${lab.basePort + 12},127.0.0.1:${lab.basePort + 10}/`,
    );
  });

  test('hmlab status names the router each service is connected to', async () => {
    const r = await hmlab(['status', '--home', lab.home]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^conductor\\s+running\\s+\\d+\\s+-> router-c \\(127\\.0\\.0\\.1:${lab.basePort + 12}\\)`, 'm'));
    assert.match(r.stdout, /^compute-2\s+running\s+\d+\s+-> router-b \(/m);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.length > 100), [], 'every line fits 100 columns');
  });

  test('killing a router moves its services to another router and calls go on', async () => {
    await moreCalls(lab.lab, 5);
    const routerA = component(lab.lab.statusSync(), 'router-a').endpoint;
    const k = await hmlab(['kill', 'router-a', '--home', lab.home]);
    assert.equal(k.code, 0, k.stderr);
    const moved = await waitFor('compute-1 to fail over', () => {
      const c1 = component(lab.lab.statusSync(), 'compute-1');
      return c1.connectedTo && c1.connectedTo !== routerA ? c1.connectedTo : null;
    }, 30_000);
    assert.ok([component(lab.lab.statusSync(), 'router-b').endpoint, component(lab.lab.statusSync(), 'router-c').endpoint].includes(moved));
    const events = readEvents(lab.home, 'compute-1');
    assert.ok(events.some((e) => e.kind === 'transport.lost' && e.transport === routerA), 'the loss is reported');
    assert.ok(events.some((e) => e.kind === 'transport.connected' && e.transport === moved), 'the new connection is reported');
    await moreCalls(lab.lab, 5, 45_000);
    assert.equal(component(lab.lab.statusSync(), 'router-a').state, 'failed', 'a killed router stays down');
    const s = await hmlab(['start', 'router-a', '--home', lab.home]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(component(lab.lab.statusSync(), 'router-a').state, 'running');
  });

  test('down leaves no process of the mesh behind', async () => {
    await lab.lab.down();
    assert.deepEqual(processesOfHome(lab.home), []);
  });
});
