// Workshop seats are isolated by the kernel: two seats run the hybrid lab
// with traffic; from seat A's terminal (a real pty through the workshop's
// WebSocket proxy) every attempt on seat B or on the host dashboard fails,
// A's seat cookie opens neither B's URLs nor /host, and a fork bomb and a
// memory hog in A stay within A's limits while B keeps working. The seat's
// backends run at a lower priority than its server and terminals.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeName, sessionNice } from '../../server/backends/index.js';
import { WORKSHOP_SERVER_NICE } from '../../server/workshop/index.js';
import { cgroupLimits, cgroupUsage } from '../../server/isolation/index.js';
import { waitFor } from '../helpers/lab-env.js';
import {
  api, isolationSkip, joinSeat, leftovers, startTestWorkshop, terminal, upgradeStatus, waitSeatLab, type SeatTerminal, type TestWorkshop,
} from '../helpers/workshop.js';

const MEMORY_MIB = 1024;
const MAX_PIDS = 400;

describe('workshop seats: isolation and limits', { skip: isolationSkip }, () => {
  let w: TestWorkshop;
  let base = '';
  const seat = { a: { cookie: '', n: 0 }, b: { cookie: '', n: 0 } };
  let termA: SeatTerminal;
  let termB: SeatTerminal;
  // This process is the workshop server; under autogroup its session's nice is what counts.
  const sessionNiceBefore = sessionNice('self');

  before(async () => {
    w = await startTestWorkshop({ seats: 2, topology: 'hybrid', memoryMiB: MEMORY_MIB, maxPids: MAX_PIDS, trafficRate: 2 });
    base = w.server.url;
    for (const k of ['a', 'b'] as const) {
      const j = await joinSeat(base, w.code, `attendee ${k}`);
      assert.equal(j.status, 303, `join ${k}: ${j.body}`);
      seat[k].cookie = j.cookie;
      seat[k].n = (await api(base, j.cookie, '/workshop/me')).json.seat;
    }
    await Promise.all([waitSeatLab(base, seat.a.cookie), waitSeatLab(base, seat.b.cookie)]);
    termA = await terminal(base, seat.a.cookie, 'main');
    termB = await terminal(base, seat.b.cookie, 'main');
  });

  after(async () => {
    termA?.close();
    termB?.close();
    if (w) {
      await w.cleanup();
      assert.deepEqual(await leftovers(w.prefix), [], 'every user and namespace the test made is removed');
      assert.equal(sessionNice('self'), sessionNiceBefore, 'the workshop server gives its session its priority back when it closes');
    }
  });

  it('gives two browsers two seats, keeps a seat on reload, and says when the workshop is full', async () => {
    assert.notEqual(seat.a.n, seat.b.n);
    const again = await fetch(`${base}/join/${w.code}`, { redirect: 'manual', headers: { cookie: seat.a.cookie } });
    assert.equal(again.status, 302, 'a reload of the join link keeps the seat');
    assert.equal((await api(base, seat.a.cookie, '/workshop/me')).json.seat, seat.a.n);
    const third = await joinSeat(base, w.code, 'latecomer');
    assert.equal(third.status, 503);
    assert.match(third.body, /Workshop full/);
  });

  /** Throws unless seat A's backends run at nice 10 (and their sessions, where the kernel schedules by session), its server and shells at 0. */
  const checkNice = () => {
    const niceOf = (statFile: string) => {
      const stat = readFileSync(statFile, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19: nice
    };
    // Nice is per thread: the Erlang schedulers and the services' threads count, not only the main one.
    const nice = (pid: number) => {
      const values = new Set<number>();
      for (const t of readdirSync(`/proc/${pid}/task`)) { try { values.add(niceOf(`/proc/${pid}/task/${t}/stat`)); } catch { /* thread gone */ } }
      return values.size === 1 ? [...values][0] : `threads at ${[...values].join(' and ')}`;
    };
    // Under autogroup a session's own nice is what counts against other sessions.
    const seen = { backends: 0, interactive: 0 };
    for (const pid of w.seats.usage(seat.a.n)!.processes) {
      let cmd = '';
      try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { continue; }
      const backend = /beam\.smp| router -c |qdrouterd|hmlab_openstack/.test(cmd);
      const interactive = / serve --socket |^bash /.test(cmd);
      if (!backend && !interactive) continue;
      const want = backend ? 10 : 0;
      assert.equal(nice(pid), want, `${cmd.slice(0, 80)}: nice of every thread`);
      const sn = sessionNice(pid);
      if (sn !== null) assert.equal(sn, want, `${cmd.slice(0, 80)}: its session's nice`);
      seen[backend ? 'backends' : 'interactive']++;
    }
    assert.ok(seen.backends >= 6, `the hybrid lab's broker, router and four services were found (${seen.backends})`);
    assert.ok(seen.interactive >= 2, `the seat server and a terminal's shell were found (${seen.interactive})`);
    return true;
  };

  it('runs the seat\'s broker, routers and services at nice 10 once up, its server and terminals at 0, the workshop server at -5, '
    + 'so typing stays quick on a busy machine',
    async () => {
    // A session's nice is written in the background: unprivileged, the kernel takes one such write a tenth of a second.
    await waitFor('every backend session at nice 10', checkNice, 30_000, 500);
    // Every keystroke crosses the workshop server: it goes before the seats' servers and labs.
    if (sessionNiceBefore !== null) assert.equal(sessionNice('self'), WORKSHOP_SERVER_NICE, 'the workshop server\'s session nice');
  });

  it('lets nothing in seat A reach seat B or the host dashboard (0 attempts succeed)', async () => {
    const port = new URL(base).port;
    const homeB = w.seats.homeOf(seat.b.n);
    const pidsB = w.seats.usage(seat.b.n)!.processes;
    assert.ok(pidsB.length >= 6, 'seat B runs its server and its lab');
    const attempts: { what: string; succeeded: boolean }[] = [];
    // Each shell attempt prints its exit status as RES-<id>-<status> (the typed line shows "$?", not a number).
    const shell = async (id: string, what: string, cmd: string) => {
      const out = await termA.run(`${cmd}; echo RES-${id}-$?`, new RegExp(`RES-${id}-(\\d+)`), 20_000);
      attempts.push({ what, succeeded: new RegExp(`RES-${id}-(\\d+)`).exec(out)![1] === '0' });
    };
    await shell('ls', `list seat B's home ${homeB}`, `ls ${homeB} >/dev/null 2>&1`);
    await shell('cat', 'read seat B\'s server token', `cat ${homeB}/lab/server/token >/dev/null 2>&1`);
    await shell('sock', 'talk to seat B\'s server socket', `curl -s -m 3 --unix-socket ${homeB}/seat.sock http://seat/api/status >/dev/null 2>&1`);
    for (const pid of pidsB.slice(0, 4)) await shell(`kill${pid}`, `signal seat B's process ${pid}`, `kill -TERM ${pid} 2>/dev/null`);
    await shell('host', 'reach the host dashboard port', `curl -s -m 3 -o /dev/null http://127.0.0.1:${port}/host 2>/dev/null`);
    // The broker and router ports answer, but they are A's own: B's node is not reachable by any address.
    const nodeB = nodeName(w.seats.labHomeOf(seat.b.n));
    const overview = await termA.run(
      'curl -s -m 5 -u guest:guest http://127.0.0.1:15801/api/overview | grep -o \'"node":"[^"]*"\'; echo DONE-$((1+1))', /DONE-2/, 20_000);
    assert.match(overview, /"node":"hmlab-/, 'seat A reaches its own broker');
    attempts.push({ what: `reach seat B's broker ${nodeB}`, succeeded: overview.includes(nodeB) });

    // Over HTTP: A's cookie on B's URLs and on the host's.
    for (const path of [`/seats/${seat.b.n}/api/status`, `/seats/${seat.b.n}/api/labs`, '/host', '/host/api/room']) {
      const r = await api(base, seat.a.cookie, path);
      assert.equal(r.status, 403, `${path} with seat A's cookie`);
      attempts.push({ what: `GET ${path} with A's cookie`, succeeded: r.status < 400 });
    }
    const post = await api(base, seat.a.cookie, `/host/api/seats/${seat.b.n}/free`, { method: 'POST', body: {} });
    assert.equal(post.status, 403);
    attempts.push({ what: 'free seat B with A\'s cookie', succeeded: post.status < 400 });
    const ws = await upgradeStatus(`${base.replace('http', 'ws')}/seats/${seat.b.n}/api/terminals/main`, { cookie: seat.a.cookie, origin: base });
    assert.equal(ws, 403);
    attempts.push({ what: 'open seat B\'s terminal with A\'s cookie', succeeded: (ws as number) === 101 });
    const foreign = await fetch(`${base}/host/api/all/traffic`, {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1:1', 'content-type': 'application/json', authorization: `Bearer ${w.server.store.hostToken}` },
      body: '{"rate":0}',
    });
    assert.equal(foreign.status, 403, 'a state-changing request from another origin is refused even with the host token');
    attempts.push({ what: 'host action from a foreign origin', succeeded: foreign.status < 400 });

    const ok = attempts.filter((a) => a.succeeded);
    console.log(`isolation: ${attempts.length} attempts from seat A, ${ok.length} succeeded`);
    assert.deepEqual(ok.map((a) => a.what), [], 'no attempt on another seat or the host succeeds');
    // Seat B never noticed.
    assert.ok(w.seats.usage(seat.b.n)!.processes.length >= pidsB.length - 1);
    assert.equal((await api(base, seat.b.cookie, '/api/status')).json.components.every((c: { state: string }) => c.state === 'running'), true);
  });

  it('keeps a fork bomb and a memory hog inside seat A while seat B answers', async () => {
    const cgA = w.seats.cgroupOf(seat.a.n)!;
    assert.equal(cgroupLimits(cgA).maxPids, MAX_PIDS);
    assert.equal(cgroupLimits(cgA).memoryBytes, MEMORY_MIB * 1024 * 1024);
    const checkB = async () => {
      const t0 = Date.now();
      const r = await api(base, seat.b.cookie, '/api/labs/02-split-transports/checks/router-running', { method: 'POST', body: {} });
      return { ok: r.status === 200 && r.json.pass === true, ms: Date.now() - t0 };
    };

    // Fork bomb: far more processes than the limit, forked as fast as the kernel lets them, each living 15 s.
    const userA = w.seats.userOf(seat.a.n)!;
    const bomb = join(userA.tmpdir, 'bomb.py');
    writeFileSync(bomb, [
      'import os, time',
      'made = refused = 0',
      'for i in range(1500):',
      '    try:',
      '        pid = os.fork()',
      '    except OSError:',
      '        refused += 1',
      '        continue',
      '    if pid == 0:',
      '        time.sleep(15)',
      '        os._exit(0)',
      '    made += 1',
      'print("BOMB", made, "forked", refused, "refused")',
    ].join('\n') + '\n');
    chownSync(bomb, userA.uid, userA.gid);
    const hitsBefore = cgroupUsage(cgA).pidsLimitHits;
    const bombOut = termA.run(`/usr/bin/python3 ${bomb}`, /BOMB \d+ forked \d+ refused/, 120_000);
    await waitFor('seat A at its process limit', () => cgroupUsage(cgA).pidsLimitHits > hitsBefore, 60_000, 200);
    let peak = 0;
    for (let i = 0; i < 10; i++) { peak = Math.max(peak, cgroupUsage(cgA).pids); await new Promise((r) => setTimeout(r, 200)); }
    assert.ok(peak <= MAX_PIDS, `seat A holds at most ${MAX_PIDS} processes (peak ${peak})`);
    const echoB = await termB.run('echo B-$((6*7))', /B-42/, 20_000);
    assert.match(echoB, /B-42/, 'seat B\'s terminal answers during A\'s fork bomb');
    const c1 = await checkB();
    assert.ok(c1.ok, 'seat B\'s check passes during A\'s fork bomb');
    const said = /BOMB (\d+) forked (\d+) refused/.exec(await bombOut)!;
    assert.ok(Number(said[2]) > 0, 'the kernel refused forks beyond the limit');
    console.log(`fork bomb: 1500 forks in seat A, ${said[1]} made and ${said[2]} refused, peak ${peak} of ${MAX_PIDS} processes; ` +
      `seat B's check answered in ${c1.ms} ms`);
    await waitFor('seat A\'s processes back under the limit', () => cgroupUsage(cgA).pids < MAX_PIDS / 2, 60_000, 500);

    // Memory hog: allocates until the kernel stops it at A's limit.
    const memHits = cgroupUsage(cgA).memoryLimitHits;
    const hog = await termA.run(
      '/usr/bin/python3 -c "import itertools; b = [bytearray(16 << 20) for _ in itertools.count()]"; echo HOG:exit=$?', /HOG:exit=\d+/, 120_000);
    assert.match(hog, /HOG:exit=(137|1)\b/, 'the hog is killed (or fails to allocate) at the limit');
    const afterHog = cgroupUsage(cgA);
    assert.ok(afterHog.memoryLimitHits > memHits || afterHog.memoryPeakBytes >= 0.95 * MEMORY_MIB * 1024 * 1024,
      `seat A reached its memory limit (limit hits ${memHits} -> ${afterHog.memoryLimitHits}, peak ${Math.round(afterHog.memoryPeakBytes / 1048576)} MiB)`);
    assert.ok(afterHog.memoryPeakBytes <= MEMORY_MIB * 1024 * 1024, 'and never went past it');
    assert.ok(cgroupUsage(cgA).memoryBytes <= MEMORY_MIB * 1024 * 1024);
    const c2 = await checkB();
    assert.ok(c2.ok, 'seat B\'s check passes after A\'s memory hog');
    assert.match(await termB.run('echo B-$((7*6))', /B-42/, 20_000), /B-42/);
    const mib = (bytes: number) => Math.round(bytes / 1048576);
    console.log(`memory hog: ${hog.match(/HOG:exit=\d+/)![0]}, seat A peaked at ${mib(afterHog.memoryPeakBytes)} MiB, ` +
      `now ${mib(cgroupUsage(cgA).memoryBytes)} MiB of ${MEMORY_MIB}; seat B's check answered in ${c2.ms} ms`);
  });
});
