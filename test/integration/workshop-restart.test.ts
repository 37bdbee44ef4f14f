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
import { waitFor } from '../helpers/lab-env.js';
import { HMLAB, api, exited, isolationSkip, joinSeat, leftovers, serveWorkshop as serve, terminal, waitSeatLab, waitSeatReady } from '../helpers/workshop.js';

describe('workshop server restarts', { skip: isolationSkip }, () => {
  it('leaves no seat process when killed, and brings the seat back with its progress', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hmws-'));
    const name = `t${randomBytes(3).toString('hex')}`;
    const prefix = `hmlab-${name}-`;
    const port = await freePort();
    // No --topology: a new seat starts where lab 1 starts (nothing running).
    const args = ['--seats', '1', '--name', name, '--dir', dir, '--port', String(port), '--traffic-rate', '2'];
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
    await waitSeatReady(base, seat.cookie);
    // A new seat is at lab 1's start: nothing runs, and the workbook says so.
    const start = await api(base, seat.cookie, '/api/labs/01-one-broker/start');
    assert.equal(start.json.atStart, true, `a new seat is at lab 1's start: ${JSON.stringify(start.json)}`);
    assert.deepEqual((await api(base, seat.cookie, '/api/status')).json.components, [], 'nothing runs before step 1');
    // The attendee opens lab 1 and does step 1 in their terminal, as written, with no reset.
    const lab = await api(base, seat.cookie, '/api/labs/01-one-broker');
    const step1 = /hmlab up --topology broker-only --base-port (\d+)/.exec(JSON.stringify(lab.json.steps[0].html));
    assert.ok(step1, 'step 1 tells the attendee how to bring the lab up');
    const term = await terminal(base, seat.cookie, 'main');
    try {
      const out = await term.run(`${step1[0]}; echo up-exit-$?`, /up-exit-\d+/, 180_000);
      assert.match(out, /up-exit-0/, `step 1 brings the lab up:\n${out.slice(-2000)}`);
    } finally { term.close(); }
    const check = await api(base, seat.cookie, '/api/labs/01-one-broker/checks/broker-running', { method: 'POST', body: {} });
    assert.equal(check.json.pass, true, check.json.hint);
    await waitSeatLab(base, seat.cookie);
    // The lab the attendee typed up runs at the host's --traffic-rate, and lab 1 counts that rate as its own.
    assert.equal((await api(base, seat.cookie, '/api/status')).json.trafficRate, 2, 'hmlab up in a seat starts at the workshop\'s rate');
    const differences = (await api(base, seat.cookie, '/api/labs/01-one-broker/start')).json.differences as string[];
    assert.deepEqual(differences.filter((d) => /conductor runs at/.test(d)), [], differences.join('\n'));
    // Progress the attendee made: a step and a passed check.
    assert.equal((await api(base, seat.cookie, '/api/labs/01-one-broker/progress', { method: 'POST', body: { step: 2 } })).status, 200);

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
