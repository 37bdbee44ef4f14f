// Resource limits for a seat (or a region): a memory limit and a process
// count limit, enforced by the kernel's cgroups, so a memory hog or a fork
// bomb stays inside its seat. cgroup v1 `memory` and `pids` hierarchies are
// used where they are mounted, the v2 unified hierarchy where that is what
// exists. Our cgroups are made below the caller's own cgroup, so they also
// stay inside whatever limits the caller itself runs under.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolationAvailable } from './netns.js';

const ROOT = '/sys/fs/cgroup';
const NAME = /^hmlab-[a-z0-9][a-z0-9-]{0,40}$/;

export interface CgroupLimits {
  /** Bytes of memory (resident, and swap with it where the kernel counts it). */
  memoryBytes: number;
  /** Processes and threads at once. */
  maxPids: number;
}

export interface Cgroup {
  name: string;
  version: 1 | 2;
  /** v1: the memory and pids directories; v2: the one directory. */
  memoryDir: string;
  pidsDir: string;
}

export interface CgroupUsage {
  memoryBytes: number;
  /** The most memory the cgroup has held (v1 max_usage_in_bytes, v2 memory.peak where the kernel has it). */
  memoryPeakBytes: number;
  pids: number;
  /** Times an allocation hit the memory limit (v1 failcnt of memory and memory+swap, v2 memory.events max). */
  memoryLimitHits: number;
  /** Times a fork was refused by the pids limit. */
  pidsLimitHits: number;
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`cgroup name "${name}" must match ${NAME.source}`);
}

/** The caller's own path in a v1 controller's hierarchy (or in v2, controller ''). */
function ownPath(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    if (controller === '' ? ctrls === '' : ctrls.split(',').includes(controller)) return path;
  }
  return '/';
}

function layout(name: string): Cgroup {
  if (existsSync(join(ROOT, 'memory', 'memory.limit_in_bytes')) && existsSync(join(ROOT, 'pids'))) {
    return { name, version: 1, memoryDir: join(ROOT, 'memory', ownPath('memory'), name), pidsDir: join(ROOT, 'pids', ownPath('pids'), name) };
  }
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const dir = join(ROOT, ownPath(''), name);
    return { name, version: 2, memoryDir: dir, pidsDir: dir };
  }
  throw new Error('no cgroup memory and pids controllers are mounted under /sys/fs/cgroup (v1 memory+pids, or v2)');
}

