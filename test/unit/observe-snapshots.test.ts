import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouterSnapshot, buildBrokerSnapshot, addressOf, RouterPoller, OBSERVER_CONTAINER } from '../../server/observe/index.js';
import { ManagementClient } from '../../server/router/index.js';
import { createServer } from 'node:net';

const raw = (deliveries: number, addrIn: number) => ({
  router: [{ id: 'router-a', deliveriesIngress: 10, deliveriesEgress: 9, deliveriesTransit: 2 }],
  nodes: [{ id: 'router-a', nextHop: null, cost: null }, { id: 'router-b', nextHop: null, cost: 1 }],
  connections: [
    { identity: '1', container: 'compute-1', host: '127.0.0.1:5000', role: 'normal', dir: 'in' },
    { identity: '2', container: `${OBSERVER_CONTAINER}-1`, host: '127.0.0.1:5001', role: 'normal', dir: 'in' },
    { identity: '3', container: 'router-b', host: '127.0.0.1:15821', role: 'inter-router', dir: 'out' },
  ],
  links: [
    {
      identity: '10', linkType: 'endpoint', linkDir: 'out', owningAddr: 'M0openstack.org/om/rpc/anycast/nova/compute',
      deliveryCount: deliveries, unsettledCount: 1, undeliveredCount: 0, connectionId: '1',
    },
    { identity: '11', linkType: 'endpoint', linkDir: 'in', owningAddr: null, deliveryCount: 5, connectionId: '2' },
    { identity: '12', linkType: 'router-control', linkDir: 'out', owningAddr: null, deliveryCount: 99, connectionId: '3' },
    { identity: '13', linkType: 'inter-router', linkDir: 'out', owningAddr: null, deliveryCount: 7, connectionId: '3' },
  ],
  addresses: [
    {
      key: 'M0openstack.org/om/rpc/anycast/nova/compute', distribution: 'balanced', subscriberCount: 1, remoteCount: 1,
      deliveriesIngress: addrIn, deliveriesEgress: 4, deliveriesTransit: 0,
    },
    { key: 'L$management', distribution: 'closest', subscriberCount: 0, remoteCount: 0, deliveriesIngress: 50 },
    { key: 'Rrouter-b', distribution: 'closest', deliveriesIngress: 1 },
  ],
});

test('a router snapshot shows the lab\'s traffic, not the observer\'s own or the mesh\'s control chatter, with rates from two polls', () => {
  const first = buildRouterSnapshot('router-a', 'hmlab-router 0.1.0', raw(100, 40), null, 1000);
  assert.deepEqual(first.snapshot.connections.map((c) => c.container), ['compute-1', 'router-b']);
  assert.deepEqual(first.snapshot.links.map((l) => l.connection), ['1', '3']);
  assert.deepEqual(first.snapshot.addresses.map((a) => a.address), ['openstack.org/om/rpc/anycast/nova/compute']);
  assert.deepEqual(first.snapshot.nodes, [{ id: 'router-b', nextHop: null, cost: 1 }]);
  assert.equal(first.snapshot.links[0].rate, 0, 'no rate from a single poll');
  const second = buildRouterSnapshot('router-a', 'hmlab-router 0.1.0', raw(150, 60), first.counters, 1500);
  assert.equal(second.snapshot.links[0].rate, 100, '50 deliveries in 0.5 s');
  assert.equal(second.snapshot.addresses[0].rate, 40);
  const restarted = buildRouterSnapshot('router-a', 'x', raw(3, 1), second.counters, 2000);
  assert.equal(restarted.snapshot.links[0].rate, 0, 'a counter that went back (router restarted) is no negative rate');
  assert.deepEqual(second.snapshot.deliveries, { in: 10, out: 9, transit: 2 });
});

test('address keys lose their class prefix; only mobile addresses are traffic', () => {
  assert.deepEqual(addressOf('M0openstack.org/om/notify/multicast/x'), { address: 'openstack.org/om/notify/multicast/x', mobile: true });
  assert.equal(addressOf('L$management')?.mobile, false);
  assert.equal(addressOf('M0$management')?.mobile, false, 'the management agent is no traffic');
  assert.equal(addressOf('M0_$qd.addr_lookup')?.mobile, false, "qdrouterd's edge protocol is no traffic");
  assert.equal(addressOf('Tqdrouter')?.mobile, false);
  assert.deepEqual(addressOf('exclusive/compute'), { address: 'exclusive/compute', mobile: true });
});

test('a broker snapshot reads RabbitMQ\'s queue and connection objects, missing statistics count as zero', () => {
  const s = buildBrokerSnapshot('broker-2', [
    {
      name: 'notifications.info', vhost: '/', messages: 12, consumers: 0, durable: false,
      message_stats: { publish_details: { rate: 5.04 }, deliver_get_details: { rate: 0 } },
    },
    { name: 'a-queue', vhost: '/', consumers: 1, durable: true },
  ], [{ name: '127.0.0.1:5000 -> 127.0.0.1:15800', client_properties: { connection_name: 'telemetry' }, channels: 2 }]);
  assert.equal(s.broker, 'broker-2', 'the snapshot names its broker: a lab may have one per region');
  assert.deepEqual(s.queues.map((q) => [q.name, q.messages, q.publishRate]), [['a-queue', 0, 0], ['notifications.info', 12, 5]]);
  assert.deepEqual(s.connections, [{ name: '127.0.0.1:5000 -> 127.0.0.1:15800', client: 'telemetry', channels: 2 }]);
});

test('a router poller pointed at a dead port keeps retrying without throwing', async (t) => {
  const port = await new Promise<number>((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
  const snapshots: unknown[] = [];
  const p = new RouterPoller({ name: 'router-a', host: '127.0.0.1', port }, (h, po, o) => ManagementClient.connect(h, po, o), (s) => snapshots.push(s), 100);
  t.after(() => p.stop());
  p.start();
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(snapshots.length, 0);
  assert.match(p.lastError ?? '', /cannot connect|refused|no AMQP/);
});
