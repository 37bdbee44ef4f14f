import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveTransports, parseOpenstackConf, planPorts, renderOpenstackConf, renderRouterConf, LabError, DEFAULT_BASE_PORT, PORT_BLOCK,
} from '../../server/backends/index.js';
import { parseTransportUrl } from '../../common/endpoint.js';

test('a malformed openstack.conf is reported by section and line', () => {
  const cases: [string, RegExp][] = [
    ['[DEFAULT]\ntransport_url amqp://127.0.0.1:1/\n', /line 2 \(in \[DEFAULT\]\).*not "key = value"/],
    ['transport_url = amqp://127.0.0.1:1/\n', /line 1: "transport_url" comes before any \[section\]: put it under \[DEFAULT\]/],
    ['[DEFAULT\n', /line 1.*not a section header/],
    ['[DEFAULT]\n\n[oslo_messaging_notifications]\ndriver '
      + '= messagingv3\n', /line 4 \(in \[oslo_messaging_notifications\]\): driver = messagingv3 must be one of/],
    ['[DEFAULT]\ntransport_url = amqp:/127.0.0.1\n', /line 2 \(in \[DEFAULT\]\): transport_url = amqp:\/127.0.0.1 is not a transport URL/],
    ['[oslo_messaging_amqp]\naddressing_mode = clever\n', /line 2 \(in \[oslo_messaging_amqp\]\).*dynamic, legacy or routable/],
  ];
  for (const [text, rx] of cases) {
    assert.throws(() => parseOpenstackConf(text, 'etc/openstack.conf'), (err: unknown) => {
      assert.ok(err instanceof LabError, 'a LabError');
      assert.equal(err.code, 'bad-config');
      assert.match(err.message, rx);
      return true;
    });
  }
});

test('notifications fall back to the RPC transport, and need a driver', () => {
  const both = effectiveTransports(parseOpenstackConf('[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n'));
  assert.equal(both.notify, 'rabbit://guest:guest@127.0.0.1:5672/');
  assert.equal(both.notifyFallsBackToRpc, true);
  assert.equal(both.notificationsEnabled, false, 'no driver, no notifications');
  const split = effectiveTransports(parseOpenstackConf([
    '[DEFAULT]', 'transport_url = amqp://127.0.0.1:15810/', '# comment', '[oslo_messaging_notifications]',
    'driver = messagingv2', 'transport_url = rabbit://guest:guest@127.0.0.1:15800/', 'topics = notifications, audit',
  ].join('\n')));
  assert.equal(split.rpc, 'amqp://127.0.0.1:15810/');
  assert.equal(split.notify, 'rabbit://guest:guest@127.0.0.1:15800/');
  assert.equal(split.notificationsEnabled, true);
  assert.deepEqual(split.topics, ['notifications', 'audit']);
});

test('the generated openstack.conf parses and puts RPC and notifications where the topology says', () => {
  const plan = planPorts(DEFAULT_BASE_PORT);
  const only = effectiveTransports(parseOpenstackConf(renderOpenstackConf('broker-only', plan)));
  assert.match(only.rpc ?? '', /^rabbit:\/\/.*:15800\/$/);
  const mesh = effectiveTransports(parseOpenstackConf(renderOpenstackConf('hybrid-mesh', plan)));
  assert.equal(mesh.rpc, 'amqp://127.0.0.1:15810,127.0.0.1:15811,127.0.0.1:15812/');
  assert.match(mesh.notify ?? '', /^rabbit:\/\/.*:15800\/$/);
  assert.equal(parseTransportUrl(mesh.rpc ?? '')?.hosts.length, 3);
});

test('port blocks are laid out inside the block and rejected out of range', () => {
  const plan = planPorts(20000);
  const all = [plan.brokerAmqp, plan.brokerManagement, plan.brokerDist, ...Object.values(plan.routers).flatMap((r) => [r.normal, r.interRouter])];
  assert.equal(new Set(all).size, all.length, 'no port used twice');
  for (const p of all) assert.ok(p >= 20000 && p < 20000 + PORT_BLOCK);
  assert.throws(() => planPorts(80), /--base-port/);
});

test('router configs use qdrouterd syntax, the OpenStack distributions and a full mesh', () => {
  const plan = planPorts(DEFAULT_BASE_PORT);
  const c = renderRouterConf('router-c', 'hybrid-mesh', plan);
  for (const line of c.split('\n')) {
    if (line.includes('{')) assert.match(line, /^[a-z]+ \{$/, 'section opens on its own line');
    if (line.includes('}')) assert.equal(line, '}', 'closing brace on its own line');
  }
  assert.match(c, /mode: interior/);
  assert.match(c, /prefix: openstack.org\/om\/rpc\/multicast\n\s+distribution: multicast/);
  assert.match(c, /prefix: openstack.org\/om\/rpc\/unicast\n\s+distribution: closest/);
  assert.match(c, /prefix: openstack.org\/om\/rpc\/anycast\n\s+distribution: balanced/);
  assert.match(c, /prefix: broadcast\n\s+distribution: multicast/);
  // router-c joins both others; router-b joins router-a; router-a only listens
  assert.equal((c.match(/role: inter-router/g) ?? []).length, 2);
  assert.match(c, new RegExp(`port: ${plan.routers['router-a'].interRouter}`));
  assert.match(c, new RegExp(`port: ${plan.routers['router-b'].interRouter}`));
  assert.doesNotMatch(renderRouterConf('router-a', 'hybrid-mesh', plan), /^connector \{/m);
  assert.match(renderRouterConf('router-a', 'hybrid', plan), /mode: standalone/);
});
