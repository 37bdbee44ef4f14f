// Router benchmark: messages per second and settlement latency (p50, p99)
// through one router and across two, for the embedded router and (in the same
// run) qdrouterd when installed, next to the generator's own ceiling: the
// same sender straight to the same receiver, no router in between. Then
// oslo.messaging RPC latency (p50, p95) through a mesh of three and the
// time from killing a client's router to its next successful call, for both
// routers, with the ratio.
// Sender and receiver are separate processes, as real clients are.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import rhea from 'rhea';
import type { Connection, EventContext } from 'rhea';
import { freePort } from '../server/backends/index.js';
import { percentile } from '../common/stats.js';
import { measureOsloMesh, type OsloMeshRow } from './router-oslo.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const BODY = 'x'.repeat(100);

// ---- the two roles, each its own process -------------------------------------

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : (dflt ?? '');
}

// clients of a router disable Nagle (qpid-proton does): the same here
function noDelay(c: Connection): void {
  (c as unknown as { socket?: { setNoDelay?(on: boolean): void } }).socket?.setNoDelay?.(true);
}

function emit(o: Record<string, unknown>): void { process.stdout.write(JSON.stringify(o) + '\n'); }

function roleReceiver(): void {
  const port = Number(arg('port'));
  const address = arg('address');
  const container = rhea.create_container({ id: 'bench-receiver' });
  let count = 0;
  const onReceiver = (conn: Connection) => {
    const r = conn.open_receiver({ source: { address }, credit_window: 500, autoaccept: true } as never);
    r.on('receiver_open', () => emit({ event: 'ready' }));
    r.on('message', () => { count++; });
  };
  if (arg('listen') === 'yes') {
    // the generator's ceiling: the sender attaches straight to us
    container.on('receiver_open', (ctx: EventContext) => noDelay(ctx.connection));
    container.on('message', () => { count++; });
    const server = container.listen({ host: '127.0.0.1', port, credit_window: 500, autoaccept: true } as never) as unknown as import('node:net').Server;
    server.on('listening', () => emit({ event: 'ready' }));
  } else {
    const conn = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
    conn.on('connection_open', () => { noDelay(conn); onReceiver(conn); });
  }
  setInterval(() => emit({ event: 'count', count }), 1000).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function roleSender(): void {
  const port = Number(arg('port'));
  const address = arg('address');
  const count = Number(arg('count'));
  const rate = Number(arg('rate', '0')); // 0: as fast as credit allows
  const window = 1000;
  const container = rhea.create_container({ id: 'bench-sender' });
  const conn = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
  conn.on('connection_open', () => noDelay(conn));
  const s = conn.open_sender({ target: { address } } as never);
  const started = new Map<unknown, number>();
  const lat: number[] = [];
  let sent = 0;
  let settled = 0;
  let t0 = 0;
  const sendOne = () => {
    const d = s.send({ body: BODY });
    started.set(d, performance.now());
    sent++;
  };
  const inFlight = () => sent - settled;
  const pump = () => {
    if (rate > 0) return;
    while (sent < count && s.sendable() && inFlight() < window) sendOne();
  };
  s.on('accepted', (ctx: EventContext) => {
    const at = started.get(ctx.delivery);
    if (at !== undefined) { lat.push(performance.now() - at); started.delete(ctx.delivery); }
    settled++;
    if (settled === count) {
      const elapsed = performance.now() - t0;
      lat.sort((a, b) => a - b);
      emit({ event: 'done', count, elapsedMs: elapsed, rate: (count / elapsed) * 1000, p50: percentile(lat, 50), p99: percentile(lat, 99) });
      setTimeout(() => process.exit(0), 50);
    } else pump();
  });
  s.on('rejected', () => { emit({ event: 'error', error: 'rejected' }); process.exit(1); });
  s.on('released', () => { emit({ event: 'error', error: 'released' }); process.exit(1); });
  s.on('sendable', pump);
  s.once('sendable', () => {
    t0 = performance.now();
    if (rate > 0) {
      // paced: one message every 1/rate s, catching up if a timer fires late
      const interval = 1000 / rate;
      const tick = () => {
        const due = Math.min(count, Math.floor((performance.now() - t0) / interval) + 1);
        while (sent < due && s.sendable()) sendOne();
        if (sent < count) setTimeout(tick, Math.max(0, interval / 2));
      };
      tick();
    } else pump();
  });
  conn.on('disconnected', () => { emit({ event: 'error', error: 'disconnected' }); process.exit(1); });
}

// ---- the driver ----------------------------------------------------------------


function findQdrouterd(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v qdrouterd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  wait(pred: (l: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
}

function startProc(cmd: string, args: string[], cwd = ROOT): Proc {
  const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; res: (l: Record<string, unknown>) => void }[] = [];
  let err = '';
  child.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let o: Record<string, unknown>;
    try { o = JSON.parse(line); } catch { return; }
    lines.push(o);
    for (const w of [...waiters]) if (w.pred(o)) { waiters.splice(waiters.indexOf(w), 1); w.res(o); }
  });
  return {
    child, lines,
    wait(pred, ms, what) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms ${err}`)), ms);
        waiters.push({ pred, res: (l) => { clearTimeout(t); res(l); } });
      });
    },
  };
}

function stop(p: { child: ChildProcess }): Promise<void> {
  return new Promise((res) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return res();
    p.child.once('exit', () => res());
    p.child.kill('SIGTERM');
    setTimeout(() => { if (p.child.exitCode === null) p.child.kill('SIGKILL'); }, 2000).unref();
  });
}

function conf(id: string, normal: number, inter?: number, connectTo?: number): string {
  let s = `router {\n    mode: interior\n    id: ${id}\n}\n` +
    `listener {\n    host: 127.0.0.1\n    port: ${normal}\n    role: normal\n    saslMechanisms: ANONYMOUS\n}\n`;
  if (inter) s += `listener {\n    host: 127.0.0.1\n    port: ${inter}\n    role: inter-router\n    saslMechanisms: ANONYMOUS\n}\n`;
  if (connectTo) s += `connector {\n    host: 127.0.0.1\n    port: ${connectTo}\n    role: inter-router\n    saslMechanisms: ANONYMOUS\n}\n`;
  return s + 'address {\n    prefix: bench\n    distribution: balanced\n}\n';
}

async function waitPort(port: number, ms: number): Promise<void> {
  const { connect } = await import('node:net');
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port} after ${ms} ms`);
}

