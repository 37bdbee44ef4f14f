// What the flow view decides to draw, from events alone (no browser needed):
// the path a message takes through the mesh, which server a cast reached,
// where a service is attached after a failover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabEvent, LabStatus, RouterSnapshot } from '../../common/wire.js';
import { FlowModel, type FlowMessage } from '../../widgets/flow/model.js';
import { syntheticEvents } from '../../widgets/flow/synthetic.js';

const T = 1_700_000_000_000;

/** A model that has seen the hello of a hybrid-mesh lab: conductor on router-a, compute-1 on b, compute-2 on c. */
function labModel(): { model: FlowModel; status: LabStatus } {
  const hello = syntheticEvents({ durationMs: 0, startT: T })[0];
  assert.equal(hello.type, 'hello');
  const model = new FlowModel();
  model.apply(hello);
  return { model, status: (hello as Extract<LabEvent, { type: 'hello' }>).status };
}

const snapshot = (router: string, neighbours: string[], t = T): LabEvent => ({
  type: 'router', t,
  snapshot: {
    router, id: router, product: 'hmlab-router 0.1.0',
    nodes: neighbours.map((n) => ({ id: n, nextHop: null, cost: 1 })),
    connections: [], addresses: [], links: [], deliveries: { in: 0, out: 0, transit: 0 },
  } satisfies RouterSnapshot,
});

const msg = (t: number, event: Omit<Extract<LabEvent, { type: 'message' }>['event'], 't'>): LabEvent => ({ type: 'message', t, event: { t, ...event } });
const names = (m: FlowMessage) => m.hops.map((h) => ('node' in h ? h.node : 'queue' in h ? `queue:${h.queue}` : 'exchange'));

test('an RPC call is drawn client -> its router -> the server\'s router -> server, and the reply back', () => {
  const { model } = labModel();
  model.apply(msg(T + 1, { service: 'compute-2', kind: 'rpc.request', id: 'x1', target: { topic: 'compute', server: 'compute-2' } }));
  const [m] = model.apply(msg(T + 5, { service: 'conductor', kind: 'rpc.call', id: 'x1', ok: true, latencyMs: 3, target: { topic: 'compute', server: null } }));
  assert.equal(m.kind, 'rpc');
  assert.deepEqual(names(m), ['conductor', 'router-a', 'router-c', 'compute-2']);
  assert.deepEqual(m.then && names({ ...m, hops: m.then.hops }), ['compute-2', 'router-c', 'router-a', 'conductor']);
});

test('the mesh path follows the inter-router links the routers report, and goes around a dead router', () => {
  const { model } = labModel();
  // A line, a - b - c: a call from router-a's client to router-c's server crosses router-b.
  model.apply(snapshot('router-a', ['router-b']));
  model.apply(snapshot('router-b', ['router-a', 'router-c']));
  model.apply(snapshot('router-c', ['router-b']));
  model.apply(msg(T + 1, { service: 'compute-2', kind: 'rpc.request', id: 'x2', target: { topic: 'compute' } }));
  const [m] = model.apply(msg(T + 2, { service: 'conductor', kind: 'rpc.call', id: 'x2', ok: true, latencyMs: 3 }));
  assert.deepEqual(names(m), ['conductor', 'router-a', 'router-b', 'router-c', 'compute-2']);

  // Full mesh, then router-b dies: a to c goes direct.
  model.apply(snapshot('router-a', ['router-b', 'router-c']));
  model.apply(snapshot('router-c', ['router-a', 'router-b']));
  model.apply({ type: 'component', t: T + 3, name: 'router-b', state: 'failed', pid: null, detail: 'killed' });
  model.apply(msg(T + 4, { service: 'compute-2', kind: 'rpc.request', id: 'x3', target: { topic: 'compute' } }));
  const [m2] = model.apply(msg(T + 5, { service: 'conductor', kind: 'rpc.call', id: 'x3', ok: true, latencyMs: 3 }));
  assert.deepEqual(names(m2), ['conductor', 'router-a', 'router-c', 'compute-2']);
});

