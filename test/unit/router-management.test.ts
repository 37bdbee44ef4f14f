// The management agent answers with qdrouterd's attribute names: every
// attribute it lists is present in its rows, and QUERY projects them in
// the order asked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { ENTITY_ATTRIBUTES, addressKey } from '../../server/router/index.js';
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

const request = (props: Record<string, unknown>, body: unknown) => ({
  msg: { reply_to: 'amqp:/_topo/0/Router.U/temp.x', correlation_id: 7, application_properties: props, body },
  inDel: null, inLink: null, address: '$management', ttl: 16,
});

describe('management agent', () => {
  it('has a value for every attribute it lists', () => {
    const { agent } = router('interior');
    for (const type of ['router', 'router.node', 'router.address']) {
      for (const row of agent.rows(type)) {
        for (const a of ENTITY_ATTRIBUTES[type]) assert.ok(a in row, `${type} row lacks ${a}`);
      }
    }
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
