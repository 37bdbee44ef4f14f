// Helpers for workshop tests: a workshop server with isolated seats in a
// temporary folder (names unique to the run, everything removed after), an
// attendee's join, requests and terminals through the workshop's proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Topology } from '../../common/wire.js';
import { LocalSeats, startWorkshopServer, type WorkshopServer } from '../../server/workshop/index.js';
import { listNamespaces, listUsers, isolationAvailable } from '../../server/isolation/index.js';
import { ROOT, waitFor } from './lab-env.js';

export const HMLAB = joinPath(ROOT, 'bin', 'hmlab.js');

/** The command line of `hmlab ARGS`, as another (unprivileged) user when asUid is given: what a host without root runs. */
export function hmlabCommand(args: string[], asUid?: number): [string, string[]] {
  return asUid === undefined
    ? [process.execPath, [HMLAB, ...args]]
    : ['setpriv', [`--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', process.execPath, HMLAB, ...args]];
}

/** `hmlab workshop serve ARGS`; resolves its printed join and host URLs (rejects with its output if it exits first). */
export function serveWorkshop(args: string[], asUid?: number): { child: ChildProcess; urls: Promise<{ join: string; host: string }>; output: () => string } {
  const [cmd, argv] = hmlabCommand(['workshop', 'serve', ...args], asUid);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const urls = new Promise<{ join: string; host: string }>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const j = /join:\s+(\S+)/.exec(out);
      const h = /host:\s+(\S+)/.exec(out);
      if (j && h) resolve({ join: j[1]!, host: h[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => reject(new Error(`workshop server exited (${code}) before printing its URLs:\n${out}`)));
  });
  urls.catch(() => { /* the caller awaits it, or expects the exit */ });
  return { child, urls, output: () => out };
}

export const exited = (c: ChildProcess) => new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(null); else c.once('exit', r); });

export const isolationSkip = (() => {
  const a = isolationAvailable();
  return a.ok ? false : `workshop seats need root for users, namespaces and cgroups: ${a.why}`;
})();

export interface TestWorkshop {
  server: WorkshopServer;
  seats: LocalSeats;
  dir: string;
  prefix: string;
  code: string;
  cleanup(): Promise<void>;
}

export async function startTestWorkshop(o: {
  seats: number; topology?: Topology; memoryMiB?: number; maxPids?: number; trafficRate?: number;
  /** Variables for every seat server (which starts with a clean environment), such as a broken HMLAB_RABBITMQ_SERVER. */
  seatEnv?: Record<string, string>;
  /** How often the dashboard reads the seats (default 1 s, so tests see progress quickly). */
  pollMs?: number;
}): Promise<TestWorkshop> {
  const dir = mkdtempSync(joinPath(tmpdir(), 'hmws-'));
  const prefix = `hmlab-t${randomBytes(3).toString('hex')}-`;
  const seatCommand = o.seatEnv
    ? ['/usr/bin/env', ...Object.entries(o.seatEnv).map(([k, v]) => `${k}=${v}`), process.execPath, HMLAB]
    : undefined;
  const seats = new LocalSeats({
    dir, prefix, topology: o.topology, trafficRate: o.trafficRate, seatCommand,
    limits: { memoryBytes: (o.memoryMiB ?? 1536) * 1024 * 1024, maxPids: o.maxPids ?? 512 },
  });
  const server = await startWorkshopServer({ dir, seats: o.seats, backend: seats, pollMs: o.pollMs ?? 1000, trafficRate: o.trafficRate });
  return {
    server, seats, dir, prefix, code: server.store.joinCode,
    async cleanup() {
      await server.close();
      for (let n = 1; n <= o.seats; n++) await seats.destroy(n);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a test leaves behind of this prefix (should be nothing). */
export async function leftovers(prefix: string): Promise<string[]> {
  return [...(await listNamespaces()), ...listUsers()].filter((n) => n.startsWith(prefix));
}

/** Joins as a new browser; returns its cookie header and seat. */
export async function joinSeat(base: string, code: string, name = ''): Promise<{ cookie: string; status: number; body: string }> {
  const res = await fetch(`${base}/join/${code}`, {
    method: 'POST', redirect: 'manual',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name }).toString(),
  });
  const set = res.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
  return { cookie: set, status: res.status, body: await res.text() };
}

export async function api(base: string, cookie: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method: init.method ?? 'GET',
    headers: { cookie, origin: base, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json };
}

/** Waits until the workshop says the seat this cookie holds is ready (its server answers, a new seat is at lab 1's start). */
export async function waitSeatReady(base: string, cookie: string, timeoutMs = 120_000) {
  return waitFor('the seat ready', async () => {
    const r = await api(base, cookie, '/workshop/me');
    return r.status === 200 && r.json.state === 'ready' ? r.json : null;
  }, timeoutMs, 500);
}

export async function waitSeatLab(base: string, cookie: string, timeoutMs = 240_000) {
  return waitFor('the seat\'s lab running with traffic', async () => {
    const r = await api(base, cookie, '/api/status');
    if (r.status !== 200) return null;
    const st = r.json as { components: { name: string; state: string; detail?: string | null }[]; traffic: { rpcCalls: { ok: number } } };
    if (st.components.length > 0 && st.components.every((c) => c.state === 'running') && st.traffic.rpcCalls.ok > 0) return st;
    // Thrown, not returned: a timeout then says where the seat's lab stood.
    const notRunning = st.components.filter((c) => c.state !== 'running').map((c) => `${c.name} ${c.state}${c.detail ? ` (${c.detail})` : ''}`);
    const where = st.components.length === 0 ? 'no lab components yet' : notRunning.join(', ') || 'every component running';
    throw new Error(`${where}; ${st.traffic.rpcCalls.ok} RPC calls answered`);
  }, timeoutMs, 1000);
}

export interface SeatTerminal {
  /** Types a line and waits for output matching `until`; returns the output since typing. */
  run(line: string, until: RegExp, timeoutMs?: number): Promise<string>;
  /** Types one key and resolves with the milliseconds until the shell echoes it. */
  keystroke(key: string): Promise<number>;
  close(): void;
}

/** A terminal of the seat this cookie holds, through the workshop's WebSocket proxy. */
export async function terminal(base: string, cookie: string, name: string, path = `/api/terminals/${name}`, o: { ca?: Buffer } = {}): Promise<SeatTerminal> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}?cols=160&rows=40`, { headers: { cookie, origin: base }, ca: o.ca });
  let out = '';
  ws.on('message', (d) => {
    try {
      const f = JSON.parse(String(d)) as { type: string; data?: string };
      if ((f.type === 'output' || f.type === 'snapshot') && f.data) out += f.data;
    } catch { /* not a frame */ }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the terminal did not open within 30 s')), 30_000);
    ws.once('open', () => { clearTimeout(timer); resolve(); });
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, r) => reject(new Error(`terminal refused: ${r.statusCode}`)));
  });
  return {
    async run(line, until, timeoutMs = 30_000) {
      const from = out.length;
      ws.send(JSON.stringify({ type: 'input', data: line + '\r' }));
      return waitFor(`terminal output ${until}`, () => {
        const s = out.slice(from);
        return until.test(s) ? s : null;
      }, timeoutMs, 100);
    },
    keystroke(key) {
      return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const timer = setTimeout(() => { ws.off('message', on); reject(new Error(`no echo of ${JSON.stringify(key)} within 10 s`)); }, 10_000);
        const on = (d: WebSocket.RawData) => {
          if (!String(d).includes('"output"')) return;
          clearTimeout(timer);
          ws.off('message', on);
          resolve(performance.now() - t0);
        };
        ws.on('message', on);
        ws.send(JSON.stringify({ type: 'input', data: key }));
      });
    },
    close() { ws.close(); },
  };
}

/** The status of a WebSocket upgrade (101 when it opened). */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('unexpected-response', (_q, r) => { resolve(r.statusCode ?? 0); ws.terminate(); });
    ws.once('error', () => resolve(0));
  });
}