test('a cast is drawn to the server that took it, once its request arrives', () => {
  const { model } = labModel();
  assert.deepEqual(model.apply(msg(T + 1, { service: 'conductor', kind: 'rpc.cast', id: 'c1', target: { topic: 'compute', server: null } })), []);
  const [m] = model.apply(msg(T + 2, { service: 'compute-1', kind: 'rpc.request', id: 'c1', target: { topic: 'compute', server: 'compute-1' } }));
  assert.equal(m.kind, 'cast');
  assert.deepEqual(names(m), ['conductor', 'router-a', 'router-b', 'compute-1']);
  // A fanout reaches every server that reports it.
  model.apply(msg(T + 3, { service: 'conductor', kind: 'rpc.fanout', id: 'f1', target: { topic: 'compute', fanout: true } }));
  const got = [
    ...model.apply(msg(T + 4, { service: 'compute-1', kind: 'rpc.request', id: 'f1', target: { topic: 'compute', fanout: true } })),
    ...model.apply(msg(T + 4, { service: 'compute-2', kind: 'rpc.request', id: 'f1', target: { topic: 'compute', fanout: true } })),
  ];
  assert.deepEqual(got.map((x) => [x.kind, names(x).at(-1)]), [['fanout', 'compute-1'], ['fanout', 'compute-2']]);
});

test('a notification goes notifier -> exchange -> its queue, and queue -> listener when received', () => {
  const { model } = labModel();
  const [sent] = model.apply(msg(T + 1, { service: 'compute-1', kind: 'notify.sent', priority: 'info' }));
  assert.deepEqual(names(sent), ['compute-1', 'exchange', 'queue:notifications.info']);
  const [got] = model.apply(msg(T + 2, { service: 'telemetry', kind: 'notify.received', priority: 'error' }));
  assert.deepEqual(names(got), ['queue:notifications.error', 'telemetry']);
});

test('a failover moves the service once; late news naming the dead router does not move it back', () => {
  const { model, status } = labModel();
  assert.equal(model.attachment.get('compute-1'), 'router-b');
  model.apply({ type: 'component', t: T + 10, name: 'router-b', state: 'failed', pid: null, detail: 'killed' });
  model.apply({ type: 'failover', t: T + 1300, service: 'compute-1', from: 'router-b', to: 'router-c' });
  assert.equal(model.attachment.get('compute-1'), 'router-c');
  // A status polled before the move still says router-b; an event sent before it too.
  const stale = structuredClone(status);
  for (const c of stale.components) if (c.name === 'router-b') { c.state = 'failed'; }
  model.apply({ type: 'status', t: T + 1400, status: stale });
  model.apply(msg(T + 1500, { service: 'compute-1', kind: 'rpc.request', id: 'late', transport: 'amqp://127.0.0.1:15811' }));
  assert.equal(model.attachment.get('compute-1'), 'router-c');
  assert.deepEqual(model.failovers.map((f) => `${f.service}:${f.from}->${f.to}`), ['compute-1:router-b->router-c']);
});

test('counters count what sampled events stand for', () => {
  const { model } = labModel();
  model.apply({ type: 'message', t: T + 1, event: { t: T + 1, service: 'compute-1', kind: 'notify.sent' }, sampled: 25 });
  model.apply(msg(T + 2, { service: 'compute-1', kind: 'notify.sent' }));
  assert.equal(model.perKind.get('notify.sent')?.total, 26);
});

test('a lab brought up again, or a service restarted, is not a failover', () => {
  const { model, status } = labModel();
  // The same lab comes back with services on other routers (a new "up").
  const again = structuredClone(status);
  const svc = again.components.find((c) => c.name === 'conductor')!;
  svc.state = 'starting';
  svc.connectedTo = 'amqp://127.0.0.1:15812';
  model.apply({ type: 'status', t: T + 60_000, status: again });
  svc.state = 'running';
  model.apply({ type: 'status', t: T + 61_000, status: again });
  assert.equal(model.attachment.get('conductor'), 'router-c');
  // A service restarted by hand reconnects elsewhere.
  model.apply({ type: 'component', t: T + 62_000, name: 'compute-1', state: 'stopped', pid: null });
  model.apply({ type: 'component', t: T + 63_000, name: 'compute-1', state: 'running', pid: 42 });
  model.apply(msg(T + 63_500, { service: 'compute-1', kind: 'rpc.request', id: 'r1', transport: 'amqp://127.0.0.1:15810' }));
  assert.equal(model.attachment.get('compute-1'), 'router-a');
  assert.deepEqual(model.failovers, []);
});

