// Killing the workshop server (SIGKILL, no chance to clean up) leaves no
// seat process behind; started again, it brings back the seats that had
// attendees, with their progress; `hmlab workshop destroy` removes the rest.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../server/backends/index.js';
import { listNamespaces, lookupUser, userPids } from '../../server/isolation/index.js';
import { ROOT, waitFor } from '../helpers/lab-env.js';
import { api, isolationSkip, joinSeat, leftovers, waitSeatLab } from '../helpers/workshop.js';

const HMLAB = join(ROOT, 'bin', 'hmlab.js');

function serve(args: string[]): { child: ChildProcess; urls: Promise<{ join: string; host: string }> } {
  const child = spawn(process.execPath, [HMLAB, 'workshop', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { child, urls };
}

const exited = (c: ChildProcess) => new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(null); else c.once('exit', r); });

describe('workshop server restarts', { skip: isolationSkip }, () => {
  it('leaves no seat process when killed, and brings the seat back with its progress', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hmws-'));
    const name = `t${randomBytes(3).toString('hex')}`;
    const prefix = `hmlab-${name}-`;
    const port = await freePort();
    const args = ['--seats', '1', '--topology', 'broker-only', '--name', name, '--dir', dir, '--port', String(port), '--traffic-rate', '2'];
    let current: ChildProcess | null = null;
    t.after(async () => {
      if (current && current.exitCode === null) { current.kill('SIGTERM'); await exited(current); }
      const d = spawn(process.execPath, [HMLAB, 'workshop', 'destroy', '--dir', dir, '--name', name], { stdio: 'ignore' });
      await exited(d);
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(await leftovers(prefix), [], 'destroy removes the seat\'s user and namespace');
    });

    const first = serve(args);
    current = first.child;
    const urls = await first.urls;
    const base = new URL(urls.join).origin;
    const code = urls.join.split('/').pop()!;
    const seat = await joinSeat(base, code, 'restart');
    assert.equal(seat.status, 303);
    await waitSeatLab(base, seat.cookie);
    // Progress the attendee made: a step and a passed check.
    assert.equal((await api(base, seat.cookie, '/api/labs/01-one-broker/progress', { method: 'POST', body: { step: 2 } })).status, 200);
    // Lab 1 starts down: the lab the seat came with is not the attendee's work,
    // so having opened the lab, they bring it down and up.
    assert.equal((await api(base, seat.cookie, '/api/labs/01-one-broker')).status, 200);
    assert.equal((await api(base, seat.cookie, '/api/lab/down', { method: 'POST', body: { wait: true } })).status, 200);
    const up = await api(base, seat.cookie, '/api/lab/up', { method: 'POST', body: { topology: 'broker-only', wait: true } });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    const check = await api(base, seat.cookie, '/api/labs/01-one-broker/checks/broker-running', { method: 'POST', body: {} });
    assert.equal(check.json.pass, true, check.json.hint);

    const user = lookupUser(`${prefix}01`)!;
    const before = userPids(user.uid);
    assert.ok(before.length >= 6, `the seat runs its server and lab (${before.length} processes)`);
    first.child.kill('SIGKILL');
    await exited(first.child);
    await waitFor('every seat process ended', () => userPids(user.uid).length === 0, 30_000, 200);
    // The reaper removes the namespace right after the last process ends.
    await waitFor('the seat\'s namespace is gone', async () => !(await listNamespaces()).includes(`${prefix}01`), 10_000, 200);
    console.log(`workshop server killed: ${before.length} seat processes ended by the reaper, namespace removed`);

    const second = serve(args);
    current = second.child;
    await second.urls;
    await waitSeatLab(base, seat.cookie); // the same cookie: same port, same seat
    const progress = await api(base, seat.cookie, '/api/labs/01-one-broker/progress');
    assert.equal(progress.json.step, 2, 'the step survives');
    assert.equal(progress.json.checks['broker-running']?.pass, true, 'the passed check survives');

    second.child.kill('SIGTERM');
    await exited(second.child);
    assert.equal(userPids(user.uid).length, 0, 'a stopped workshop server leaves no seat process');
  });
});