export interface RouterBenchRow { setup: string; product: string; routers: number; rate: number; p50: number; p99: number; pacedRate: number; skipped?: string }

async function measure(
  setup: string, product: string, routers: number, dir: string,
  opts: { count: number; pacedSeconds: number; pacedRate: number }, qdrouterd: string | null,
): Promise<RouterBenchRow> {
  const procs: Proc[] = [];
  try {
    let senderPort: number;
    let receiverPort: number;
    let listen = false;
    if (routers === 0) {
      senderPort = receiverPort = await freePort();
      listen = true;
    } else {
      const na = await freePort();
      const ia = await freePort();
      const nb = await freePort();
      const files = [join(dir, `${setup}-a.conf`), join(dir, `${setup}-b.conf`)];
      writeFileSync(files[0], conf('Bench.A', na, ia));
      writeFileSync(files[1], conf('Bench.B', nb, undefined, ia));
      const start = (f: string) => product === 'qdrouterd'
        ? startProc(qdrouterd!, ['-c', f], dir)
        : startProc(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'router', 'main.ts'), '-c', f]);
      procs.push(start(files[0]));
      await waitPort(na, 20000);
      senderPort = na;
      receiverPort = na;
      if (routers === 2) {
        procs.push(start(files[1]));
        await waitPort(nb, 20000);
        receiverPort = nb;
        await new Promise((r) => setTimeout(r, 1500)); // let the mesh form
      }
    }
    const role = (r: string, extra: string[]) => startProc(process.execPath, ['--import', 'tsx', SELF, '--role', r, ...extra]);
    const receiver = role('receiver', ['--port', String(receiverPort), '--address', 'bench/load', ...(listen ? ['--listen', 'yes'] : [])]);
    procs.push(receiver);
    await receiver.wait((l) => l.event === 'ready', 20000, `${setup}: receiver ready`);
    await new Promise((r) => setTimeout(r, routers === 2 ? 500 : 100));
    // warm-up, then the throughput run, then a paced run for latency
    const runSender = async (count: number, rate: number) => {
      const s = role('sender', ['--port', String(senderPort), '--address', 'bench/load', '--count', String(count), '--rate', String(rate)]);
      procs.push(s);
      const done = await s.wait((l) => l.event === 'done' || l.event === 'error', 120000, `${setup}: sender`);
      if (done.event === 'error') throw new Error(`${setup}: sender failed: ${String(done.error)}`);
      return done as { rate: number; p50: number; p99: number };
    };
    await runSender(Math.min(20000, opts.count), 0); // lets the JIT warm up first
    const fast = await runSender(opts.count, 0);
    const paced = await runSender(opts.pacedRate * opts.pacedSeconds, opts.pacedRate);
    return { setup, product, routers, rate: fast.rate, p50: paced.p50, p99: paced.p99, pacedRate: opts.pacedRate };
  } finally {
    for (const p of procs.reverse()) await stop(p);
  }
}