test('a notification listener is drawn on the broker, running or stopped, and never on a router', () => {
  const { model, status } = labModel();
  assert.ok(model.notifyOnly.has('telemetry'), 'telemetry, connected only to the broker, is a listener');
  assert.equal(model.attachment.get('telemetry'), undefined, 'no RPC attachment for a listener');
  assert.equal(model.notifyTarget('telemetry'), 'broker');
  // Stopped (no connection; its RPC URL still names the routers): still no router.
  const stopped = structuredClone(status);
  const tel = stopped.components.find((c) => c.name === 'telemetry')!;
  tel.state = 'stopped'; tel.pid = null; tel.connectedTo = null;
  model.apply({ type: 'status', t: T + 1000, status: stopped });
  assert.equal(model.attachment.get('telemetry'), undefined);
  assert.ok(model.notifyOnly.has('telemetry'));
  // Started again: back on the broker, and that is no failover.
  model.apply({ type: 'status', t: T + 2000, status });
  model.apply(msg(T + 2100, { service: 'telemetry', kind: 'transport.connected', transport: '127.0.0.1:15800' }));
  assert.equal(model.attachment.get('telemetry'), undefined);
  assert.deepEqual(model.failovers, []);
  // RPC services keep their routers; a compute's notifier connection to the broker does not move it.
  model.apply(msg(T + 2200, { service: 'compute-1', kind: 'transport.connected', transport: '127.0.0.1:15800' }));
  assert.equal(model.attachment.get('compute-1'), 'router-b');
  assert.ok(!model.notifyOnly.has('compute-1'));
});

test('a view that first sees a stopped listener does not guess a router for it', () => {
  const hello = syntheticEvents({ durationMs: 0, startT: T })[0] as Extract<LabEvent, { type: 'hello' }>;
  const tel = hello.status.components.find((c) => c.name === 'telemetry')!;
  tel.state = 'stopped'; tel.pid = null; tel.connectedTo = null;
  const model = new FlowModel();
  model.apply(hello);
  assert.equal(model.attachment.get('telemetry'), undefined, 'nothing says telemetry uses RPC');
  // Once it runs and receives notifications, it is known as a listener.
  model.apply(msg(T + 500, { service: 'telemetry', kind: 'notify.received', target: { topic: 'notifications' }, priority: 'info' }));
  assert.ok(model.notifyOnly.has('telemetry'));
  assert.equal(model.attachment.get('conductor'), 'router-a', 'RPC services are still on their routers');
});

