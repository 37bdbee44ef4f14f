// Lab server benchmark: how long a service event takes to reach a browser's
// event stream (p50, p95; target p95 under 100 ms), and what observing a busy
// mesh costs the lab server in CPU, next to what the routers themselves use.
// A real hybrid-mesh lab runs under a real `hmlab serve`; a load file adds
// 1,000 synthetic events per second to the services' own.
//   node --import tsx bench/server-events.bench.ts [--seconds 10]
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { LabEvent, LabStatus } from '../common/wire.js';
import { summarize } from '../server/observe/sampler.js';
import { freePort, findFreePortBlock } from '../server/backends/index.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const TICK = 100; // Linux clock ticks per second in /proc/<pid>/stat

export interface ServerBenchResult {
  phase: string;
  seconds: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number; n: number } | null;
  /** Only the events the lab server wrote itself a moment before (the load file): the server's own share. */
  syntheticLatencyMs?: { p50: number; p95: number; max: number; n: number } | null;
  serverCpuPercent: number;
  routersCpuPercent: Record<string, number>;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch { return NaN; }
}


export async function run(opts: { seconds?: number; log?: (s: string) => void } = {}): Promise<ServerBenchResult[]> {
  const seconds = opts.seconds ?? 10;
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-'));
  const port = await freePort();
  const basePort = await findFreePortBlock();
  let serve: ChildProcess | null = null;
  let ws: WebSocket | null = null;
  const results: ServerBenchResult[] = [];
  try {
    log(`starting "hmlab serve --up hybrid-mesh" (lab ports from ${basePort})`);
    serve = spawn(process.execPath, [
      '--import', 'tsx', join(root, 'server/cli/main.ts'), 'serve', '--home', home, '--port', String(port),
      '--up', 'hybrid-mesh', '--base-port', String(basePort), '--traffic-rate', '20', '--down-on-exit',
    ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (d) => { out += d; });
    serve.stderr!.on('data', (d) => { out += d; });
    const until = Date.now() + 120000;
    while (!/lab is up|failed/.test(out)) {
      if (Date.now() > until || serve.exitCode !== null) throw new Error(`the lab did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!/lab is up/.test(out)) throw new Error(`the lab did not come up:\n${out}`);
    const token = readFileSync(join(home, 'server', 'token'), 'utf8').trim();
    const url = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const status = (await (await fetch(`${url}/api/status`, { headers })).json()) as LabStatus;
    const routers = status.components.filter((c) => c.kind === 'router' && c.pid);

    const latencies: number[] = [];
    const synthetic: number[] = [];
    let received = 0;
    ws = new WebSocket(`${url.replace('http', 'ws')}/api/events`, { headers: { authorization: `Bearer ${token}` } });
    ws.on('message', (d) => {
      const now = Date.now();
      const e = JSON.parse(String(d)) as LabEvent;
      if (e.type !== 'message') return;
      received += e.sampled ?? 1;
      latencies.push(now - e.event.t);
      if (e.event.service === 'bench-load') synthetic.push(now - e.event.t);
    });
    await new Promise<void>((res, rej) => { ws!.once('open', () => res()); ws!.once('error', rej); });
    await new Promise((r) => setTimeout(r, 3000)); // let the services settle into the rate

    const measure = async (phase: string, during?: () => void, stopDuring?: () => void) => {
      latencies.length = 0; synthetic.length = 0; received = 0;
      const s0 = cpuTicks(serve!.pid!);
      const r0 = routers.map((r) => cpuTicks(r.pid!));
      const t0 = Date.now();
      during?.();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      stopDuring?.();
      const dt = (Date.now() - t0) / 1000;
      const pct = (ticks: number) => Math.round((ticks / TICK / dt) * 1000) / 10;
      const res: ServerBenchResult = {
        phase, seconds: Math.round(dt * 10) / 10,
        eventsPerSecond: Math.round(received / dt),
        latencyMs: latencies.length ? summarize(latencies) : null,
        ...(synthetic.length ? { syntheticLatencyMs: summarize(synthetic) } : {}),
        serverCpuPercent: pct(cpuTicks(serve!.pid!) - s0),
        routersCpuPercent: Object.fromEntries(routers.map((r, i) => [r.name, pct(cpuTicks(r.pid!) - r0[i])])),
      };
      results.push(res);
      log(`${phase}: ${JSON.stringify(res)}`);
    };

    await measure('lab traffic, 20 operations/s');
    await fetch(`${url}/api/traffic`, { method: 'POST', headers, body: JSON.stringify({ rate: 200 }) });
    await new Promise((r) => setTimeout(r, 2000));
    await measure('busy mesh, 200 operations/s');
    // 1,000 more events per second, written the way services write them
    const load = join(home, 'events', 'bench-load.jsonl');
    let timer: NodeJS.Timeout | null = null;
    let n = 0;
    await measure('busy mesh + 1,000 synthetic events/s', () => {
      timer = setInterval(() => {
        let lines = '';
        for (let i = 0; i < 10; i++) lines += JSON.stringify({ t: Date.now(), service: 'bench-load', kind: 'rpc.cast', id: `b${n++}`, method: 'load' }) + '\n';
        appendFileSync(load, lines);
      }, 10);
    }, () => { if (timer) clearInterval(timer); });
  } finally {
    ws?.terminate();
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => { serve!.kill('SIGKILL'); r(); }, 60000);
        serve!.once('exit', () => { clearTimeout(t); r(); });
      });
    }
    rmSync(home, { recursive: true, force: true });
  }
  log(report(results));
  return results;
}

function report(results: ServerBenchResult[]): string {
  const machine = `${cpus()[0]?.model.replace(/\s+/g, ' ').trim()} x${cpus().length}`;
  const lines = [`lab server event stream (${machine}, Node ${process.version})`,
    'phase | events/s at client | latency p50 / p95 / max ms (target p95 < 100) | lab server CPU % | routers CPU %'];
  for (const r of results) {
    const l = r.latencyMs ? `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.max}${r.latencyMs.p95 < 100 ? ' ok' : ' OVER TARGET'}` : 'no events';
    const syn = r.syntheticLatencyMs ? ` (load file alone: ${r.syntheticLatencyMs.p50} / ${r.syntheticLatencyMs.p95} / ${r.syntheticLatencyMs.max})` : '';
    const routers = Object.entries(r.routersCpuPercent).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`${r.phase} | ${r.eventsPerSecond} | ${l}${syn} | ${r.serverCpuPercent} | ${routers}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--seconds');
  await run({ seconds: i > 0 ? Number(process.argv[i + 1]) : 10, log: (s) => process.stdout.write(s + '\n') });
}
export { report };
