// Terminal benchmark: keystroke echo round trip over loopback (p50, p95;
// target p95 under 20 ms), next to a raw WebSocket echo measured in the same
// run, so the cost of the pty, bash's line editor and the session layer
// shows as the difference between the two.
//   node --import tsx bench/terminal-echo.bench.ts [--samples 400]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { percentile } from '../common/stats.js';
import { startLabServer } from '../server/http/index.js';
import { terminalsPlugin } from '../server/terminals/index.js';

export interface TerminalBenchResult {
  path: string;
  samples: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

const TARGET_P95_MS = 20;

function stats(path: string, xs: number[]): TerminalBenchResult {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return { path, samples: s.length, p50Ms: r(percentile(s, 50)), p95Ms: r(percentile(s, 95)), maxMs: r(s[s.length - 1] ?? NaN) };
}

/** Resolves with the next message that satisfies pred. */
function next(ws: WebSocket, pred: (text: string) => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { ws.off('message', on); reject(new Error('no echo within 5 s')); }, timeoutMs);
    const on = (d: WebSocket.RawData) => {
      if (!pred(String(d))) return;
      clearTimeout(t);
      ws.off('message', on);
      resolve();
    };
    ws.on('message', on);
  });
}

function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  return new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); });
}

async function rawEcho(samples: number): Promise<TerminalBenchResult> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(String(d))));
  const port = (wss.address() as { port: number }).port;
  const ws = await connect(`ws://127.0.0.1:${port}/`);
  const xs: number[] = [];
  try {
    for (let i = 0; i < samples + 20; i++) {
      const t0 = performance.now();
      const got = next(ws, (m) => m.includes('"x"'));
      ws.send(JSON.stringify({ type: 'input', data: 'x' }));
      await got;
      if (i >= 20) xs.push(performance.now() - t0); // the first ones warm up
    }
  } finally {
    ws.terminate();
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  }
  return stats('raw WebSocket echo', xs);
}

async function terminalEcho(samples: number): Promise<TerminalBenchResult> {
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-term-'));
  const token = 'e'.repeat(40);
  const server = await startLabServer({ home, port: 0, token, plugins: [terminalsPlugin()] });
  const xs: number[] = [];
  try {
    const ws = await connect(server.url.replace(/^http/, 'ws') + '/api/terminals/bench?cols=120&rows=40', { authorization: `Bearer ${token}` });
    let screen = '';
    const collect = (d: WebSocket.RawData) => { const m = JSON.parse(String(d)) as { data?: string }; screen += m.data ?? ''; };
    ws.on('message', collect);
    const end = Date.now() + 10_000;
    while (!/\$ $/.test(screen) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    ws.off('message', collect);
    const input = (data: string) => ws.send(JSON.stringify({ type: 'input', data }));
    for (let i = 0; i < samples + 20; i++) {
      // One keystroke, timed until bash's line editor echoes it; then erase it
      // (untimed) so the line never grows.
      const t0 = performance.now();
      const got = next(ws, (m) => m.includes('"type":"output"') && m.includes('x'));
      input('x');
      await got;
      if (i >= 20) xs.push(performance.now() - t0);
      const erased = next(ws, (m) => m.includes('"type":"output"'));
      input('\x7f');
      await erased;
    }
    ws.terminate();
  } finally {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
  return stats('terminal keystroke echo (pty + bash)', xs);
}

export async function run(opts: { samples?: number; log?: (s: string) => void } = {}): Promise<TerminalBenchResult[]> {
  const samples = opts.samples ?? 400;
  const results = [await rawEcho(samples), await terminalEcho(samples)];
  opts.log?.(report(results));
  return results;
}

export function report(results: TerminalBenchResult[]): string {
  const machine = `${cpus()[0]?.model.replace(/\s+/g, ' ').trim()} x${cpus().length}`;
  const lines = [`terminal echo round trip over loopback (${machine}, Node ${process.version})`,
    `path | samples | p50 ms | p95 ms (target < ${TARGET_P95_MS}) | max ms`];
  for (const r of results) {
    lines.push(`${r.path} | ${r.samples} | ${r.p50Ms} | ${r.p95Ms}${r.p95Ms < TARGET_P95_MS ? ' ok' : ' OVER TARGET'} | ${r.maxMs}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--samples');
  const results = await run({ samples: i > 0 ? Number(process.argv[i + 1]) : 400 });
  process.stdout.write(report(results) + '\n');
}
