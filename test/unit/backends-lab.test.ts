import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COMPONENT_MARK, backendNice, defaultTrafficRate, isComponentOf, LabError, openLab, processesOfHome, readyTimeout,
} from '../../server/backends/index.js';
import type { Topology } from '../../common/wire.js';

const home = mkdtempSync(join(tmpdir(), 'hmlab-unit-lab-'));
after(() => rmSync(home, { recursive: true, force: true }));

const labError = (code: string, rx: RegExp, field?: string) => (err: unknown) => {
  assert.ok(err instanceof LabError, `a LabError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.match(err.message, rx);
  if (field) assert.equal(err.field, field);
  return true;
};

test('a home without a lab has an empty status, and commands say how to start one', async () => {
  const lab = openLab(home);
  const st = await lab.status();
  assert.equal(st.topology, null);
  assert.deepEqual(st.components, []);
  assert.deepEqual(st.traffic, { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } });
  assert.equal(lab.ports(), null);
  await assert.rejects(lab.stop('broker'), labError('not-running', /start one with "hmlab up"/));
  await assert.rejects(lab.setTrafficRate(5), labError('not-running', /hmlab up/));
});

test('bad up options name the field and the fix', async () => {
  const lab = openLab(home);
  await assert.rejects(lab.up({ topology: 'star' as Topology }), labError('unknown-topology', /choose one of broker-only, hybrid, hybrid-mesh/, 'topology'));
  await assert.rejects(lab.up({ topology: 'broker-only', basePort: 80 }), labError('bad-input', /basePort must be at least 1024/, 'basePort'));
  await assert.rejects(lab.up({ topology: 'broker-only', trafficRate: -1 }), labError('bad-input', /trafficRate must be 0/, 'trafficRate'));
});

test('a damaged state.json is reported with the way out', async () => {
  const h = mkdtempSync(join(tmpdir(), 'hmlab-unit-state-'));
  try {
    writeFileSync(join(h, 'state.json'), '{"version": 1, "topology": "ring"}');
    await assert.rejects(openLab(h).status(), labError('bad-config', /state\.json.*run "hmlab down" and "hmlab up"/));
    writeFileSync(join(h, 'state.json'), '{not json');
    await assert.rejects(openLab(h).status(), labError('bad-config', /not valid JSON/));
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('only processes carrying the lab mark count as the lab\'s', async (t) => {
  const keep = 'setTimeout(() => {}, 30000)';
  const marked = spawn(process.execPath, ['-e', keep], { env: { ...process.env, [COMPONENT_MARK]: home }, stdio: 'ignore' });
  // Works in the home, names it on its command line, but is not a component.
  const bystander = spawn(process.execPath, ['-e', keep, join(home, 'etc', 'openstack.conf')], { stdio: 'ignore' });
  t.after(() => { marked.kill('SIGKILL'); bystander.kill('SIGKILL'); });
  await new Promise((r) => setTimeout(r, 200));
  const pids = processesOfHome(home).map((p) => p.pid);
  assert.deepEqual(pids, [marked.pid]);
  assert.equal(isComponentOf(marked.pid, home), true);
  assert.equal(isComponentOf(bystander.pid, home), false);
  assert.equal(isComponentOf(marked.pid, home + '-other'), false);
});

test('status: a component not launched yet is starting, one stopped on purpose is stopped, one gone unasked failed', async () => {
  const h = mkdtempSync(join(tmpdir(), 'hmlab-unit-status-'));
  try {
    const rec = (name: string, state: string, pid: number | null, detail: string | null) => ({
      name, kind: 'router', state, pid, endpoint: null, management: null, product: null, startedAt: null, readyAt: null, detail,
    });
    const gonePid = 2 ** 22 + 12345; // above pid_max: no such process
    writeFileSync(join(h, 'state.json'), JSON.stringify({
      version: 1, home: h, topology: 'hybrid-mesh', ports: { base: 15800, brokerAmqp: 15800, brokerManagement: 15801, brokerDist: 35800, routers: {} },
      router: 'embedded', qdrouterd: null, nodeName: 'x@localhost', trafficRate: 0, upAt: 1, components: [
        rec('router-a', 'starting', null, null), // "up" has not launched it yet
        rec('router-b', 'running', gonePid, 'stopping'), // "down" recorded the stop before signalling it
        rec('router-c', 'running', gonePid, null), // nobody asked it to stop
      ],
    }));
    const st = await openLab(h).status();
    assert.deepEqual(st.components.map((c) => [c.name, c.state]), [['router-a', 'starting'], ['router-b', 'stopped'], ['router-c', 'failed']]);
    assert.match(st.components[2].detail ?? '', /exited unexpectedly/);
    assert.equal(st.upAt, 1);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test('HMLAB_BACKEND_NICE: unset is 0, 0..19 is taken, anything else is refused naming the variable and the fix', () => {
  assert.equal(backendNice({}), 0);
  assert.equal(backendNice({ HMLAB_BACKEND_NICE: '' }), 0);
  assert.equal(backendNice({ HMLAB_BACKEND_NICE: '10' }), 10);
  assert.equal(backendNice({ HMLAB_BACKEND_NICE: '19' }), 19);
  for (const bad of ['x', '20', '-1', '1.5', '10 ']) {
    const refused = labError('bad-input', /HMLAB_BACKEND_NICE must be a whole number from 0 to 19 .*such as 10/, 'HMLAB_BACKEND_NICE');
    assert.throws(() => backendNice({ HMLAB_BACKEND_NICE: bad }), refused);
  }
});

test('HMLAB_TRAFFIC_RATE: unset is the lab\'s 5, 0..1000 is taken, anything else is refused naming the variable and the fix', () => {
  assert.equal(defaultTrafficRate({}), 5);
  assert.equal(defaultTrafficRate({ HMLAB_TRAFFIC_RATE: '' }), 5);
  assert.equal(defaultTrafficRate({ HMLAB_TRAFFIC_RATE: '2' }), 2);
  assert.equal(defaultTrafficRate({ HMLAB_TRAFFIC_RATE: '0.5' }), 0.5);
  assert.equal(defaultTrafficRate({ HMLAB_TRAFFIC_RATE: '0' }), 0);
  for (const bad of ['x', '-1', '1001', ' 2']) {
    const refused = labError('bad-input', /HMLAB_TRAFFIC_RATE must .* \(got ".*"\): unset it, or give a rate such as 2/, 'HMLAB_TRAFFIC_RATE');
    assert.throws(() => defaultTrafficRate({ HMLAB_TRAFFIC_RATE: bad }), refused);
  }
});

test('a ready timeout counts the time a busy machine could give: twice as long at twice the load, at most eight times, as set on an idle one', async (t) => {
  const expiresAfter = (load: number, timeoutMs: number) => new Promise<{ ms: number; busiest: number | null }>((resolve) => {
    const t0 = Date.now();
    const rt = readyTimeout(timeoutMs, () => resolve({ ms: Date.now() - t0, busiest: rt.busiest() }), { load: () => load, cores: 2 });
  });
  const alive = setInterval(() => undefined, 1000); // the timeout's own timer does not keep a process alive
  t.after(() => clearInterval(alive));
  const [idle, busy, overloaded] = await Promise.all([expiresAfter(0.5, 400), expiresAfter(4, 400), expiresAfter(200, 100)]);
  assert.ok(idle.ms >= 400 && idle.ms < 700, `idle machine: expired after ${idle.ms} ms of 400`);
  assert.equal(idle.busiest, null, 'an idle machine stretched nothing');
  assert.ok(busy.ms >= 800 && busy.ms < 1200, `load 4 on 2 cores: expired after ${busy.ms} ms, twice 400`);
  assert.equal(busy.busiest, 4, 'the load that stretched it is kept for the message');
  assert.ok(overloaded.ms >= 800 && overloaded.ms < 1200, `load 200 on 2 cores: expired after ${overloaded.ms} ms, eight times 100 at most`);
  let fired = false;
  const cancelled = readyTimeout(100, () => { fired = true; }, { load: () => 0, cores: 2 });
  cancelled.cancel();
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(fired, false, 'a cancelled timeout never fires');
});
