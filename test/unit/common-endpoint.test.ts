import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  componentAt, endpointKey, endpointKeys, endpointOf, formatTransportUrl, isLoopback, listensLocally, parseTransportUrl, sameEndpoint,
} from '../../common/endpoint.js';

test('every loopback name is the same endpoint as 127.0.0.1 on the same port, and only on the same port', () => {
  for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '[::1]', '0.0.0.0']) {
    assert.equal(endpointKey(`amqp://${host}:15810`), '127.0.0.1:15810', host);
    assert.ok(sameEndpoint(`${host}:15810`, 'amqp://127.0.0.1:15810/'), host);
    assert.ok(!sameEndpoint(`${host}:15811`, 'amqp://127.0.0.1:15810/'), `${host}: another port is another endpoint`);
  }
  assert.equal(endpointKey('::1:15810'), '127.0.0.1:15810', 'an unbracketed IPv6 host:port as a driver may report it');
  assert.ok(!sameEndpoint('amqp://10.0.0.1:15810', 'amqp://127.0.0.1:15810'), 'the same port on another host is another endpoint');
  assert.ok(!sameEndpoint(null, null), 'nothing is not an endpoint');
});

test('a transport URL with several hosts, credentials and a virtual host: the first host is its endpoint, all are its endpoints', () => {
  const url = 'rabbit://guest:se%40cret@localhost:15800,user@[::1]:15801,[fe80::1]:15802/vhost';
  assert.equal(endpointKey(url), '127.0.0.1:15800');
  assert.deepEqual(endpointKeys(url), ['127.0.0.1:15800', '127.0.0.1:15801', '[fe80::1]:15802']);
  assert.deepEqual(endpointOf(url), { host: '127.0.0.1', port: 15800 });
  const u = parseTransportUrl(url);
  assert.equal(u?.hosts.length, 3);
  assert.deepEqual(u?.hosts[0], { user: 'guest', password: 'se%40cret', host: 'localhost', port: 15800 });
  assert.deepEqual(u?.hosts[1], { user: 'user', password: null, host: '[::1]', port: 15801 });
  assert.equal(u?.virtualHost, 'vhost');
  assert.equal(u && formatTransportUrl(u), url, 'formatting gives back what was parsed');
});

test('a URL without a port takes its scheme\'s default; a bare host without a port names no endpoint', () => {
  assert.equal(endpointKey('rabbit://guest:guest@localhost/'), '127.0.0.1:5672');
  assert.equal(endpointKey('amqp://127.0.0.1'), '127.0.0.1:5672');
  assert.equal(endpointKey('127.0.0.1'), null);
  assert.equal(endpointKey('not a url'), null);
  assert.equal(parseTransportUrl('amqp://127.0.0.1:70000/'), null, 'a port out of range is malformed');
  assert.equal(parseTransportUrl('amqp://a b:1/'), null);
  assert.deepEqual(parseTransportUrl('amqp:///'), { scheme: 'amqp', hosts: [], virtualHost: '' });
});

test('the component at an endpoint is found by host and port, not by port alone', () => {
  const components = [
    { name: 'broker', endpoint: 'amqp://127.0.0.1:15800' },
    { name: 'router-a', endpoint: 'amqp://127.0.0.1:15810' },
    { name: 'compute-1', endpoint: null },
  ];
  assert.equal(componentAt(components, 'localhost:15810')?.name, 'router-a');
  assert.equal(componentAt(components, 'amqp://user:pw@[::1]:15810,127.0.0.1:15800/')?.name, 'router-a');
  assert.equal(componentAt(components, 'rabbit://guest:guest@0.0.0.0:15800/')?.name, 'broker');
  assert.equal(componentAt(components, 'amqp://192.0.2.7:15810'), null);
  assert.equal(componentAt(components, null), null);
});

test('as a listen address 0.0.0.0 is every interface, not loopback; as a place to connect it is this machine', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]']) assert.ok(listensLocally(h) && isLoopback(h), h);
  assert.ok(!listensLocally('0.0.0.0'));
  assert.ok(isLoopback('0.0.0.0'));
  assert.ok(!listensLocally('192.0.2.7') && !isLoopback('192.0.2.7'));
});
