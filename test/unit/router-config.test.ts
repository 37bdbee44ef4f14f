// qdrouterd.conf parsing for the embedded router: what it accepts, what it
// warns about (naming the line), what it refuses (naming the line and fix).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../server/router/config.js';
import { MESSAGE_SIZE_CEILING, connectionLimits, maxConnections } from '../../server/router/policy.js';
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
    assert.throws(() => parseConfig('address {\n    prefix: a\n    distribution: fanout\n}\n', 'x.conf'),
      /distribution "fanout" is invalid: use closest, balanced or multicast/);
    assert.throws(() => parseConfig('router {\n    mode: edge\n}\n', 'x.conf'), /edge mode is not supported/);
    assert.throws(() => parseConfig('listener {\n    port: 1\n    role: inter-router\n}\n', 'x.conf'), /needs "mode: interior"/);
  });
});

describe('limits in the config (qdrouterd names and defaults)', () => {
  const policy = `policy {
    maxConnections: 100
    maxMessageSize: 200000
    enableVhostPolicy: yes
}
vhost {
    hostname: $default
    maxConnections: 50
    groups: {
        "$default": {
            "users": "*",
            "maxSessions": 4,
            "maxSenders": 10,
            "maxReceivers": 20,
            "maxMessageSize": 100000
        }
    }
}
`;

  it('gives listeners qdrouterd 1.19\'s defaults and reads their limits', () => {
    const c = parseConfig(good, 'a.conf');
    assert.deepEqual({ ...c.listeners[0], line: 0, saslMechanisms: [] }, {
      name: undefined, host: '127.0.0.1', port: 15810, role: 'normal', cost: 1, authenticatePeer: false, saslMechanisms: [], line: 0,
      maxFrameSize: 16384, maxSessions: 32768, idleTimeoutSeconds: 16, initialHandshakeTimeoutSeconds: 0,
    });
    const l = parseConfig('listener {\n    port: 1\n    maxFrameSize: 4096\n    maxSessions: 10\n' +
      '    idleTimeoutSeconds: 30\n    initialHandshakeTimeoutSeconds: 5\n}\n').listeners[0];
    assert.deepEqual([l.maxFrameSize, l.maxSessions, l.idleTimeoutSeconds, l.initialHandshakeTimeoutSeconds], [4096, 10, 30, 5]);
    const defaults = connectionLimits(c.policy, c.listeners[0], 'normal');
    assert.equal(defaults.maxMessageSize, MESSAGE_SIZE_CEILING, 'with no policy limit the embedded router still bounds a message');
    assert.equal(maxConnections(c.policy), 65535);
  });

  it('reads policy and the $default vhost group (a JSON map over several lines) and applies them to client connections only', () => {
    const c = parseConfig(good + policy, 'a.conf');
    assert.deepEqual(c.warnings, []);
    assert.equal(maxConnections(c.policy), 50);
    const client = connectionLimits(c.policy, c.listeners[0], 'normal');
    assert.deepEqual([client.maxSessions, client.maxSenders, client.maxReceivers, client.maxMessageSize, client.maxFrameSize], [4, 10, 20, 100000, 16384]);
    const router = connectionLimits(c.policy, c.connectors[0], 'inter-router');
    assert.deepEqual([router.maxSessions, router.maxMessageSize], [32768, MESSAGE_SIZE_CEILING]);
    // without enableVhostPolicy the vhost does nothing, as in qdrouterd, and the config says so
    const off = parseConfig(good + policy.replace('enableVhostPolicy: yes', 'enableVhostPolicy: no'), 'a.conf');
    assert.equal(connectionLimits(off.policy, off.listeners[0], 'normal').maxMessageSize, 200000);
    assert.ok(off.warnings.some((w) => /enableVhostPolicy/.test(w)), off.warnings.join('\n'));
  });

  it('refuses bad limits naming the field and the range, and warns about group settings it does not apply', () => {
    assert.throws(() => parseConfig('listener {\n    port: 1\n    maxFrameSize: 100\n}\n', 'x.conf'),
      /x\.conf:3: listener maxFrameSize "100" is invalid: give a whole number from 512/);
    assert.throws(() => parseConfig('policy {\n    maxConnections: lots\n}\n', 'x.conf'), /x\.conf:2: policy maxConnections "lots" is invalid/);
    assert.throws(() => parseConfig('vhost {\n    hostname: $default\n    groups: {\n        $default: {}\n    }\n}\n', 'x.conf'),
      /x\.conf:3: vhost groups .* write the map as JSON/);
    assert.throws(() => parseConfig('vhost {\n    hostname: $default\n    groups: {\n        "$default": {\n', 'x.conf'),
      /x\.conf:3: the map "groups" is never closed/);
    const c = parseConfig('vhost {\n    hostname: $default\n    groups: {\n' +
      '        "$default": {"maxSessionWindow": 5},\n        "admins": {}\n    }\n}\n', 'x.conf');
    assert.ok(c.warnings.some((w) => /"maxSessionWindow" is not supported/.test(w)), c.warnings.join('\n'));
    assert.ok(c.warnings.some((w) => /group "admins"/.test(w)), c.warnings.join('\n'));
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
