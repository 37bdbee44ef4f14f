// Real router and oslo.messaging processes for the router tests: free
// loopback ports, generated qdrouterd.conf files, JSON-line drivers, and
// every process stopped by PID when the test ends (also on failure).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { ManagementClient } from '../../server/router/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PYTHON = '/usr/bin/python3';
const OSLO_HELPER = join(ROOT, 'test', 'helpers', 'router-oslo.py');
export const MGMT_HELPER = join(ROOT, 'test', 'helpers', 'router-mgmt.py');

type Cleanup = { after(fn: () => unknown): void };

/** Ports come from outside the ephemeral range, so no client's outgoing connection takes one first. */
export { freePort } from '../../server/backends/index.js';
import { OPENSTACK_ADDRESSES } from '../../server/backends/index.js';
import { wrapInNamespace } from '../../server/isolation/index.js';

export function tempDir(t: Cleanup, prefix = 'hmlab-router-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Where a qdrouterd binary is, if one is installed. */
export function findQdrouterd(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v qdrouterd'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

export type Product = 'embedded' | 'qdrouterd';

export interface RouterSpec {
  id: string;
  normal: number;
  interRouter?: number;
  connectTo?: number[]; // inter-router ports of other routers
  mode?: 'standalone' | 'interior';
  listenerExtra?: string; // more attribute lines for the normal listener
  extra?: string; // more sections (policy, vhost)
  heapProbe?: boolean; // embedded only: RouterProc.liveHeap() answers
}

/** The same address table the lab writes into every router's config. */
export const OSLO_ADDRESSES = OPENSTACK_ADDRESSES
  .map((a) => `address {\n    prefix: ${a.prefix}\n    distribution: ${a.distribution}\n}\n`)
  .join('');

export function routerConf(spec: RouterSpec): string {
  let s = `router {\n    mode: ${spec.mode ?? 'interior'}\n    id: ${spec.id}\n}\n` +
    `listener {\n    host: 127.0.0.1\n    port: ${spec.normal}\n    role: normal\n    authenticatePeer: no\n    saslMechanisms: ANONYMOUS\n` +
    `${spec.listenerExtra ?? ''}}\n`;
  if (spec.extra) s += spec.extra;
  if (spec.interRouter) {
    s += `listener {\n    host: 127.0.0.1\n    port: ${spec.interRouter}\n    role: inter-router\n    authenticatePeer: no\n    saslMechanisms: ANONYMOUS\n}\n`;
  }
  for (const p of spec.connectTo ?? []) s += `connector {\n    host: 127.0.0.1\n    port: ${p}\n    role: inter-router\n    saslMechanisms: ANONYMOUS\n}\n`;
  return s + OSLO_ADDRESSES;
}

export interface RouterProc {
  id: string;
  port: number;
  child: ChildProcess;
  output: () => string; // stdout and stderr together
  stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Bytes of heap live after a full collection (a router started with heapProbe). */
  liveHeap(): Promise<number>;
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return res();
    child.once('exit', () => res());
    try { process.kill(child.pid, signal); } catch { res(); }
  });
}

/** Wait until the router answers AMQP management on its normal listener. */
export async function waitForRouter(port: number, timeoutMs = 15000, child?: ChildProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`router exited with ${child.exitCode} before it was ready`);
    try {
      const m = await ManagementClient.connect('127.0.0.1', port, { timeoutMs: 1000 });
      await m.close();
      return;
    } catch (err) { last = (err as Error).message; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`router on port ${port} not ready in ${timeoutMs} ms: ${last}`);
}

