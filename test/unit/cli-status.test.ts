// What `hmlab status` and `hmlab start|stop|restart` print, read as a learner
// reads them in the workbook's terminal: the table fits 100 columns even
// with qdrouterd's longer product name and large pids, and a service's
// connection names the router it is on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatComponent, formatStatus, STATUS_COLUMNS } from '../../server/cli/lab.js';
import type { ComponentStatus, LabStatus } from '../../common/wire.js';

const BASE = 15800;
const ep = (port: number) => `amqp://127.0.0.1:${port}`;

function meshStatus(product: string): LabStatus {
  const started = Date.now() - (23 * 3600 + 59 * 60) * 1000; // the widest uptime: 23h59m
  const router = (name: string, port: number): ComponentStatus => ({
    name, kind: 'router', state: 'running', pid: 4_194_301, endpoint: ep(port), management: ep(port), product, startedAt: started,
  });
  const service = (name: string, at: number): ComponentStatus => ({
    name, kind: 'service', state: 'running', pid: 4_194_302, endpoint: null, product: 'oslo.messaging 14.0.3', startedAt: started,
    transport: { rpc: `amqp://${[10, 11, 12].map((o) => `127.0.0.1:${BASE + o}`).join(',')}/`, notify: `rabbit://guest:***@127.0.0.1:${BASE}/` },
    connectedTo: ep(at),
  });
  return {
    home: '/home/learner/.hmlab/lab', topology: 'hybrid-mesh', router: 'qdrouterd',
    transports: { rpc: `amqp://127.0.0.1:${BASE + 10},127.0.0.1:${BASE + 11},127.0.0.1:${BASE + 12}/`, notify: `rabbit://guest:***@127.0.0.1:${BASE}/` },
    components: [
      {
        name: 'broker', kind: 'broker', state: 'running', pid: 4_194_300, endpoint: ep(BASE),
        management: `http://127.0.0.1:${BASE + 1}`, product: 'RabbitMQ 3.10.8', startedAt: started,
      },
      router('router-a', BASE + 10),
      {
        ...router('router-b', BASE + 11), state: 'failed', pid: null, startedAt: null,
        detail: 'killed with SIGKILL (a crash): it stays down until "hmlab start router-b"; every client on it moves to the next host of its transport_url',
      },
      router('router-c', BASE + 12),
      service('compute-1', BASE + 10), service('compute-2', BASE + 12), service('conductor', BASE + 12), service('telemetry', BASE),
    ],
    traffic: {
      rpcCalls: { ok: 12_345_678, failed: 1_234 }, rpcCasts: { sent: 9_876_543 }, fanouts: { sent: 1_234_567 },
      notifications: { sent: 98_765_432, received: 98_765_430 },
    },
    trafficRate: 1000,
  };
}

test('hmlab status fits 100 columns, with qdrouterd and the widest numbers', () => {
  for (const product of ['qpid-dispatch-router 1.19.0', 'hmlab-router 0.1.0']) {
    const text = formatStatus(meshStatus(product));
    const wide = text.split('\n').filter((l) => l.length > STATUS_COLUMNS);
    assert.deepEqual(wide, [], `lines wider than ${STATUS_COLUMNS} columns with ${product}`);
    assert.equal(STATUS_COLUMNS, 100);
    // the UP column holds whole values on the rows' own lines
    assert.match(
      text,
      /^router-a\s+running\s+4194301\s+127\.0\.0\.1:15810\s+qpid-dispatch-router 1\.19\.0\s+23h59m$|^router-a .*hmlab-router 0\.1\.0\s+23h59m$/m,
    );
  }
});

test('hmlab status names the router (or broker) each service is connected to', () => {
  const text = formatStatus(meshStatus('qpid-dispatch-router 1.19.0'));
  assert.match(text, /^compute-1\s+running\s+\d+\s+-> router-a \(127\.0\.0\.1:15810\)/m);
  assert.match(text, /^compute-2\s+running\s+\d+\s+-> router-c \(127\.0\.0\.1:15812\)/m);
  assert.match(text, /^conductor\s+running\s+\d+\s+-> router-c \(127\.0\.0\.1:15812\)/m);
  assert.match(text, /^telemetry\s+running\s+\d+\s+-> broker \(127\.0\.0\.1:15800\)/m);
  // a failed router keeps its reason, wrapped under its row
  assert.match(text, /^router-b\s+failed\s+-\s+127\.0\.0\.1:15811.*\n    killed with SIGKILL/m);
});

test('an address that belongs to no component of the lab is shown as it is', () => {
  const st = meshStatus('hmlab-router 0.1.0');
  st.components[4].connectedTo = 'amqp://127.0.0.1:9999';
  assert.match(formatStatus(st), /^compute-1\s+running\s+\d+\s+-> 127\.0\.0\.1:9999\s/m);
  assert.equal(formatComponent(st, st.components[4]), 'compute-1: running (pid 4194302), oslo.messaging 14.0.3 -> 127.0.0.1:9999');
  assert.equal(formatComponent(st, st.components[6]), 'conductor: running (pid 4194302), oslo.messaging 14.0.3 -> router-c (127.0.0.1:15812)');
});