export async function run(opts: { log?: (s: string) => void; count?: number } = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-bench-router-'));
  const qdrouterd = findQdrouterd();
  const o = { count: opts.count ?? 30000, pacedSeconds: 3, pacedRate: 1000 };
  const rows: RouterBenchRow[] = [];
  try {
    log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
      `${o.count} unsettled 100-byte messages per run, latency = send to settlement at ${o.pacedRate} msg/s`);
    rows.push(await measure('direct', 'none', 0, dir, o, qdrouterd));
    rows.push(await measure('embedded-1', 'embedded', 1, dir, o, qdrouterd));
    rows.push(await measure('embedded-2', 'embedded', 2, dir, o, qdrouterd));
    if (qdrouterd) {
      rows.push(await measure('qdrouterd-1', 'qdrouterd', 1, dir, o, qdrouterd));
      rows.push(await measure('qdrouterd-2', 'qdrouterd', 2, dir, o, qdrouterd));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ceiling = rows[0];
  const find = (s: string) => rows.find((r) => r.setup === s);
  // a right-aligned table column
  const col = (v: number, digits: number, width: number) => v.toFixed(digits).padStart(width);
  log('');
  log('  setup                          msg/s   of ceiling   p50 ms   p99 ms   vs qdrouterd');
  for (const r of rows) {
    const label = r.routers === 0 ? 'sender -> receiver (ceiling)' : `${r.product}, ${r.routers} router${r.routers > 1 ? 's' : ''}`;
    const q = find(`qdrouterd-${r.routers}`);
    const vs = r.product === 'embedded' && q ? `${(r.rate / q.rate).toFixed(2)}x` : r.product === 'embedded' ? '(no qdrouterd)' : '';
    log(`  ${label.padEnd(30)} ${col(r.rate, 0, 6)}   ${col((r.rate / ceiling.rate) * 100, 0, 8)}%   ${col(r.p50, 2, 6)}   ${col(r.p99, 2, 6)}   ${vs}`);
  }
  if (!qdrouterd) log('  qdrouterd is not installed here: its rows and the ratio are skipped');
  const e1 = find('embedded-1')!;
  const added = e1.p50 - ceiling.p50;
  const checks = {
    'embedded 1 router >= 10000 msg/s': e1.rate >= 10000,
    'added p50 latency at 1000 msg/s < 0.5 ms': added < 0.5,
    ...(qdrouterd ? { 'embedded >= 0.5x qdrouterd (1 router)': e1.rate >= 0.5 * find('qdrouterd-1')!.rate } : {}),
  };
  log('');
  log(`  added p50 latency through one embedded router: ${added.toFixed(3)} ms`);
  if (e1.rate > 0.8 * ceiling.rate) log('  the generator is near its own ceiling: the router may be faster than this shows');
  for (const [k, v] of Object.entries(checks)) log(`  ${v ? 'PASS' : 'MISS'}  ${k}`);

  // What oslo.messaging sees: RPC latency through a mesh of three, and failover time
  const oslo: OsloMeshRow[] = [await measureOsloMesh('embedded')];
  if (qdrouterd) oslo.push(await measureOsloMesh('qdrouterd'));
  const qo = oslo.find((r) => r.product === 'qdrouterd');
  log('');
  log(`  oslo.messaging ${oslo[0].calls} sequential RPC calls, client and server on different routers of a 3-router mesh;`);
  log('  failover = SIGKILL of the client\'s router to its next successful call (driver moves to the next URL host)');
  log('  router        call p50 ms   call p95 ms   failover s');
  for (const r of oslo) log(`  ${r.product.padEnd(12)} ${col(r.p50, 2, 11)}   ${col(r.p95, 2, 11)}   ${col(r.failoverS, 2, 10)}`);
  if (qo) {
    const e = oslo[0];
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    log(`  embedded / qdrouterd: p50 ${ratio(e.p50, qo.p50)}, p95 ${ratio(e.p95, qo.p95)}, failover ${ratio(e.failoverS, qo.failoverS)}`);
  } else log('  qdrouterd is not installed here: its row and the ratios are skipped');
  return { rows, addedP50Ms: added, checks, oslo };
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const r = arg('role');
  if (r === 'receiver') roleReceiver();
  else if (r === 'sender') roleSender();
}
