// Helpers for tests that bring up real lab environments: temp homes, free
// port blocks, the hmlab CLI run from source, and waiting on what a user
// would watch (status, event files).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabStatus, ServiceEvent } from '../../common/wire.js';
import { findFreePortBlock, openLab, processesOfHome, type LabEnvironment } from '../../server/backends/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'server', 'cli', 'main.ts');

export interface TempLab {
  home: string;
  basePort: number;
  lab: LabEnvironment;
  /** Stops every process of the home and removes it. */
  cleanup(): Promise<void>;
}

export async function tempLab(prefix = 'hmlab-lab-'): Promise<TempLab> {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const basePort = await findFreePortBlock();
  const lab = openLab(home);
  return {
    home,
    basePort,
    lab,
    async cleanup() {
      try { await lab.down(); } catch { /* kill below */ }
      for (const p of processesOfHome(home)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `hmlab ARGS` from source (no build needed for the lab commands). */
export function hmlab(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`hmlab ${args.join(' ')} timed out\n${stdout}\n${stderr}`)); }, timeoutMs);
    p.on('exit', (code) => { clearTimeout(t); resolvePromise({ code, stdout, stderr }); });
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function readEvents(home: string, service: string): ServiceEvent[] {
  try {
    return readFileSync(join(home, 'events', `${service}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ServiceEvent);
  } catch {
    return [];
  }
}

/** Waits until the conductor completed `n` more calls than now; returns the status then. */
export async function moreCalls(lab: LabEnvironment, n: number, timeoutMs = 30_000): Promise<LabStatus> {
  const before = (await lab.status()).traffic.rpcCalls.ok;
  return waitFor(`${n} more RPC calls`, async () => {
    const st = await lab.status();
    return st.traffic.rpcCalls.ok >= before + n ? st : null;
  }, timeoutMs);
}

export function component(st: LabStatus, name: string) {
  const c = st.components.find((x) => x.name === name);
  if (!c) throw new Error(`no component ${name} in status`);
  return c;
}
