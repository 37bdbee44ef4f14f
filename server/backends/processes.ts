// Spawning and stopping component processes. Each component runs detached
// in its own process group, with its output appended to logs/<name>.log, so
// `hmlab up` can exit while the lab keeps running and a stop reaches the
// component's children too.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, setPriority } from 'node:os';
import { resolve } from 'node:path';

export interface Spawned {
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnDetached(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; log: string }): Spawned {
  const fd = openSync(opts.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env, cwd: opts.cwd });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
  child.unref();
  if (child.pid === undefined) {
    return { pid: -1, child, exited };
  }
  return { pid: child.pid, child, exited };
}

/**
 * Lowers the CPU priority of the session a detached process leads. Where the
 * kernel groups processes by session for scheduling (autogroup, on by
 * default), a nice value counts only inside the session: against other
 * sessions, the session's own autogroup nice is what counts. Without
 * CAP_SYS_ADMIN the kernel takes one such write a tenth of a second
 * machine-wide (EAGAIN otherwise), so a busy start retries for a while.
 */
async function niceSession(pid: number, nice: number, giveUpMs = 30_000): Promise<void> {
  const end = Date.now() + giveUpMs;
  for (;;) {
    try { writeFileSync(`/proc/${pid}/autogroup`, String(nice)); return; } catch (err) {
      // ENOENT: no autogroup here (the process's own nice applies), or the process is gone.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > end) return;
    }
    await sleep(100 + Math.random() * 100);
  }
}

/** Every thread of every process in a process group: a component leads its own, and nice is per thread on Linux. */
function threadsOfGroup(pgid: number): number[] {
  const threads: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${p}/stat`, 'utf8'); } catch { continue; }
    // After "(comm)": state, ppid, pgrp.
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue;
    try { for (const t of readdirSync(`/proc/${p}/task`)) threads.push(Number(t)); } catch { /* gone meanwhile */ }
  }
  return threads;
}

/**
 * Lowers a component's priority once it is ready: every thread of its
 * process group, then its session. It boots at normal priority, so a lab
 * starting on a busy machine comes up in seconds rather than missing its
 * ready timeout behind every running lab's traffic; raising it back later
 * would need root. Threads and children made afterwards inherit the value.
 */
export async function niceComponent(pid: number, nice: number): Promise<void> {
  for (const tid of threadsOfGroup(pid)) {
    try { setPriority(tid, nice); } catch { /* gone meanwhile */ }
  }
  await niceSession(pid, nice);
}

/**
 * Gives this process's session a higher CPU priority (its autogroup: where the
 * kernel schedules sessions against each other, that is what counts against
 * the labs' sessions) and returns how to put it back. Thread nice values stay
 * as they are, so children (seat servers, their shells) do not inherit the
 * priority. Needs root, and autogroup; without them nothing changes.
 */
export function raiseSessionPriority(nice: number): () => void {
  const was = sessionNice('self');
  if (was === null) return () => {};
  try { writeFileSync('/proc/self/autogroup', String(nice)); } catch { return () => {}; }
  return () => {
    try { writeFileSync('/proc/self/autogroup', String(was)); } catch { /* not allowed any more */ }
  };
}

/**
 * The nice value of a process's session as the scheduler uses it, or null
 * when no autogroup applies: the kernel has none, or the process is still in
 * the boot session's group, which it does not list (the file is then empty,
 * and cannot be written).
 */
export function sessionNice(pid: number | 'self'): number | null {
  try {
    const m = /nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

/** How much less than a wall second a ready timeout counts at most on a busy machine. */
const MAX_STRETCH = 8;

/**
 * A ready timeout that counts the time the machine could give: while the
 * load average is above the number of cores, a second counts for cores/load
 * (at least 1/8). A room of labs booting at once on a full machine then waits
 * longer instead of failing; a component stuck on an idle machine still
 * fails in its time.
 */
export function readyTimeout(
  timeoutMs: number, onExpire: () => void,
  machine: { load?: () => number; cores?: number } = {},
): { cancel(): void; wallMs(): number; busiest(): number | null } {
  const cores = Math.max(1, machine.cores ?? availableParallelism());
  const loadNow = machine.load ?? (() => loadavg()[0] ?? 0);
  const t0 = Date.now();
  let last = t0;
  let counted = 0;
  let busiest: number | null = null;
  const timer = setInterval(() => {
    const now = Date.now();
    const load = loadNow();
    if (load > cores) busiest = Math.max(busiest ?? 0, load);
    counted += (now - last) * Math.max(1 / MAX_STRETCH, Math.min(1, cores / Math.max(load, 0.01)));
    last = now;
    if (counted >= timeoutMs) { clearInterval(timer); onExpire(); }
  }, Math.min(1000, Math.max(10, timeoutMs / 20)));
  timer.unref?.();
  return { cancel: () => clearInterval(timer), wallMs: () => Date.now() - t0, busiest: () => busiest };
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A dead child not yet reaped by its parent is a zombie: not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/**
 * Whether pid is a live component of the lab in `home`: alive and carrying
 * the lab's mark, so a pid reused by an unrelated process (after a reboot,
 * say) is not taken for a component.
 */
export function isComponentOf(pid: number | null | undefined, home: string): boolean {
  if (!pidAlive(pid)) return false;
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return true; // cannot tell: trust the pid
  }
  return environ.split('\0').includes(`${COMPONENT_MARK}=${resolve(home)}`);
}

/** Signals the whole process group the component leads (falls back to the pid). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(25);
  }
  return !pidAlive(pid);
}

/** SIGTERM the group, then SIGKILL it if it is still there after graceMs. */
export async function stopGroup(pid: number, graceMs: number): Promise<void> {
  if (!pidAlive(pid)) { signalGroup(pid, 'SIGKILL'); return; }
  signalGroup(pid, 'SIGTERM');
  if (!(await waitExit(pid, graceMs))) {
    signalGroup(pid, 'SIGKILL');
    await waitExit(pid, 2000);
  }
  signalGroup(pid, 'SIGKILL'); // children the leader left behind
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Every component process carries this variable, naming its lab home. */
export const COMPONENT_MARK = 'HMLAB_COMPONENT_OF';

/**
 * Processes started as components of the lab in `home` (and their children),
 * found by the variable they inherit, so leftovers are found even when
 * state.json is gone. Never our own process or its ancestors, never a shell
 * that merely works in the home, and never epmd, which every Erlang node on
 * the machine shares.
 */
export function processesOfHome(home: string): { pid: number; cmdline: string }[] {
  const mark = `${COMPONENT_MARK}=${resolve(home)}`;
  const mine = ancestors(process.pid);
  const found: { pid: number; cmdline: string }[] = [];
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return found; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (mine.has(pid)) continue;
    let environ: string;
    try { environ = readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch { continue; }
    if (!environ.split('\0').includes(mark)) continue;
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { /* gone */ }
    let comm = '';
    try { comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { /* gone */ }
    if (comm === 'epmd') continue;
    if (pidAlive(pid)) found.push({ pid, cmdline });
  }
  return found;
}

function ancestors(pid: number): Set<number> {
  const out = new Set<number>([pid]);
  let p = pid;
  for (let i = 0; i < 64 && p > 1; i++) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.add(p);
    } catch { break; }
  }
  return out;
}

/** The last `n` lines of a log file ('' when there is none). */
export function tailLog(path: string, n = 15): string {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      // RabbitMQ colours its console log; keep the tail readable.
      const text = buf.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      return text.split('\n').filter((l, i, a) => l.length > 0 || i < a.length - 1).slice(-n).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}
