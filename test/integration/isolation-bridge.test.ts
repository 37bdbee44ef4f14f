// Unix-socket bridges between namespaces, as a multi-region lab uses them:
// a client in one namespace reaches a server in another only through the
// relays; the WAN forward adds the delay it is set to (each way), a cut
// closes its connections and refuses new ones, a heal lets them through;
// the host reaches a namespace's port through a plain bridge. Removing the
// namespaces ends the relays and leaves nothing behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  bridgeHalves, createNamespace, defaultWan, isolationAvailable, listNamespaces, namespacePids, relayReady, removeNamespace,
  wrapInNamespace, writeWanSettings, type RelayConfig,
} from '../../server/isolation/index.js';
import { pidAlive, freePort } from '../../server/backends/index.js';
import { HMLAB_BIN } from '../../server/paths.js';
import { median } from '../../common/stats.js';

const available = isolationAvailable();
const skip = available.ok ? false : `network namespaces unavailable here: ${available.why}`;

function spawnIn(ns: string | null, cmd: string, args: string[]): ChildProcess {
  const [c, a] = ns ? wrapInNamespace(ns, cmd, args) : [cmd, args];
  return spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function startRelay(ns: string | null, dir: string, name: string, config: RelayConfig): Promise<ChildProcess> {
  const file = join(dir, `${name}.json`);
  const readyFile = join(dir, `${name}.ready`);
  writeFileSync(file, JSON.stringify({ ...config, readyFile }));
  const p = spawnIn(ns, process.execPath, [HMLAB_BIN, 'relay', '-c', file]);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const deadline = Date.now() + 20_000;
  while (!relayReady(readyFile)) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`relay ${name} not ready: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

type Pings = { rtts: number[]; error?: string };

/**
 * A node script in `ns`: connects to port, sends n pings one at a time, prints their round trips in ms.
 * `answered` settles at the first answer (or the end), so a step can wait for traffic, not guess a delay.
 */
function pingsIn(ns: string, port: number, n: number, timeoutMs = 8000): Promise<Pings> & { answered: Promise<void> } {
  const script = `
    const s = require('node:net').connect(${port}, '127.0.0.1');
    const rtts = []; let t0 = 0;
    const next = () => { t0 = performance.now(); s.write('x'); };
    s.setNoDelay(true);
    s.on('connect', next);
    s.on('data', () => {
      rtts.push(performance.now() - t0);
      if (rtts.length === 1) process.stderr.write('answered\\n');
      if (rtts.length === ${n}) { console.log(JSON.stringify({ rtts })); process.exit(0); } else next();
    });
    s.on('error', (e) => { console.log(JSON.stringify({ rtts, error: e.code })); process.exit(0); });
    s.on('close', () => { console.log(JSON.stringify({ rtts, error: 'closed' })); process.exit(0); });
    setTimeout(() => { console.log(JSON.stringify({ rtts, error: 'timeout' })); process.exit(0); }, ${timeoutMs});`;
  const p = spawnIn(ns, process.execPath, ['-e', script]);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<Pings>((resolve) => p.on('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() || '{"rtts":[],"error":"no output"}'))));
  const answered = new Promise<void>((resolve) => { p.stderr!.on('data', () => resolve()); void done.then(() => resolve()); });
  return Object.assign(done, { answered });
}

/** Round trips of a delayed path: at least the delay (less a timer's slack), and never twice it. */
function assertDelayed(rtts: number[], wantMs: number, what: string): void {
  const p50 = median(rtts.slice(1));
  // The lower bound proves the delay is applied; the upper one that it is applied once (a busy machine only adds).
  assert.ok(p50 >= wantMs * 0.8 && p50 <= wantMs * 1.5, `round trip ${what}: ${p50.toFixed(1)} ms, want ${wantMs} ms (-20%, +50%)`);
}


describe('Unix-socket bridges and the WAN relay', { skip }, () => {
  it('carry a namespace port across, shape the WAN, cut and heal it, and leave nothing behind', async (t) => {
    const tag = randomBytes(3).toString('hex');
    const [nsA, nsB] = [`hmlab-test-a-${tag}`, `hmlab-test-b-${tag}`];
    const dir = mkdtempSync(join(tmpdir(), 'hmlab-br-'));
    const procs: ChildProcess[] = [];
    t.after(async () => {
      for (const p of procs) if (p.pid && pidAlive(p.pid)) p.kill('SIGKILL');
      await removeNamespace(nsA);
      await removeNamespace(nsB);
      rmSync(dir, { recursive: true, force: true });
    });
    await createNamespace(nsA);
    await createNamespace(nsB);
    const port = await freePort();
    const hostPort = await freePort();

    // An echo server in B.
    const echo = spawnIn(nsB, process.execPath, ['-e', `require('node:net').createServer((c) => c.pipe(c)).listen(${port}, '127.0.0.1', () => `
      + `console.log('up'))`]);
    procs.push(echo);
    await new Promise((r) => echo.stdout!.once('data', r));

    const wanFile = join(dir, 'wan.json');
    writeWanSettings(wanFile, { ...defaultWan(), delayMs: 40 });
    const wan = bridgeHalves('wan', port, join(dir, 'wan.sock'), true);
    const obs = bridgeHalves('observe', port, join(dir, 'obs.sock'));
    procs.push(await startRelay(nsA, dir, 'relay-a', { forwards: [wan.near], wanFile }));
    procs.push(await startRelay(nsB, dir, 'relay-b', { forwards: [wan.far, obs.far] }));
    procs.push(await startRelay(null, dir, 'relay-host', { forwards: [{ ...obs.near, listen: { tcp: { host: '127.0.0.1', port: hostPort } } }] }));

    // Across the WAN: each ping crosses it twice, so about 2 x 40 ms.
    const slow = await pingsIn(nsA, port, 15);
    assert.equal(slow.error, undefined, `pings across the WAN failed: ${slow.error}`);
    assertDelayed(slow.rtts, 80, 'across a 40 ms WAN');

    // The setting changes live: 80 ms each way.
    writeWanSettings(wanFile, { ...defaultWan(), delayMs: 80 });
    await new Promise((r) => setTimeout(r, 400));
    const slower = await pingsIn(nsA, port, 10);
    assert.equal(slower.error, undefined, `pings across the WAN failed: ${slower.error}`);
    assertDelayed(slower.rtts, 160, 'across an 80 ms WAN');

    // The host reaches B's port through the plain bridge, unshaped: the median of five round trips on
    // one connection is under one crossing of the WAN (80 ms), let alone the 160 ms of a round trip.
    const hostRtts = await new Promise<number[]>((resolve, reject) => {
      const s = connect(hostPort, '127.0.0.1');
      const rtts: number[] = [];
      let t0 = 0;
      const next = () => { t0 = performance.now(); s.write('y'); };
      s.on('connect', next);
      s.on('data', () => {
        rtts.push(performance.now() - t0);
        if (rtts.length < 5) next(); else { resolve(rtts); s.destroy(); }
      });
      s.on('error', reject);
    });
    assert.ok(median(hostRtts) < 80, `host to namespace bridge round trips ${hostRtts.map((r) => r.toFixed(1)).join(', ')} ms should carry no WAN delay`);

    // Cut: a connection across the WAN is closed, a new one is refused.
    writeWanSettings(wanFile, { ...defaultWan(), delayMs: 10 });
    await new Promise((r) => setTimeout(r, 400));
    const long = pingsIn(nsA, port, 1000, 60_000);
    await long.answered;
    await new Promise((r) => setTimeout(r, 300));
    writeWanSettings(wanFile, { ...defaultWan(), delayMs: 10, state: 'cut' });
    const cut = await long;
    assert.equal(cut.error, 'closed', 'a cut closes the connections across the WAN');
    assert.ok(cut.rtts.length > 0 && cut.rtts.length < 1000);
    const refused = await pingsIn(nsA, port, 1);
    assert.equal(refused.rtts.length, 0, 'no byte crosses a cut WAN');

    // Heal: through again.
    writeWanSettings(wanFile, { ...defaultWan(), delayMs: 10, state: 'up' });
    await new Promise((r) => setTimeout(r, 400));
    const healed = await pingsIn(nsA, port, 3);
    assert.equal(healed.error, undefined);
    assert.equal(healed.rtts.length, 3);

    // Removing the namespaces ends the relays and the echo server in them.
    const inside = [...(await namespacePids(nsA)), ...(await namespacePids(nsB))];
    assert.ok(inside.length >= 3, 'the relays and the echo server run inside the namespaces');
    await removeNamespace(nsA);
    await removeNamespace(nsB);
    const names = await listNamespaces();
    assert.ok(!names.includes(nsA) && !names.includes(nsB), 'ip netns list shows neither namespace');
    for (const pid of inside) assert.ok(!pidAlive(pid), `pid ${pid} from a removed namespace still runs`);
  });
});