const write = (dir: string, file: string, value: string) => writeFileSync(join(dir, file), value);
const readNum = (dir: string, file: string): number => {
  try { return Number(readFileSync(join(dir, file), 'utf8').trim()) || 0; } catch { return 0; }
};
const readKey = (dir: string, file: string, key: string): number => {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(join(dir, file), 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
};

/** Creates (or reuses) the cgroup with these limits. */
export function createCgroup(name: string, limits: CgroupLimits): Cgroup {
  checkName(name);
  const why = isolationAvailable();
  if (!why.ok) throw new Error(`cannot create cgroup ${name}: ${why.why}`);
  const cg = layout(name);
  if (cg.version === 1) {
    mkdirSync(cg.memoryDir, { recursive: true });
    mkdirSync(cg.pidsDir, { recursive: true });
    write(cg.memoryDir, 'memory.limit_in_bytes', String(limits.memoryBytes));
    // With swap accounting on, the limit covers swap too, so a hog cannot page out around it.
    if (existsSync(join(cg.memoryDir, 'memory.memsw.limit_in_bytes'))) {
      try { write(cg.memoryDir, 'memory.memsw.limit_in_bytes', String(limits.memoryBytes)); } catch { /* swap accounting off */ }
    }
    write(cg.pidsDir, 'pids.max', String(limits.maxPids));
  } else {
    const parent = join(cg.memoryDir, '..');
    try { write(parent, 'cgroup.subtree_control', '+memory +pids'); } catch { /* already enabled, or refused: the limit files below say */ }
    mkdirSync(cg.memoryDir, { recursive: true });
    write(cg.memoryDir, 'memory.max', String(limits.memoryBytes));
    try { write(cg.memoryDir, 'memory.swap.max', '0'); } catch { /* no swap controller */ }
    write(cg.pidsDir, 'pids.max', String(limits.maxPids));
  }
  return cg;
}

/** Whether the cgroup exists (a restarted workshop server finds its seats' cgroups). */
export function cgroupExists(name: string): boolean {
  checkName(name);
  const cg = layout(name);
  return existsSync(cg.memoryDir) && existsSync(cg.pidsDir);
}

/** Moves a running process (and its future children) into the cgroup. */
export function addToCgroup(cg: Cgroup, pid: number): void {
  write(cg.memoryDir, 'cgroup.procs', String(pid));
  if (cg.pidsDir !== cg.memoryDir) write(cg.pidsDir, 'cgroup.procs', String(pid));
}

/**
 * The command line that runs `cmd args` inside the cgroup from its first
 * instruction: a shell puts itself in and execs the command, so the pid a
 * spawn returns is the command's and nothing it forks escapes the limits.
 */
export function wrapInCgroup(cg: Cgroup, cmd: string, args: string[]): [string, string[]] {
  const files = [...new Set([cg.memoryDir, cg.pidsDir])].map((d) => join(d, 'cgroup.procs'));
  const script = 'for f in $HMLAB_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset HMLAB_CGROUP_PROCS; exec "$@"';
  return ['env', [`HMLAB_CGROUP_PROCS=${files.join(' ')}`, 'sh', '-c', script, 'hmlab-cgroup', cmd, ...args]];
}

/** Pids in the cgroup now. */
export function cgroupPids(cg: Cgroup): number[] {
  const pids = new Set<number>();
  for (const d of new Set([cg.memoryDir, cg.pidsDir])) {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch { /* gone */ }
  }
  return [...pids];
}

export function cgroupUsage(cg: Cgroup): CgroupUsage {
  if (cg.version === 1) {
    return {
      memoryBytes: readNum(cg.memoryDir, 'memory.usage_in_bytes'),
      memoryPeakBytes: readNum(cg.memoryDir, 'memory.max_usage_in_bytes'),
      pids: readNum(cg.pidsDir, 'pids.current'),
      // With memory+swap limited to the same figure, the memsw counter is the one that trips.
      memoryLimitHits: readNum(cg.memoryDir, 'memory.failcnt') + readNum(cg.memoryDir, 'memory.memsw.failcnt'),
      pidsLimitHits: readKey(cg.pidsDir, 'pids.events', 'max'),
    };
  }
  return {
    memoryBytes: readNum(cg.memoryDir, 'memory.current'),
    memoryPeakBytes: readNum(cg.memoryDir, 'memory.peak'),
    pids: readNum(cg.pidsDir, 'pids.current'),
    memoryLimitHits: readKey(cg.memoryDir, 'memory.events', 'max'),
    pidsLimitHits: readKey(cg.pidsDir, 'pids.events', 'max'),
  };
}

/** The limits the kernel holds for the cgroup (what a test or the dashboard shows). */
export function cgroupLimits(cg: Cgroup): CgroupLimits {
  return {
    memoryBytes: readNum(cg.memoryDir, cg.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
    maxPids: readNum(cg.pidsDir, 'pids.max'),
  };
}

/** Kills every process left in the cgroup (SIGKILL, by pid) and removes it. Safe when it is gone. */
export async function removeCgroup(cg: Cgroup, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(cg);
    if (!pids.length) break;
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (Date.now() > deadline) throw new Error(`cgroup ${cg.name} still has processes ${pids.join(', ')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const d of new Set([cg.memoryDir, cg.pidsDir])) {
    for (let i = 0; existsSync(d); i++) {
      try { rmdirSync(d); } catch (err) {
        if (i > 40) throw err; // the kernel frees a cgroup a moment after its last process exits
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/** The cgroup of this name, for removal after a crash (it may or may not exist). */
export function cgroupOf(name: string): Cgroup {
  checkName(name);
  return layout(name);
}
