// A small watchdog beside the workshop server: it holds a pipe from the
// server, and when the pipe closes without a goodbye (the server was
// killed, even by SIGKILL) it kills every process left in the seats'
// cgroups, by pid, and deletes their namespaces, so no seat outlives its
// server. A restarted server starts those seats again from their homes.
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `'use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
let targets = { cgroupDirs: [], namespaces: [] };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    try { targets = JSON.parse(line); } catch (e) { /* keep the last good list */ }
  }
});
process.stdin.on('end', () => {
  const deadline = Date.now() + 10000;
  for (;;) {
    let left = 0;
    for (const d of targets.cgroupDirs) {
      let pids = [];
      try { pids = fs.readFileSync(d + '/cgroup.procs', 'utf8').split('\\n').filter(Boolean).map(Number); } catch (e) { continue; }
      for (const p of pids) { try { process.kill(p, 'SIGKILL'); left++; } catch (e) { /* gone */ } }
    }
    if (!left || Date.now() > deadline) break;
    execFileSync('sleep', ['0.1']);
  }
  for (const d of targets.cgroupDirs) {
    for (let i = 0; i < 20; i++) {
      try { fs.rmdirSync(d); break; } catch (e) { if (e.code === 'ENOENT') break; execFileSync('sleep', ['0.1']); }
    }
  }
  for (const n of targets.namespaces) { try { execFileSync('ip', ['netns', 'delete', n], { stdio: 'ignore' }); } catch (e) { /* gone */ } }
  process.exit(0);
});
`;

export interface ReaperTargets { cgroupDirs: string[]; namespaces: string[] }

export class Reaper {
  private child: ChildProcess;

  constructor() {
    // Its own process group: a Ctrl-C meant for the server does not reach it first.
    this.child = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.child.unref();
    this.child.stdin!.on('error', () => undefined);
  }

  get pid(): number | undefined { return this.child.pid; }

  /** What to clean if the server dies now. */
  watch(t: ReaperTargets): void {
    this.child.stdin!.write(JSON.stringify(t) + '\n');
  }

  /** The server stopped its seats itself: nothing left to clean. */
  dismiss(): void {
    this.watch({ cgroupDirs: [], namespaces: [] });
    this.child.stdin!.end();
  }
}
