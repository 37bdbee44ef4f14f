// The management agent answers with qdrouterd's attribute names: every
// attribute it lists is present in its rows, and QUERY projects them in
// the order asked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { ENTITY_ATTRIBUTES, ManagementClient, Router, addressKey, parseConfig } from '../../server/router/index.js';
import { RouterLog } from '../../server/router/log.js';
import { amqpConnect, openReceiver, openSender } from '../helpers/router-amqp.js';
import { eventually } from '../helpers/router-procs.js';
import { ManagementAgent } from '../../server/router/management-agent.js';
import type { RouterView } from '../../server/router/types.js';

/** The agent reads a plain object: a router with no connections yet. */
function router(mode: 'standalone' | 'interior') {
  const view: RouterView = {
    id: 'Router.U', mode, instance: Date.now(),
    counters: {
      deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, presettledDeliveries: 0, droppedPresettledDeliveries: 0, acceptedDeliveries: 0,
      rejectedDeliveries: 0, releasedDeliveries: 0, modifiedDeliveries: 0, deliveriesDelayed1Sec: 0, deliveriesDelayed10Sec: 0,
    },
    connections: new Map(), addresses: new Map(), neighbors: new Map(), routes: new Map(), ads: new Map(), lastTopoChange: Date.now(), nodeIndex: new Map(),
    remoteConsumers: () => new Map(), distributionOf: () => 'balanced', creditOf: () => 0,
  };
  const sent: Message[] = [];
  const agent = new ManagementAgent(view, (m: Message) => { sent.push(m); });
  return { agent, sent };
}

/** A router with a normal listener on a port the OS picks, plus `extra` (an inter-router listener or connector). */
const routerConf = (id: string, extra: string) =>
  `router {\n    mode: interior\n    id: ${id}\n}\nlistener {\n    port: 0\n    role: normal\n}\n${extra}`;

const request = (props: Record<string, unknown>, body: unknown) => ({
  msg: { reply_to: 'amqp:/_topo/0/Router.U/temp.x', correlation_id: 7, application_properties: props, body },
  inDel: null, inLink: null, address: '$management', ttl: 16,
});

describe('management agent', () => {
  it('has a value for every attribute it lists, for all five entity types, on a router with connections and links', async (t) => {
    // Two routers meshed in this process, a client with a sender and a receiver
    // on the first: every entity type has rows, and READ returns each one whole.
    const quiet = new RouterLog();
    quiet.configure([{ module: 'DEFAULT', enable: 'critical', includeTimestamp: false, line: 0 }]);
    const a = new Router(parseConfig(routerConf('Router.A', 'listener {\n    port: 0\n    role: inter-router\n}\n'), 'a.conf'), quiet);
    await a.start();
    t.after(() => a.stop());
    const port = (role: string) => a.boundPorts().find((b) => b.role === role)!.port;
    const connector = `connector {\n    host: 127.0.0.1\n    port: ${port('inter-router')}\n    role: inter-router\n}\n`;
    const b = new Router(parseConfig(routerConf('Router.B', connector), 'b.conf'), quiet);
    await b.start();
    t.after(() => b.stop());
    const client = await amqpConnect(t, port('normal'));
    const address = 'openstack.org/om/rpc/anycast/openstack/compute';
    await openReceiver(client, address);
    await openSender(client, address);
    const mgmt = await ManagementClient.connect('127.0.0.1', port('normal'));
    t.after(() => mgmt.close());
    await eventually(async () => (await mgmt.query('router.node', ['id'])).length === 2, 5000, 'the two routers see each other');

    assert.deepEqual(Object.keys(ENTITY_ATTRIBUTES).sort(), ['connection', 'router', 'router.address', 'router.link', 'router.node']);
    for (const type of Object.keys(ENTITY_ATTRIBUTES)) {
      const rows = await mgmt.query(type, ['name', 'identity']);
      assert.ok(rows.length > 0, `${type}: no rows to check`);
      for (const row of rows) {
        const whole = await mgmt.read(type, type === 'router' ? 'self' : String(row.identity ?? row.name));
        for (const attr of ENTITY_ATTRIBUTES[type]) assert.ok(attr in whole, `${type} ${String(row.name)} lacks ${attr}`);
      }
    }
    const conns = await mgmt.query('connection', ['role']);
    assert.ok(conns.some((c) => c.role === 'inter-router') && conns.some((c) => c.role === 'normal'), 'an inter-router and a client connection');
    const links = await mgmt.query('router.link', ['owningAddr', 'linkDir']);
    assert.equal(links.filter((l) => String(l.owningAddr).endsWith(address)).length, 2, 'the client\'s sender and receiver are links');
  });

  it('projects QUERY results in the order of attributeNames and keeps the correlation id', () => {
    const { agent, sent } = router('interior');
    const props = { operation: 'QUERY', type: 'org.amqp.management', entityType: 'org.apache.qpid.dispatch.router', name: 'self' };
    agent.handle(request(props, { attributeNames: ['mode', 'id'] }) as never);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].correlation_id, 7);
    assert.equal((sent[0].application_properties as { statusCode: number }).statusCode, 200);
    assert.deepEqual(sent[0].body, { attributeNames: ['mode', 'id'], results: [['interior', 'Router.U']] });
  });

  it('lists itself as "(self)" in an interior router and nothing when standalone', () => {
    assert.deepEqual(router('interior').agent.rows('router.node').map((n) => [n.id, n.nextHop]), [['Router.U', '(self)']]);
    assert.deepEqual(router('standalone').agent.rows('router.node'), []);
  });

  it('refuses unknown entity types and operations with a status, not silence', () => {
    const { agent, sent } = router('interior');
    agent.handle(request({ operation: 'QUERY', entityType: 'org.apache.qpid.dispatch.nothing' }, {}) as never);
    agent.handle(request({ operation: 'DELETE', entityType: 'org.apache.qpid.dispatch.router' }, {}) as never);
    assert.deepEqual(sent.map((m) => (m.application_properties as { statusCode: number }).statusCode), [404, 501]);
  });

  it('names addresses with qdrouterd key classes', () => {
    assert.equal(addressKey('openstack.org/om/rpc/anycast/nova/compute', 'A'), 'M0openstack.org/om/rpc/anycast/nova/compute');
    assert.equal(addressKey('_topo/0/A/temp.xyz', 'A'), 'Ltemp.xyz');
    assert.equal(addressKey('$management', 'A'), 'M0$management');
  });
});
