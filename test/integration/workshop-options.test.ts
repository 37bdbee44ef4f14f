// The options of `hmlab workshop serve` as a host uses them: --warm keeps
// seats started ahead so a join is instant, --starts-at-once queues seats
// starting together, --idle stops a seat nobody uses
// (its progress kept, back on the attendee's next request), --tls-cert and
// --tls-key serve everything over HTTPS and WSS, a seat whose lab cannot
// come up is failed and says why, more seats than the machine holds get the
// host a warning, and without root
// --no-isolation runs a single seat as the host's own user, with a banner.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../server/backends/index.js';
import { listNamespaces, lookupUser, userPids } from '../../server/isolation/index.js';
import { waitFor } from '../helpers/lab-env.js';
import {
  HMLAB, api, exited, hmlabCommand, isolationSkip, joinSeat, leftovers, serveWorkshop, startTestWorkshop, terminal, waitSeatLab, waitSeatReady,
} from '../helpers/workshop.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** A workshop served from the CLI in a fresh folder with a unique name; stopped, destroyed and checked for leftovers after. */
async function workshop(t: TestContext, extra: string[], o: { asNobody?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hmws-'));
  if (o.asNobody) chownSync(dir, NOBODY, NOBODY);
  const name = `t${randomBytes(3).toString('hex')}`;
  const prefix = `hmlab-${name}-`;
  const port = await freePort();
  const args = ['--name', name, '--dir', dir, '--port', String(port), ...extra];
  const served = serveWorkshop(args, o.asNobody ? NOBODY : undefined);
  t.after(async () => {
    if (served.child.exitCode === null && served.child.signalCode === null) { served.child.kill('SIGTERM'); await exited(served.child); }
    if (!o.asNobody) {
      const d = spawn(process.execPath, [HMLAB, 'workshop', 'destroy', '--dir', dir, '--name', name], { stdio: 'ignore' });
      await exited(d);
    }
    rmSync(dir, { recursive: true, force: true });
    if (isRoot) assert.deepEqual(await leftovers(prefix), [], 'no seat user or namespace is left');
  });
  return { dir, name, prefix, port, served };
}

/** The CLI's exit code and output for options it must refuse. */
function refused(args: string[], asUid?: number): { code: number; output: string } {
  const [cmd, argv] = hmlabCommand(['workshop', 'serve', ...args], asUid);
  try {
    const out = execFileSync(cmd, argv, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, output: out };
  } catch (err) {
    const e = err as { status: number | null; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const hostToken = (hostUrl: string) => new URL(hostUrl).searchParams.get('token')!;
async function room(base: string, token: string) {
  const r = await fetch(`${base}/host/api/room`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return await r.json() as {
    isolated: boolean; warnings: string[]; traffic: { start: number; now: number }; labs: { id: string; title: string }[];
    seats: { seat: number; state: string; reason: string; taken: boolean }[]; log: { action: string }[];
  };
}

describe('workshop options', () => {
  it('--warm 1 keeps a free seat started, so a join lands in a ready seat at once, and warms the next one', { skip: isolationSkip }, async (t) => {
    const w = await workshop(t, ['--seats', '2', '--warm', '1']);
    const urls = await w.served.urls;
    const base = new URL(urls.join).origin;
    const token = hostToken(urls.host);
    // Before anyone joins, one seat is started and waits.
    const warm = await waitFor('a warm seat', async () => (await room(base, token)).seats.find((s) => s.state === 'ready' && !s.taken) ?? null, 120_000, 500);
    assert.equal((await room(base, token)).seats.filter((s) => s.state !== 'free').length, 1, 'exactly one seat is kept warm');
    const seat = await joinSeat(base, urls.join.split('/').pop()!, 'warm');
    assert.equal(seat.status, 303);
    const me = await api(base, seat.cookie, '/workshop/me');
    assert.equal(me.json.seat, warm.seat, 'the join takes the warm seat');
    assert.equal(me.json.state, 'ready', 'ready at once: no waiting page');
    const landing = await fetch(`${base}/workshop/seat`, { headers: { cookie: seat.cookie }, redirect: 'manual' });
    assert.equal(landing.status, 302, 'the attendee goes straight to the workbook');
    assert.equal(landing.headers.get('location'), '/labs/');
    assert.equal((await api(base, seat.cookie, '/api/status')).status, 200, 'and the seat answers');
    // The warm seat was taken: the other one is started ahead for the next attendee.
    const next = await waitFor('the next seat warm', async () =>
      (await room(base, token)).seats.find((s) => s.seat !== warm.seat && s.state === 'ready' && !s.taken) ?? null, 120_000, 500);
    assert.notEqual(next.seat, warm.seat);
  });

  it('--starts-at-once 1 starts one seat at a time: the next attendees wait, told their place in line, until the seat before is up',
    { skip: isolationSkip }, async (t) => {
    const w = await workshop(t, ['--seats', '3', '--topology', 'broker-only', '--starts-at-once', '1', '--traffic-rate', '1']);
    const urls = await w.served.urls;
    const base = new URL(urls.join).origin;
    const token = hostToken(urls.host);
    const code = urls.join.split('/').pop()!;
    const first = await joinSeat(base, code, 'first');
    const second = await joinSeat(base, code, 'second');
    const third = await joinSeat(base, code, 'third');
    const c = (await api(base, third.cookie, '/workshop/me')).json.seat as number;
    const [a, b] = [(await api(base, first.cookie, '/workshop/me')).json.seat as number, (await api(base, second.cookie, '/workshop/me')).json.seat as number];
    const seatIn = async (n: number) => (await room(base, token)).seats.find((s) => s.seat === n)!;
    const waiting = await seatIn(b);
    assert.equal(waiting.state, 'starting');
    assert.match(waiting.reason, /waiting for 1 seat\(s\) ahead of it to start/, 'the dashboard says why the seat waits');
    const page = await (await fetch(`${base}/workshop/seat`, { headers: { cookie: second.cookie } })).text();
    assert.match(page, /waiting for 1 seat\(s\) ahead of it to start/, 'so does the attendee\'s page');
    assert.equal(lookupUser(`${w.prefix}${String(b).padStart(2, '0')}`), null, 'nothing of the waiting seat runs yet');
    assert.match((await seatIn(c)).reason, /waiting for 2 seat\(s\) ahead of it to start/, 'the third in line is told so');
    // The second seat's server starts only once the first seat's lab is up.
    await waitFor('the second seat starting its server', async () => !(await seatIn(b)).reason.startsWith('waiting') || null, 180_000, 200);
    const firstLab = await api(base, first.cookie, '/api/status');
    assert.ok(firstLab.json.components.length > 0 && firstLab.json.components.every((c: { state: string }) => c.state === 'running'),
      `the first seat's lab was up before the second started: ${JSON.stringify(firstLab.json.components.map((x: { state: string }) => x.state))}`);
    assert.match((await seatIn(c)).reason, /waiting for 1 seat\(s\) ahead of it to start/, 'the count goes down as seats start');
    await waitSeatLab(base, third.cookie, 240_000);
    for (const n of [a, b, c]) assert.equal((await seatIn(n)).state, 'ready');
  });

  it('--idle stops a seat nobody uses, keeps its progress, and starts it again when its attendee comes back', { skip: isolationSkip }, async (t) => {
    // 0.1 minutes: 6 s without a request from the attendee.
    const w = await workshop(t, ['--seats', '1', '--idle', '0.1']);
    const urls = await w.served.urls;
    const base = new URL(urls.join).origin;
    const token = hostToken(urls.host);
    const seat = await joinSeat(base, urls.join.split('/').pop()!, 'idle');
    await waitSeatReady(base, seat.cookie);
    const moved = await api(base, seat.cookie, '/api/labs/01-one-broker/progress', { method: 'POST', body: { step: 1 } });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    const user = lookupUser(`${w.prefix}01`)!;
    assert.ok(userPids(user.uid).length > 0, 'the seat runs');
    const stoppedAfter = Date.now();
    await waitFor('the idle seat stopped', async () => (await room(base, token)).seats[0]!.state === 'stopped' || null, 60_000, 500);
    assert.ok(Date.now() - stoppedAfter >= 5_000, 'not before it was idle for the time given');
    await waitFor('no seat process left', () => userPids(user.uid).length === 0 || null, 30_000, 200);
    assert.ok(!(await listNamespaces()).includes(`${w.prefix}01`), 'its namespace is removed while stopped');
    assert.ok((await room(base, token)).log.some((l) => l.action === 'idle seat stopped'), 'the host\'s log says why');
    // The attendee comes back: their next request starts the seat again, with their progress.
    const back = await api(base, seat.cookie, '/api/labs/01-one-broker/progress');
    assert.equal(back.status, 200, JSON.stringify(back.json));
    assert.equal(back.json.step, 1, 'the progress survives the stop');
    assert.ok(userPids(user.uid).length > 0, 'the seat runs again');
  });

  it('a seat whose lab does not come up is failed, naming the component and why, stays so on reload, and the host can retry or reset it',
    { skip: isolationSkip }, async (t) => {
    // A broker that exits at once: the seat's server starts, its broker-only lab cannot.
    const w = await startTestWorkshop({ seats: 1, topology: 'broker-only', seatEnv: { HMLAB_RABBITMQ_SERVER: '/bin/false' } });
    t.after(async () => {
      await w.cleanup();
      assert.deepEqual(await leftovers(w.prefix), [], 'no seat user or namespace is left');
    });
    const base = w.server.url;
    const token = new URL(w.server.hostUrl).searchParams.get('token')!;
    const seat = await joinSeat(base, w.code, 'unlucky');
    assert.equal(seat.status, 303);
    const failed = await waitFor('the seat failed', async () => {
      const s = (await room(base, token)).seats[0]!;
      return s.state === 'failed' ? s : null;
    }, 180_000, 500);
    assert.match(failed.reason, /^its broker-only lab did not come up: broker failed: the broker exited \(code 1\) before it was ready/,
      'the dashboard names the lab, the component and why');
    assert.doesNotMatch(failed.reason, /\n/, 'one line on the dashboard; the log lines are in the seat\'s own backend panel');
    const page = await (await fetch(`${base}/workshop/seat`, { headers: { cookie: seat.cookie } })).text();
    assert.match(page, /Your seat could not start: its broker-only lab did not come up: broker failed/, 'the attendee is told the same');
    assert.equal((await api(base, seat.cookie, '/workshop/me')).json.state, 'failed', 'a reload does not turn the failed seat ready');
    assert.equal((await room(base, token)).seats[0]!.state, 'failed', 'nor does the dashboard\'s next reading');
    const st = await api(base, seat.cookie, '/api/status');
    assert.equal(st.status, 200, 'the seat\'s own server still answers, so its backend panel shows the lab');
    assert.ok(!st.json.components.some((c: { state: string }) => c.state === 'running'), 'nothing of the failed lab runs');
    assert.ok((await room(base, token)).log.some((l) => l.action === 'seat failed'), 'the host\'s log has it');

    // The host's "start" tries again at once, without the attendee's 30 s pause: the broker fails again.
    const host = async (path: string, body: unknown) => {
      const r = await fetch(`${base}/host/api${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, origin: base, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.equal(r.status, 202, `${path}: ${await r.text()}`);
    };
    await host('/seats/1/start', {});
    await waitFor('a second failure', async () => (await room(base, token)).log.filter((l) => l.action === 'seat failed').length >= 2 || null, 180_000, 500);
    assert.equal((await room(base, token)).seats[0]!.state, 'failed');
    // A reset to lab 1's start (the lab down) leaves nothing that can fail: the seat is ready.
    await host('/seats/1/reset', { lab: '01-one-broker', clearProgress: true });
    await waitFor('the seat ready after the host\'s reset', async () => (await room(base, token)).seats[0]!.state === 'ready' || null, 120_000, 500);
    assert.equal((await room(base, token)).seats[0]!.reason, '', 'no reason left from the failure');
  });

  it('--tls-cert/--tls-key serve the join page, the seat\'s API and its terminal over HTTPS and WSS; bad files are refused by name', async (t) => {
    const certDir = mkdtempSync(join(tmpdir(), 'hmws-tls-'));
    t.after(() => rmSync(certDir, { recursive: true, force: true }));
    const cert = join(certDir, 'cert.pem');
    const key = join(certDir, 'key.pem');
    const otherKey = join(certDir, 'other-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 60_000 });
    execFileSync('openssl', ['genrsa', '-out', otherKey, '2048'], { stdio: 'ignore', timeout: 60_000 });
    const ca = readFileSync(cert);

    let r = refused(['--seats', '1', '--no-isolation', '--tls-cert', join(certDir, 'missing.pem'), '--tls-key', key]);
    assert.equal(r.code, 2);
    assert.match(r.output, /--tls-cert: cannot read .*missing\.pem/, r.output);
    r = refused(['--seats', '1', '--no-isolation', '--tls-cert', cert, '--tls-key', otherKey]);
    assert.equal(r.code, 2);
    assert.match(r.output, /do not make a pair/, r.output);
    r = refused(['--seats', '1', '--no-isolation', '--tls-cert', cert]);
    assert.equal(r.code, 2);
    assert.match(r.output, /--tls-cert and --tls-key go together/, r.output);

    // Isolation is not what this test is about: one seat without it runs anywhere.
    const w = await workshop(t, ['--seats', '1', '--no-isolation', '--tls-cert', cert, '--tls-key', key]);
    const urls = await w.served.urls;
    assert.match(urls.join, /^https:\/\/127\.0\.0\.1:\d+\/join\//, 'the printed URLs are https');
    const base = new URL(urls.join).origin;
    const code = urls.join.split('/').pop()!;

    const tlsFetch = (path: string, o: { method?: string; headers?: Record<string, string>; body?: string; trust?: boolean } = {}) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
        const ours = o.trust === false ? undefined : ca;
        const req = httpsRequest(base + path, { method: o.method ?? 'GET', headers: o.headers, ca: ours, timeout: 30_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(o.body);
      });

    assert.equal((await tlsFetch(`/join/${code}`)).status, 200, 'the join page over HTTPS, the certificate trusted');
    await assert.rejects(tlsFetch(`/join/${code}`, { trust: false }), /self[- ]signed/i, 'a client that does not trust the certificate is refused');
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://127.0.0.1:${w.port}/join/${code}`, { timeout: 10_000 }, (res) => { res.resume(); resolve(`HTTP ${res.statusCode}`); });
      req.on('error', (e) => resolve(e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.doesNotMatch(plain, /HTTP 200/, 'plain HTTP gets no page');

    const form = { origin: base, 'content-type': 'application/x-www-form-urlencoded' };
    const joined = await tlsFetch(`/join/${code}`, { method: 'POST', headers: form, body: 'name=tls' });
    assert.equal(joined.status, 303);
    const setCookie = [joined.headers['set-cookie'] ?? []].flat();
    assert.ok(setCookie.length && setCookie.every((c) => /;\s*Secure/i.test(c)), `the seat cookie is Secure: ${setCookie.join(' | ')}`);
    const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    await waitFor('the seat ready over HTTPS', async () => {
      const me = await tlsFetch('/workshop/me', { headers: { cookie } });
      return me.status === 200 && (JSON.parse(me.body) as { state: string }).state === 'ready' || null;
    }, 120_000, 500);
    const status = await tlsFetch('/api/status', { headers: { cookie } });
    assert.equal(status.status, 200, `the seat's API through the proxy: ${status.body.slice(0, 200)}`);

    // The terminal over WSS, through the proxy to the seat's server.
    const term = await terminal(base, cookie, 'tls', undefined, { ca });
    t.after(() => term.close());
    await term.run('echo over-$((6*7))-wss', /over-42-wss/, 30_000);
  });

  it('more seats than the machine held in the bench: the server and the dashboard say so, and what to do, until the traffic is lowered',
    { skip: isolationSkip }, async (t) => {
      // the measured edge at the lab's 5 operations/s, scaled to this machine's cores; no seat starts here
      const edge = Math.floor((30 * availableParallelism()) / 2);
      const w = await workshop(t, ['--seats', String(edge), '--traffic-rate', '5']);
      const urls = await w.served.urls;
      assert.match(w.served.output(), new RegExp(`WARNING: ${edge} seats at 5 operations/s per seat are at or past what`), w.served.output());
      const base = new URL(urls.join).origin;
      const token = hostToken(urls.host);
      const capacity = async () => (await room(base, token)).warnings.filter((x) => /are at or past what/.test(x));
      assert.equal((await capacity()).length, 1, 'the dashboard has it too');
      assert.equal((await room(base, token)).labs[0]?.id, '01-one-broker', '"everyone to lab" lists the labs before any seat has started');
      assert.match((await capacity())[0]!, /--traffic-rate 2/);
      const joinPage = await (await fetch(`${base}/join/${urls.join.split('/').pop()!}`)).text();
      assert.doesNotMatch(joinPage, /at or past what/, 'attendees are not told the host\'s sizing');
      const setTraffic = async (rate: number) => {
        const r = await fetch(`${base}/host/api/all/traffic`, {
          method: 'POST', headers: { authorization: `Bearer ${token}`, origin: base, 'content-type': 'application/json' }, body: JSON.stringify({ rate }),
        });
        assert.equal(r.status, 200, await r.text());
      };
      await setTraffic(2);
      assert.deepEqual(await capacity(), [], 'at 2 operations/s per seat they fit');
      assert.deepEqual((await room(base, token)).traffic, { start: 5, now: 2 });
      await setTraffic(5);
      assert.equal((await capacity()).length, 1);
      // a host who keeps a workshop's own rate (2 operations/s per seat) hears nothing
      const usual = await workshop(t, ['--seats', String(edge)]);
      const usualUrls = await usual.served.urls;
      assert.doesNotMatch(usual.served.output(), /at or past what/, usual.served.output());
      assert.deepEqual((await room(new URL(usualUrls.join).origin, hostToken(usualUrls.host))).traffic, { start: 2, now: 2 });
    });

  it('--no-isolation: without root, one seat only, running as the host\'s own user, and every page says so', async (t) => {
    // Without root (as root: as the unprivileged user nobody), more than one seat is refused, saying why.
    const unprivileged = isRoot ? NOBODY : undefined;
    let r = refused(['--seats', '2', '--dir', join(tmpdir(), 'hmws-never'), '--port', '0'], unprivileged);
    assert.equal(r.code, 2);
    assert.match(r.output, /cannot isolate seats: .*Run as root, or pass --no-isolation with --seats 1/, r.output);
    r = refused(['--seats', '2', '--no-isolation', '--dir', join(tmpdir(), 'hmws-never'), '--port', '0'], unprivileged);
    assert.equal(r.code, 2);
    assert.match(r.output, /--no-isolation allows one seat only/, r.output);

    const w = await workshop(t, ['--seats', '1', '--no-isolation'], { asNobody: isRoot });
    const urls = await w.served.urls;
    assert.match(w.served.output(), /WITHOUT isolation \(--no-isolation\)/, 'the server says so when it starts');
    const base = new URL(urls.join).origin;
    const code = urls.join.split('/').pop()!;
    const joinPage = await (await fetch(`${base}/join/${code}`)).text();
    assert.match(joinPage, /class="warn">NO ISOLATION/, 'the join page carries the banner');
    const seat = await joinSeat(base, code, 'alone');
    assert.equal(seat.status, 303);
    const me = await waitSeatReady(base, seat.cookie);
    assert.ok(me.warnings.some((x: string) => /^NO ISOLATION/.test(x)), 'the seat bar of every seat page gets the banner');
    assert.equal((await room(base, hostToken(urls.host))).isolated, false, 'the dashboard knows');
    assert.equal((await api(base, seat.cookie, '/api/status')).status, 200);
    // Requests with a body, back to back and after pauses, all reach the seat (one connection per request once lost about one in ten).
    const answers: number[] = [];
    for (let i = 0; i < 40; i++) {
      answers.push((await api(base, seat.cookie, '/api/labs/01-one-broker/progress', { method: 'POST', body: { step: i % 3 } })).status);
    }
    for (const pause of [1000, 3000]) {
      await new Promise((res) => setTimeout(res, pause));
      answers.push((await api(base, seat.cookie, '/api/labs/01-one-broker/checks/broker-running', { method: 'POST', body: {} })).status);
    }
    assert.deepEqual(answers.filter((s) => s !== 200), [], 'every POST through the proxy is answered by the seat');
    // The seat's server runs as the host's own user, with no namespace or seat user made for it.
    const socket = join(w.dir, 'seats', '01', 'seat.sock');
    const seatServers = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(socket); } catch { return false; }
    });
    const pids = seatServers();
    assert.equal(pids.length, 1, 'one seat server');
    const uid = Number(/Uid:\s+(\d+)/.exec(readFileSync(`/proc/${pids[0]}/status`, 'utf8'))![1]);
    assert.equal(uid, isRoot ? NOBODY : process.getuid!(), 'running as the user who started the workshop');
    if (isRoot) assert.deepEqual(await leftovers(w.prefix), [], 'no seat user, no namespace');
    // Stopping the workshop stops the seat.
    w.served.child.kill('SIGTERM');
    await exited(w.served.child);
    await waitFor('the seat server gone', () => seatServers().length === 0 || null, 20_000, 200);
  });
});
