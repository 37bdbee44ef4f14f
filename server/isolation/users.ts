// Unix users for workshop seats: one per seat, its home readable by nobody
// else (0700) and its own TMPDIR inside it, so a seat cannot read another's
// files or temporary files. Every user is named with USER_PREFIX, so
// leftovers are recognisable and removable after a crash.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isolationAvailable, type RunAs } from './netns.js';

const run = promisify(execFile);

export const USER_PREFIX = 'hmlab-';
// useradd allows 32 characters; keep the name a plain word.
const NAME = /^hmlab-[a-z0-9][a-z0-9-]{0,24}$/;

export interface IsolatedUser extends RunAs {
  name: string;
  home: string;
  /** The user's own TMPDIR, inside its home. */
  tmpdir: string;
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`user name "${name}" must match ${NAME.source}`);
}

/** The user as /etc/passwd has it, or null when it does not exist. */
export function lookupUser(name: string): IsolatedUser | null {
  checkName(name);
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] !== name || f.length < 7) continue;
    const home = f[5]!;
    return { name, uid: Number(f[2]), gid: Number(f[3]), home, tmpdir: join(home, 'tmp') };
  }
  return null;
}

/**
 * Creates the user (or reuses it) with its home at `home`, mode 0700, and a
 * TMPDIR of its own. The home's parent must exist.
 */
export async function createUser(name: string, home: string): Promise<IsolatedUser> {
  checkName(name);
  const why = isolationAvailable();
  if (!why.ok) throw new Error(`cannot create user ${name}: ${why.why}`);
  let u = lookupUser(name);
  if (!u) {
    await run('useradd', [
      '--home-dir', home, '--create-home', '--user-group', '--shell', '/bin/bash',
      '--comment', 'hybrid-messaging-lab workshop seat', name,
    ]);
    u = lookupUser(name);
    if (!u) throw new Error(`useradd ${name} succeeded but the user is not in /etc/passwd`);
  }
  if (!existsSync(u.home)) mkdirSync(u.home, { recursive: true });
  mkdirSync(u.tmpdir, { recursive: true });
  for (const d of [u.home, u.tmpdir]) {
    chownSync(d, u.uid, u.gid);
    chmodSync(d, 0o700);
  }
  return u;
}

/**
 * Pids of every live process running as `uid` (read from /proc, so nothing
 * is killed by name). Zombies are left out: they have ended and hold nothing
 * but their pid until their new parent (init) collects them.
 */
export function userPids(uid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (statSync(join('/proc', e)).uid !== uid) continue;
      const stat = readFileSync(join('/proc', e, 'stat'), 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push(Number(e));
    } catch { /* ended meanwhile */ }
  }
  return out;
}

/** Ends every process of the user, then deletes it and its home. Safe when it is gone. */
export async function removeUser(name: string): Promise<void> {
  const u = lookupUser(name);
  if (!u) return;
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = userPids(u.uid);
    for (const pid of pids) { try { process.kill(pid, sig); } catch { /* gone */ } }
    const deadline = Date.now() + 2000;
    while (userPids(u.uid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  await run('userdel', ['--remove', name]).catch(async () => {
    // userdel refuses while a process still runs or the mail spool is absent; the user line matters most.
    await run('userdel', [name]).catch(() => undefined);
  });
}

/** Users this project created (by prefix) that still exist. */
export function listUsers(): string[] {
  return readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')[0] ?? '').filter((n) => n.startsWith(USER_PREFIX));
}
