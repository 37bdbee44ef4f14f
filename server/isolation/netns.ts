// Network namespaces the lab makes for itself: a workshop seat or a region
// gets one with only a loopback, so its processes bind the ordinary lab ports
// and nothing outside can reach them except through a Unix socket we place.
// Every namespace is named with NETNS_PREFIX, so leftovers are recognisable
// and `removeNamespace` can clean up after a crash.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NETNS_PREFIX = 'hmlab-';
const NAME = /^hmlab-[a-z0-9][a-z0-9-]{0,30}$/;

/** Whether this process may create namespaces, and if not, why (said to the user as is). */
export function isolationAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'network namespaces exist only on Linux' };
  if (process.getuid?.() !== 0) return { ok: false, why: 'creating network namespaces, users and cgroups needs root (run as root or with sudo)' };
  return { ok: true };
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`namespace name "${name}" must match ${NAME.source}`);
}

/** Who a wrapped command runs as inside the namespace (default: the caller). */
export interface RunAs {
  uid: number;
  gid: number;
}

/**
 * The command line that runs `cmd args` inside the namespace, optionally as
 * another user. `ip netns exec` and `setpriv` both exec in place, so the pid
 * a spawn returns is the pid of `cmd` itself: signals and liveness checks by
 * pid keep working.
 */
export function wrapInNamespace(name: string, cmd: string, args: string[], as?: RunAs): [string, string[]] {
  checkName(name);
  const inner = as ? ['setpriv', `--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', '--', cmd, ...args] : [cmd, ...args];
  return ['ip', ['netns', 'exec', name, ...inner]];
}

/** Names of the namespaces this project made that still exist. */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

/** Pids of every process whose network namespace is `name`. */
export async function namespacePids(name: string): Promise<number[]> {
  checkName(name);
  try {
    const { stdout } = await run('ip', ['netns', 'pids', name]);
    return stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Creates the namespace (or reuses it when it exists) with its loopback up. */
export async function createNamespace(name: string): Promise<void> {
  checkName(name);
  const why = isolationAvailable();
  if (!why.ok) throw new Error(`cannot create network namespace ${name}: ${why.why}`);
  if (!(await listNamespaces()).includes(name)) await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/**
 * Kills every process left in the namespace (SIGTERM, then SIGKILL after
 * `graceMs`) and deletes it. Safe to call for a namespace that is gone.
 */
export async function removeNamespace(name: string, graceMs = 2000): Promise<void> {
  checkName(name);
  if (!(await listNamespaces()).includes(name)) return;
  const signalAll = async (sig: NodeJS.Signals): Promise<number> => {
    const pids = await namespacePids(name);
    for (const pid of pids) {
      try { process.kill(pid, sig); } catch { /* already gone */ }
    }
    return pids.length;
  };
  if ((await signalAll('SIGTERM')) > 0) {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (await namespacePids(name)).length > 0) await new Promise((r) => setTimeout(r, 100));
    await signalAll('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
  await run('ip', ['netns', 'delete', name]).catch(() => undefined);
}
