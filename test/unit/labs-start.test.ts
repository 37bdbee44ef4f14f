// How the workbook compares the running lab with a lab's starting point, on
// the real lab files and a lab home written as `hmlab up` writes it, with no
// process running: the differences a learner is told, and when no check of
// a lab may pass.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES } from '../../common/rules.js';
import { labPaths, planPorts, renderOpenstackConf, routersOf } from '../../server/backends/index.js';
import type { LabEnvironmentApi } from '../../server/backends/types.js';
import { loadLabs, startState, topologyMismatch, upBeforeBegun, type LabFile } from '../../server/labs/index.js';
import type { ComponentStatus, LabStatus, Topology } from '../../common/wire.js';
import { ROOT } from '../helpers/lab-env.js';

const home = mkdtempSync(join(tmpdir(), 'hmlab-unit-start-'));
after(() => rmSync(home, { recursive: true, force: true }));
const paths = labPaths(home);
mkdirSync(paths.etc, { recursive: true });
const plan = planPorts(20000);
const { labs } = loadLabs(join(ROOT, 'labs'), ROOT);
const lab = (id: string): LabFile => labs.find((l) => l.id === id)!;

function status(topology: Topology | null, over: Partial<Record<string, Partial<ComponentStatus>>> = {}, trafficRate = 5): LabStatus {
  const names = topology ? ['broker', ...routersOf(topology), ...SERVICES] : [];
  return {
    home, topology, router: topology && topology !== 'broker-only' ? 'embedded' : null, transports: { rpc: null, notify: null },
    components: names.map((name) => ({
      name, kind: name === 'broker' ? 'broker' : name.startsWith('router-') ? 'router' : 'service',
      state: 'running', pid: 1, endpoint: null, product: null, startedAt: 1_000, ...over[name],
    } as ComponentStatus)),
    traffic: { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } },
    trafficRate,
  };
}

function env(st: LabStatus, conf: string): LabEnvironmentApi {
  writeFileSync(paths.openstackConf, conf);
  return { paths, status: async () => st, ports: () => plan } as unknown as LabEnvironmentApi;
}
const fill = (v: string) => v.replace('${broker}', `127.0.0.1:${plan.brokerAmqp}`);

test('a lab opened on its own starting point reports no difference', async () => {
  const s = await startState(lab('03-temporal-coupling'), env(status('hybrid'), renderOpenstackConf('hybrid', plan)), fill);
  assert.deepEqual(s, { lab: '03-temporal-coupling', atStart: true, topologyDiffers: false, running: 'hybrid', differences: [] });
});

test("lab 2's start is the hybrid lab with its setup: RPC on the broker and router-a stopped", async () => {
  const conf = renderOpenstackConf('hybrid', plan).replace(/^transport_url = amqp:.*$/m, `transport_url = rabbit://guest:guest@127.0.0.1:${plan.brokerAmqp}/`);
  const s = await startState(lab('02-split-transports'), env(status('hybrid', { 'router-a': { state: 'stopped', pid: null } }), conf), fill);
  assert.deepEqual(s.differences, []);
  // lab 2's end state, seen from lab 2: the router runs and RPC moved to it
  const end = await startState(lab('02-split-transports'), env(status('hybrid'), renderOpenstackConf('hybrid', plan)), fill);
  assert.equal(end.topologyDiffers, false);
  assert.deepEqual(end.differences, [
    'router-a is running; this lab starts with it stopped.',
    `etc/openstack.conf [DEFAULT] transport_url is amqp://127.0.0.1:${plan.routers['router-a'].normal}/; this lab starts with `
      + `rabbit://guest:***@127.0.0.1:${plan.brokerAmqp}/.`,
  ]);
});

test('stopped services, edited settings and another rate are each named', async () => {
  const conf = renderOpenstackConf('hybrid', plan).replace('amqp_durable_queues = false', 'amqp_durable_queues = true');
  const s = await startState(lab('06-durable-notifications'), env(status('hybrid', { telemetry: { state: 'stopped', pid: null } }, 100), conf), fill);
  assert.deepEqual(s.differences, [
    'telemetry is stopped; this lab starts with it running.',
    'etc/openstack.conf [oslo_messaging_rabbit] amqp_durable_queues is true; this lab starts with false.',
    'The conductor runs at 100 operations per second; this lab starts at 5.',
  ]);
});

test('another topology: no check of the lab passes, and the hint says how to get to its start', () => {
  assert.match(topologyMismatch(lab('02-split-transports'), status('hybrid-mesh')) ?? '',
    /running lab is hybrid-mesh, this lab works on hybrid\. press "Reset lab"/);
  assert.match(topologyMismatch(lab('04-router-mesh'), status('hybrid')) ?? '', /press "Reset lab" \(or run "hmlab down"\), then do step 1/);
  assert.equal(topologyMismatch(lab('02-split-transports'), status('hybrid')), null);
  assert.equal(topologyMismatch(lab('01-one-broker'), status(null)), null, 'nothing runs: the check itself says what to start');
});

test('a lab that starts down passes no check on a lab that was up before it was begun', () => {
  const mesh = status('hybrid-mesh'); // every component up since t=1000
  assert.match(upBeforeBegun(lab('04-router-mesh'), mesh, 2_000) ?? '', /already running before you began this lab/);
  assert.match(upBeforeBegun(lab('04-router-mesh'), mesh, null) ?? '', /already running/);
  assert.equal(upBeforeBegun(lab('04-router-mesh'), mesh, 500), null, 'brought up after the lab was begun');
  assert.equal(upBeforeBegun(lab('05-failover'), mesh, 2_000), null, 'a lab that starts up runs on what Reset brought up');
});
