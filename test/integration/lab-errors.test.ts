// Errors a user hits before a lab runs: each gets a clear message, and
// nothing is left half-started.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePortBlock, findOnPath, processesOfHome } from '../../server/backends/index.js';
import { hmlab } from '../helpers/lab-env.js';

const home = mkdtempSync(join(tmpdir(), 'hmlab-errors-'));
after(() => rmSync(home, { recursive: true, force: true }));

function nothingStarted(): void {
  assert.deepEqual(processesOfHome(home), [], 'no process of the home runs');
  if (existsSync(join(home, 'state.json'))) {
    const state = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')) as { components: { pid: number | null }[] };
    assert.ok(state.components.every((c) => c.pid === null), 'no pid recorded');
  }
}

test('an unknown topology names the choices', async () => {
  const r = await hmlab(['up', '--topology', 'star', '--home', home]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--topology must be one of broker-only, hybrid, hybrid-mesh/);
  nothingStarted();
});

test('a bad --base-port says which range is allowed', async () => {
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', home, '--base-port', '80']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--base-port must be at least 1024/);
});

test('a port in use is named, with its component, and nothing starts', async (t) => {
  const base = await findFreePortBlock();
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', () => r()));
  t.after(() => blocker.close());
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', home, '--base-port', String(base)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`port ${base + 1} \\(broker management API\\) is in use.*--base-port N`));
  nothingStarted();
});

test('RabbitMQ missing: the exact install command', async () => {
  const base = await findFreePortBlock();
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', home, '--base-port', String(base)],
    { HMLAB_RABBITMQ_SERVER: join(home, 'no-such-rabbitmq-server') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /RabbitMQ is not installed.*apt-get install rabbitmq-server/);
  nothingStarted();
});

test('oslo.messaging missing: the exact install command', async () => {
  // Debian's Python without its site packages: as if python3-oslo.messaging were not installed.
  const py = join(home, 'python-without-oslo');
  writeFileSync(py, '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n');
  chmodSync(py, 0o755);
  const base = await findFreePortBlock();
  const r = await hmlab(['up', '--topology', 'broker-only', '--home', home, '--base-port', String(base)], { HMLAB_PYTHON: py });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /oslo\.messaging .*not installed.*apt-get install python3-oslo\.messaging python3-pyngus python3-qpid-proton/);
  nothingStarted();
});

test('a router topology with no router available says what to install', async (t) => {
  if (findOnPath('qdrouterd')) { t.skip('qdrouterd is on PATH here: the lab would use it'); return; }
  const base = await findFreePortBlock();
  const r = await hmlab(['up', '--topology', 'hybrid', '--home', home, '--base-port', String(base)], { HMLAB_NO_EMBEDDED_ROUTER: '1' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /topology hybrid needs a router.*qdrouterd.*--qdrouterd PATH/);
  nothingStarted();
});

test('commands on a home without a lab say how to start one', async () => {
  const r = await hmlab(['stop', 'broker', '--home', home]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no lab in .*: start one with "hmlab up"/);
  const s = await hmlab(['status', '--json', '--home', home]);
  assert.equal(s.code, 0);
  assert.equal(JSON.parse(s.stdout).topology, null);
});

test('a component failing during up is named with its log, and everything started is stopped', async () => {
  // A "router" that refuses its configuration, as a broken qdrouterd would.
  const fake = join(home, 'broken-qdrouterd');
  writeFileSync(fake, '#!/bin/sh\necho "qdrouterd: Configuration error: no such listener role" >&2\nexit 1\n');
  chmodSync(fake, 0o755);
  const base = await findFreePortBlock();
  const r = await hmlab(['up', '--topology', 'hybrid', '--home', home, '--base-port', String(base), '--qdrouterd', fake]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /router-a failed: router-a exited \(code 1\) before it was ready/);
  assert.match(r.stderr, /--- last lines of logs\/router-a\.log ---\nqdrouterd: Configuration error: no such listener role/);
  assert.match(r.stderr, /Everything this "hmlab up" started has been stopped/);
  // the broker's wait is called off (an AbortError), and it says why rather than failing on its own
  assert.match(r.stdout, /^broker +failed .* stopped: router-a failed$/m);
  nothingStarted();
  const st = JSON.parse((await hmlab(['status', '--json', '--home', home])).stdout) as { components: { name: string; state: string }[] };
  assert.equal(st.components.find((c) => c.name === 'router-a')?.state, 'failed');
  assert.ok(st.components.filter((c) => c.name !== 'router-a').every((c) => c.state === 'stopped'));
});