export async function startRouter(t: Cleanup, dir: string, spec: RouterSpec, product: Product = 'embedded'): Promise<RouterProc> {
  const file = join(dir, `${spec.id}.conf`);
  writeFileSync(file, routerConf(spec));
  const probe = product === 'embedded' && spec.heapProbe === true;
  const entry = probe ? join(ROOT, 'test', 'helpers', 'router-heap-probe.ts') : join(ROOT, 'server', 'router', 'main.ts');
  const child = product === 'embedded'
    ? spawn(process.execPath, [...(probe ? ['--expose-gc'] : []), '--import', 'tsx', entry, '-c', file],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', ...(probe ? ['ipc' as const] : [])] })
    : spawn(findQdrouterd()!, ['-c', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; err += d; });
  t.after(() => stopChild(child));
  await waitForRouter(spec.normal, 20000, child).catch((e: Error) => { throw new Error(`${e.message}\n${out}`); });
  const liveHeap = () => new Promise<number>((resolve, reject) => {
    if (!probe) { reject(new Error(`router ${spec.id} was started without heapProbe`)); return; }
    const timer = setTimeout(() => { child.off('message', onMessage); reject(new Error(`router ${spec.id} did not report its heap`)); }, 10000);
    const onMessage = (m: { heapUsed?: number }) => {
      if (typeof m?.heapUsed !== 'number') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m.heapUsed);
    };
    child.on('message', onMessage);
    child.send('heap');
  });
  return { id: spec.id, port: spec.normal, child, output: () => out, stderr: () => err, kill: (sig) => stopChild(child, sig), liveHeap };
}

export interface JsonLine { event: string; [k: string]: unknown }

type OsloRole = 'server' | 'client' | 'notifier' | 'listener';
interface OsloOptions { topic?: string; server?: string; sendTimeout?: number; namespace?: string }

/** A real oslo.messaging process (server, client, notifier, listener). */
export class OsloProc {
  readonly lines: JsonLine[] = [];
  private waiters: { pred: (l: JsonLine) => boolean; resolve: (l: JsonLine) => void }[] = [];
  stderr = '';
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let obj: JsonLine;
      try { obj = JSON.parse(line) as JsonLine; } catch { return; }
      this.lines.push(obj);
      this.waiters = this.waiters.filter((w) => { if (w.pred(obj)) { w.resolve(obj); return false; } return true; });
    });
    child.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-20000); });
  }

  static async start(t: Cleanup, role: OsloRole, url: string, opts: OsloOptions = {}): Promise<OsloProc> {
    const args = [OSLO_HELPER, role, '--url', url, '--topic', opts.topic ?? 'hmlab-test', '--server', opts.server ?? 'server-1',
      '--send-timeout', String(opts.sendTimeout ?? 5)];
    // In a region's namespace, for the multi-region tests: it reaches only that region.
    const [cmd, argv] = opts.namespace ? wrapInNamespace(opts.namespace, PYTHON, args) : [PYTHON, args];
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const p = new OsloProc(child);
    t.after(() => stopChild(child));
    await p.waitFor((l) => l.event === 'ready', 20000, `${role} ready`);
    return p;
  }

  waitFor(pred: (l: JsonLine) => boolean, timeoutMs: number, what: string): Promise<JsonLine> {
    const hit = this.lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr tail:\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = (l: JsonLine) => { clearTimeout(timer); res(l); };
      this.waiters.push({ pred, resolve: done });
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** Send one command and wait for its result line. */
  async op(cmd: Record<string, unknown> & { id: string | number }, timeoutMs = 30000): Promise<JsonLine> {
    this.send(cmd);
    return this.waitFor((l) => l.event === 'result' && l.id === cmd.id, timeoutMs, `result of ${JSON.stringify(cmd)}`);
  }

  handled(pred: (l: JsonLine) => boolean = () => true): JsonLine[] {
    return this.lines.filter((l) => l.event === 'handled' && pred(l));
  }

  stop(): Promise<void> { return stopChild(this.child, 'SIGKILL'); }
}

/** Cleanups for a describe block's shared processes, run in reverse order by its after(). */
export function cleanupScope() {
  const fns: (() => unknown)[] = [];
  return { after(fn: () => unknown) { fns.push(fn); }, async run() { for (const fn of fns.reverse()) { try { await fn(); } catch { /* keep cleaning */ } } } };
}

/** Resident memory of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until fn returns a truthy value, or fail naming what was awaited. */
type Falsy<T> = T | null | undefined | false;
export async function eventually<T>(fn: () => Promise<Falsy<T>> | Falsy<T>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export type { TestContext };
