// qdrouterd.conf parsing for the embedded router: what it accepts, what it
// warns about (naming the line), what it refuses (naming the line and fix).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../server/router/config.js';
import { AddressTable, parseTopoAddress } from '../../server/router/address-table.js';
import { LinkStateDb } from '../../server/router/mesh.js';

const good = `# router A
router {
    mode: interior
    id: Router.A
}
listener {
    host: 127.0.0.1
    port: 15810
    role: normal
    authenticatePeer: no
    saslMechanisms: ANONYMOUS
}
connector {
    host: 127.0.0.1
    port: 15821
    role: inter-router
    cost: 3
}
address {
    prefix: openstack.org/om/rpc/multicast
    distribution: multicast
}
`;

describe('qdrouterd.conf parser', () => {
  it('reads router, listener, connector and address sections', () => {
    const c = parseConfig(good, 'a.conf');
    assert.deepEqual(c.router, { id: 'Router.A', mode: 'interior' });
    assert.equal(c.listeners[0].port, 15810);
    assert.equal(c.listeners[0].role, 'normal');
    assert.equal(c.connectors[0].cost, 3);
    assert.equal(c.connectors[0].role, 'inter-router');
    assert.equal(c.addresses[0].distribution, 'multicast');
    assert.deepEqual(c.warnings, []);
  });

  it('warns about unsupported sections and attributes, naming the line', () => {
    const c = parseConfig(good + 'sslProfile {\n    name: x\n}\nlistener {\n    port: 1\n    http: yes\n}\n', 'a.conf');
    assert.ok(c.warnings.some((w) => w.startsWith('a.conf:23:') && w.includes('sslProfile')), c.warnings.join('\n'));
    assert.ok(c.warnings.some((w) => w.startsWith('a.conf:28:') && w.includes('"http"')), c.warnings.join('\n'));
  });

  it('names the line of a syntax error', () => {
    assert.throws(() => parseConfig('router {\n    mode interior\n}\n', 'x.conf'), (e: Error) => e instanceof ConfigError && /x\.conf:2:/.test(e.message));
    assert.throws(() => parseConfig('router { mode: interior }\n', 'x.conf'), /x\.conf:1: one-line sections/);
    assert.throws(() => parseConfig('router {\n    mode: interior\n', 'x.conf'), /x\.conf:1: section "router" is never closed/);
  });

  it('refuses bad values with the field and the fix', () => {
    assert.throws(() => parseConfig('listener {\n    port: 99999\n}\n', 'x.conf'), /x\.conf:2: listener port "99999" is invalid/);
    assert.throws(() => parseConfig('address {\n    prefix: a\n    distribution: fanout\n}\n', 'x.conf'), /distribution "fanout" is invalid: use closest, balanced or multicast/);
    assert.throws(() => parseConfig('router {\n    mode: edge\n}\n', 'x.conf'), /edge mode is not supported/);
    assert.throws(() => parseConfig('listener {\n    port: 1\n    role: inter-router\n}\n', 'x.conf'), /needs "mode: interior"/);
  });
});

describe('address table', () => {
  const t = new AddressTable([
    { prefix: 'openstack.org/om/rpc/multicast', distribution: 'multicast' },
    { prefix: 'openstack.org/om/rpc/unicast', distribution: 'closest' },
    { prefix: 'openstack.org', distribution: 'closest' },
  ]);
  it('matches the longest prefix on segment boundaries', () => {
    assert.equal(t.distribution('openstack.org/om/rpc/multicast/nova/compute'), 'multicast');
    assert.equal(t.distribution('openstack.org/om/rpc/unicast/nova/compute/host1'), 'closest');
    assert.equal(t.distribution('openstack.org/om/rpc/anycast/nova/compute'), 'closest');
    assert.equal(t.distribution('openstack.organisation'), 'balanced');
    assert.equal(t.distribution('elsewhere'), 'balanced');
  });
  it('parses dynamic reply addresses', () => {
    assert.deepEqual(parseTopoAddress('amqp:/_topo/0/Router.B/temp.abc'), { router: 'Router.B', local: 'temp.abc' });
    assert.equal(parseTopoAddress('openstack.org/om/rpc'), null);
  });
});

describe('link-state routing', () => {
  const ad = (origin: string, neighbors: Record<string, number>, seq = 1) => ({ origin, instance: 1, seq, neighbors, addresses: {} });
  it('finds the lowest-cost next hop and drops a router that left', () => {
    const db = new LinkStateDb('A');
    db.offer(ad('B', { A: 1, C: 1 }));
    db.offer(ad('C', { A: 5, B: 1 }));
    db.compute({ B: 1, C: 5 });
    assert.deepEqual(db.routes.get('C'), { id: 'C', nextHop: 'B', cost: 2 });
    // B dies: we lose our link, C advertises it lost its link too; the dearer direct link remains
    db.offer(ad('C', { A: 5 }, 2));
    db.compute({ C: 5 });
    assert.equal(db.routes.has('B'), false);
    assert.deepEqual(db.routes.get('C'), { id: 'C', nextHop: 'C', cost: 5 });
  });
  it('ignores stale advertisements', () => {
    const db = new LinkStateDb('A');
    assert.equal(db.offer(ad('B', { A: 1 }, 2)), true);
    assert.equal(db.offer(ad('B', { A: 1, C: 1 }, 1)), false);
    assert.equal(db.offer({ ...ad('B', {}, 0), instance: 2 }), true, 'a restarted router wins');
  });
});
