// The lab's tools inside a terminal, against real parts: rabbitmqctl reaches
// the lab's own RabbitMQ node (its node name and cookie from the lab home),
// and qdstat is pointed at the lab's router from state.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { terminalsPlugin } from '../../server/terminals/index.js';
import { freePort } from '../../server/backends/index.js';

const TOKEN = 'r'.repeat(40);
const RABBIT = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

let work: string;
let home: string;
let server: LabServer;
let broker: ChildProcess | null = null;
let nodeName: string;


/** Writes state.json as the lab environment does (the fields the wrappers read). */
function writeState(routerPort: number): void {
  writeFileSync(join(home, 'state.json'), JSON.stringify({
    version: 1, home, topology: 'hybrid', router: 'embedded', qdrouterd: null, nodeName, trafficRate: 0, upAt: Date.now(),
    ports: {
      base: 15800, brokerAmqp: 15800, brokerManagement: 15801, brokerDist: 15802,
      routers: { 'router-a': { normal: routerPort + 1, interRouter: routerPort + 2 } },
    },
    components: [
      {
        name: 'broker', kind: 'broker', state: 'running', pid: broker?.pid ?? null, endpoint: 'amqp://127.0.0.1:15800',
        management: null, product: null, startedAt: null, readyAt: null, detail: null,
      },
      {
        name: 'router-a', kind: 'router', state: 'running', pid: null, endpoint: `amqp://127.0.0.1:${routerPort}`,
        management: null, product: null, startedAt: null, readyAt: null, detail: null,
      },
    ],
  }, null, 2));
}

/** Runs a command line in a terminal and returns what it printed up to the marker. */
async function runInShell(name: string, command: string, marker: RegExp, timeoutMs = 30_000): Promise<string> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/terminals/${name}?cols=160&rows=50`, { headers: { authorization: `Bearer ${TOKEN}` } });
  let text = '';
  ws.on('message', (d) => { const m = JSON.parse(String(d)) as { data?: string }; text += m.data ?? ''; });
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  try {
    const end = Date.now() + timeoutMs;
    while (!/\$ $/.test(text) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    ws.send(JSON.stringify({ type: 'input', data: command + '\r' }));
    while (!marker.test(text)) {
      if (Date.now() > end) throw new Error(`no ${marker} in the terminal; it shows:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return text;
  } finally {
    ws.terminate();
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hmlab-term-tools-'));
  home = join(work, 'tools-lab');
  mkdirSync(home, { recursive: true });
  nodeName = `hmlab-termtest-${process.pid}@localhost`;
  server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [terminalsPlugin()] });
});

after(async () => {
  await server?.close().catch(() => undefined);
  if (broker?.pid && broker.exitCode === null) {
    const exited = new Promise((r) => broker!.once('exit', r));
    try { process.kill(-broker.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-broker!.pid!, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(work, { recursive: true, force: true });
});

test('qdstat in a terminal talks to the lab\'s router from state.json unless told otherwise', async () => {
  // A stand-in for the real qdstat, right after the lab's wrapper on PATH (so
  // before any real qdstat installed here): it shows the arguments it got.
  const fake = join(work, 'fake-bin');
  mkdirSync(fake, { recursive: true });
  writeFileSync(join(fake, 'qdstat'), '#!/bin/sh\necho "real-qdstat-args: $*"\n');
  chmodSync(join(fake, 'qdstat'), 0o755);
  writeState(15810);
  const out = await runInShell('qdstat',
    `export PATH="\${PATH%%:*}:${fake}:\${PATH#*:}"; qdstat -n; qdstat -b 127.0.0.1:9999 -a`, /real-qdstat-args: -b 127\.0\.0\.1:9999 -a/);
  assert.match(out, /real-qdstat-args: -b 127\.0\.0\.1:15810 -n\r\n/, 'the lab\'s first running router by default');
  assert.doesNotMatch(out, /-b 127\.0\.0\.1:15810 -b/, 'an explicit --bus is left alone');
});

test('rabbitmqctl in a terminal reaches the lab\'s own RabbitMQ node', {
  skip: !existsSync(RABBIT) && 'RabbitMQ is not installed (Debian: apt-get install rabbitmq-server)',
}, async () => {
  const data = join(home, 'data', 'broker');
  const etc = join(home, 'etc');
  mkdirSync(join(data, 'mnesia'), { recursive: true });
  mkdirSync(join(data, 'log'), { recursive: true });
  mkdirSync(etc, { recursive: true });
  const amqp = await freePort();
  const dist = await freePort();
  writeFileSync(join(etc, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${amqp}\nloopback_users = none\n`);
  writeFileSync(join(etc, 'enabled_plugins'), '[].\n');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: data,
    RABBITMQ_NODENAME: nodeName, RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1', RABBITMQ_NODE_PORT: String(amqp), RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_CONFIG_FILE: join(etc, 'rabbitmq'), RABBITMQ_ENABLED_PLUGINS_FILE: join(etc, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(data, 'mnesia'), RABBITMQ_LOG_BASE: join(data, 'log'), RABBITMQ_PID_FILE: join(data, 'rabbit.pid'),
  };
  broker = spawn(RABBIT, [], { env, detached: true, stdio: 'ignore' });
  // The node registers with epmd a few seconds after start; until then rabbitmqctl fails fast.
  const ready = Date.now() + 90_000;
  for (;;) {
    const err = await new Promise<Error | null>((res) => execFile(CTL, ['await_startup', '--timeout', '10'], { env, timeout: 20_000 }, (e) => res(e)));
    if (!err) break;
    if (broker.exitCode !== null) throw new Error(`RabbitMQ exited with code ${broker.exitCode} before it was ready`);
    if (Date.now() > ready) throw err;
    await new Promise((r) => setTimeout(r, 1000));
  }
  writeState(15810);
  const out = await runInShell('broker', 'rabbitmqctl status | grep --color=never -E "^(Status of node|RabbitMQ version)"; echo "rc=$?"', /rc=\d+/, 30_000);
  assert.match(out, new RegExp(`Status of node ${nodeName.replace(/[.@-]/g, '\\$&')}`));
  assert.match(out, /RabbitMQ version: 3\./);
  assert.match(out, /rc=0/);
});