test('"hmlab down; hmlab up" again: services starting on their own routers are no failover, and the new lab counts from zero', () => {
  const { model, status } = labModel();
  const first = { ...structuredClone(status), upAt: T - 60_000 };
  model.apply({ type: 'status', t: T, status: first });
  // The first lab ran traffic: calls, one failed, a real failover.
  model.apply(msg(T + 1, { service: 'compute-1', kind: 'rpc.request', id: 'c1', target: { topic: 'compute' } }));
  model.apply(msg(T + 2, { service: 'conductor', kind: 'rpc.call', id: 'c1', ok: true, latencyMs: 3 }));
  model.apply(msg(T + 3, { service: 'conductor', kind: 'rpc.call', id: 'c2', ok: false, error: 'MessagingTimeout' }));
  model.apply({ type: 'failover', t: T + 4, service: 'compute-2', from: 'router-c', to: 'router-b' });
  assert.equal(model.failovers.length, 1);
  assert.equal(model.perKind.get('rpc.failed')?.total, 1);

  // Down: every component stopped, deliberately.
  const down = structuredClone(first);
  for (const c of down.components) { c.state = 'stopped'; c.pid = null; if (c.kind === 'service') c.connectedTo = null; }
  model.apply({ type: 'status', t: T + 10_000, status: down });
  // Up afresh: a new lab. Services first start with no connection (the view can only guess the URL's first
  // router, router-a), then connect to their own routers: compute-1 on router-b, compute-2 on router-c.
  const starting = { ...structuredClone(down), upAt: T + 11_000 };
  for (const c of starting.components) { c.state = c.kind === 'service' ? 'starting' : 'running'; c.pid = 5000; }
  model.apply({ type: 'status', t: T + 20_000, status: starting });
  const up = { ...structuredClone(status), upAt: T + 11_000 };
  model.apply({ type: 'status', t: T + 25_000, status: up });
  model.apply(msg(T + 25_100, { service: 'compute-1', kind: 'transport.connected', transport: 'amqp://127.0.0.1:15811' }));
  assert.equal(model.attachment.get('compute-1'), 'router-b');
  assert.equal(model.attachment.get('compute-2'), 'router-c');
  assert.equal(model.failovers.length, 0, 'starting on the configured router is not a failover');
  assert.equal(model.perKind.get('rpc.call')?.total ?? 0, 0, 'the new lab counts its calls from zero');
  assert.equal(model.perKind.get('rpc.failed')?.total ?? 0, 0, 'the old lab\'s failed calls are not the new one\'s');
  assert.equal(model.perComponent.get('conductor')?.failed ?? 0, 0);

  // A real failover in the new lab still shows.
  model.apply(msg(T + 30_000, { service: 'compute-1', kind: 'transport.connected', transport: 'amqp://127.0.0.1:15812' }));
  assert.deepEqual(model.failovers.map((f) => [f.service, f.from, f.to]), [['compute-1', 'router-b', 'router-c']]);
});

test('a call to the topic is drawn to the server whose reply it was, not to a guess', () => {
  const { model } = labModel();
  // compute-1 served the topic before: a guess would pick it; the reply says compute-2 answered.
  model.apply(msg(T + 1, { service: 'compute-1', kind: 'rpc.request', target: { topic: 'compute' } }));
  const call = {
    service: 'conductor', kind: 'rpc.call', id: 'y1', ok: true, latencyMs: 3, answeredBy: 'compute-2',
    target: { topic: 'compute', server: null },
  } as const;
  const [m] = model.apply(msg(T + 5, call));
  assert.equal(names(m).at(-1), 'compute-2');
});

test('each broker keeps its own queues: the first is the one drawn with the exchange, others are asked for by name', () => {
  const { model, status } = labModel();
  const b2 = { ...status.components.find((c) => c.kind === 'broker')!, name: 'broker-2', endpoint: 'amqp://127.0.0.1:1' };
  model.apply({ type: 'status', t: T + 1, status: { ...status, components: [...status.components, b2] } });
  const queue = (name: string, messages: number) => ({ name, vhost: '/', messages, consumers: 0, publishRate: 0, deliverRate: 0, durable: false });
  model.apply({ type: 'broker', t: T + 2, snapshot: { broker: 'broker', queues: [queue('notifications.info', 1)], connections: [] } });
  const queues2 = [queue('notifications.info', 7), queue('notifications.error', 2)];
  model.apply({ type: 'broker', t: T + 3, snapshot: { broker: 'broker-2', queues: queues2, connections: [] } });
  assert.deepEqual(model.visibleQueues(3).map((q) => q.messages), [1], "the first broker's, unchanged by broker-2's");
  assert.deepEqual(model.visibleQueues(3, 'broker-2').map((q) => [q.name, q.messages]), [['notifications.info', 7], ['notifications.error', 2]]);
  // A recording made before snapshots named their broker: it is the first broker's.
  model.apply({ type: 'broker', t: T + 4, snapshot: { queues: [queue('notifications.info', 4)], connections: [] } });
  model.brokers.delete('broker');
  assert.deepEqual(model.visibleQueues(3).map((q) => q.messages), [4]);
});
