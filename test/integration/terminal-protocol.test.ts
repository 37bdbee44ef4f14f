// The terminal endpoints against a real lab server, real ptys and real bash:
// what a widget sends and sees, and what a hostile or broken client cannot do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { terminalsPlugin, type TerminalsPluginOptions, type TerminalServerMessage, type TerminalInfo } from '../../server/terminals/index.js';

const TOKEN = 't'.repeat(40);
const homes: string[] = [];
const servers: LabServer[] = [];

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function labServer(opts: TerminalsPluginOptions = {}, name = 'demo-lab'): Promise<LabServer> {
  const root = mkdtempSync(join(tmpdir(), 'hmlab-term-'));
  homes.push(root);
  const s = await startLabServer({ home: join(root, name), port: 0, token: TOKEN, plugins: [terminalsPlugin(opts)] });
  servers.push(s);
  return s;
}

/** A terminal client as the widget is one: collects frames and the text of the output. */
class Conn {
  frames: TerminalServerMessage[] = [];
  text = '';
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as TerminalServerMessage;
      this.frames.push(m);
      if (m.type === 'output' || m.type === 'snapshot') this.text += m.data;
    });
    ws.on('close', (code, reason) => { this.closed = { code, reason: String(reason) }; });
  }

  static open(s: LabServer, path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<Conn> {
    const ws = new WebSocket(s.url.replace(/^http/, 'ws') + path, { headers });
    const c = new Conn(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => { reject(new Error(`HTTP ${res.statusCode}`)); ws.terminate(); });
      ws.once('error', reject);
    });
  }

  send(m: unknown): void { this.ws.send(typeof m === 'string' ? m : JSON.stringify(m)); }
  type(data: string): void { this.send({ type: 'input', data }); }
  waitText(re: RegExp, timeoutMs = 5000): Promise<void> { return waitUntil(`output matching ${re}`, () => re.test(this.text), timeoutMs); }
  waitFrame(pred: (m: TerminalServerMessage) => boolean, what: string, timeoutMs = 5000): Promise<TerminalServerMessage> {
    return waitUntil(what, () => this.frames.some(pred), timeoutMs).then(() => this.frames.find(pred)!);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await waitUntil('close', () => this.closed !== null);
  }
}

async function api(s: LabServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
const sessions = async (s: LabServer): Promise<TerminalInfo[]> => (await api(s, 'GET', '/api/terminals')).json.terminals;

let lab: LabServer;
before(async () => { lab = await labServer(); });
after(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

test('unauthenticated and cross-origin connections are refused before any shell starts', async () => {
  await assert.rejects(Conn.open(lab, '/api/terminals/guarded', {}), /HTTP 401/);
  await assert.rejects(Conn.open(lab, '/api/terminals/guarded', { authorization: 'Bearer wrong-token' }), /HTTP 401/);
  await assert.rejects(Conn.open(lab, `/api/terminals/guarded?token=${'x'.repeat(40)}`, {}), /HTTP 401/);
  const host = new URL(lab.url).host;
  await assert.rejects(Conn.open(lab, '/api/terminals/guarded', { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' }), /HTTP 403/);
  await assert.rejects(Conn.open(lab, `/api/terminals/guarded?token=${TOKEN}`, { origin: `http://${host}.evil.example` }), /HTTP 403/);
  const noAuth = await fetch(`${lab.url}/api/terminals/guarded/input`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":"id\\r"}',
  });
  assert.equal(noAuth.status, 401);
  assert.deepEqual(await sessions(lab), [], 'no terminal session may exist after refused connections');
  // Same origin with the token is fine.
  const ok = await Conn.open(lab, '/api/terminals/guarded', { authorization: `Bearer ${TOKEN}`, origin: `http://${host}` });
  await ok.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  await ok.close();
  await api(lab, 'DELETE', '/api/terminals/guarded');
});

test('a command typed into the shell runs in the lab home, with a prompt naming the lab and its tools on PATH', async () => {
  const c = await Conn.open(lab, '/api/terminals/shell');
  await c.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  await c.waitText(/\[hmlab:demo-lab\] /);
  c.type('echo "answer=$((6*7))"; pwd; echo "home=$HMLAB_HOME"\r');
  await c.waitText(/answer=42/);
  await c.waitText(/home=\S*demo-lab/);
  assert.match(c.text, /\r\n\S*\/demo-lab\r\n/, 'the shell starts in the lab home');
  c.type('for t in hmlab qdstat rabbitmqctl; do command -v $t; done; command -v nano >/dev/null && echo editor=nano\r');
  await c.waitText(/editor=nano/);
  for (const tool of ['hmlab', 'qdstat', 'rabbitmqctl']) assert.match(c.text, new RegExp(`demo-lab/bin/${tool}\\r\\n`), `${tool} comes from the lab's bin`);
  // With no lab up, the broker wrapper says so instead of talking to some other node.
  c.type('rabbitmqctl status; echo "rc=$?"\r');
  await c.waitText(/rc=69/);
  assert.match(c.text, /broker is not up/);
  await c.close();
});

test('resize is applied to the pty (stty size), from the connect query and from resize frames', async () => {
  const c = await Conn.open(lab, '/api/terminals/sized?cols=100&rows=30');
  const snap = await c.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  assert.deepEqual(snap.type === 'snapshot' && [snap.cols, snap.rows], [100, 30]);
  await c.waitText(/\$ $/);
  c.type('stty size\r');
  await c.waitText(/\r30 100\r\n/);
  c.send({ type: 'resize', cols: 132, rows: 43 });
  c.type('stty size\r');
  await c.waitText(/\r43 132\r\n/);
  assert.equal((await sessions(lab)).find((t) => t.name === 'sized')?.cols, 132);
  await c.close();
});

test('reconnecting replays the screen; a second client shares the same shell', async () => {
  const a = await Conn.open(lab, '/api/terminals/shared');
  await a.waitText(/\$ $/);
  a.type('echo "marker-$((40+2))"\r');
  await a.waitText(/marker-42/);
  const pid = (await sessions(lab)).find((t) => t.name === 'shared')!.pid;
  await a.close();

  const b = await Conn.open(lab, '/api/terminals/shared');
  const snap = await b.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  assert.equal(b.frames[0]?.type, 'snapshot', 'the first frame after attach is the screen');
  assert.match(snap.type === 'snapshot' ? snap.data : '', /marker-42/, 'the snapshot shows the earlier output');
  const c = await Conn.open(lab, '/api/terminals/shared');
  await c.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  b.type('echo "both-$((2*50))"\r');
  await b.waitText(/both-100/);
  await c.waitText(/both-100/);
  const list = await sessions(lab);
  assert.equal(list.filter((t) => t.name === 'shared').length, 1);
  assert.equal(list.find((t) => t.name === 'shared')!.pid, pid, 'the same shell, never a duplicate');
  assert.equal(list.find((t) => t.name === 'shared')!.clients, 2);
  await b.close();
  await c.close();
});

test('malformed, unknown and oversized frames get an error and the session keeps working', async () => {
  const c = await Conn.open(lab, '/api/terminals/robust');
  await c.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  const errors = () => c.frames.filter((m) => m.type === 'error').map((m) => (m.type === 'error' ? m.message : ''));
  c.send('this is not json');
  c.send({ type: 'launch-missiles' });
  c.send({ type: 'resize', cols: 'wide', rows: 24 });
  c.send({ type: 'resize', cols: 100000, rows: 24 });
  c.send({ data: 'no type' });
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  c.send({ type: 'input', data: 'x'.repeat(70 * 1024) });
  await waitUntil('seven error frames', () => errors().length >= 7);
  const e = errors();
  assert.match(e[0]!, /not valid JSON/);
  assert.match(e[1]!, /unknown message type/);
  assert.match(e[2]!, /"cols"/);
  assert.match(e[3]!, /"cols"/);
  assert.match(e[4]!, /"type": missing/);
  assert.match(e[5]!, /binary frames are not accepted/);
  assert.match(e[6]!, /frame too large/);
  c.send({ type: 'ping' });
  await c.waitFrame((m) => m.type === 'pong', 'pong');
  c.type('echo "still-$((1+1))"\r');
  await c.waitText(/still-2/);
  assert.equal(c.closed, null);

  // Past the server's WebSocket payload limit the socket is closed, not the server.
  c.ws.send('y'.repeat(2 * 1024 * 1024));
  await waitUntil('close after a huge frame', () => c.closed !== null);
  assert.equal(c.closed!.code, 1009);
  const again = await Conn.open(lab, '/api/terminals/robust');
  await again.waitText(/still-2/);
  await again.close();

  // Bad names and queries are refused with a reason, and start nothing.
  const bad = await Conn.open(lab, '/api/terminals/Not_Valid!');
  await waitUntil('refusal', () => bad.closed !== null);
  assert.equal(bad.closed!.code, 4400);
  assert.match(String(bad.frames[0]?.type === 'error' && bad.frames[0].message), /lowercase letters, digits/);
  const badQuery = await Conn.open(lab, '/api/terminals/ok-name?cols=abc');
  await waitUntil('refusal', () => badQuery.closed !== null);
  assert.equal(badQuery.closed!.code, 4400);
  assert.ok(!(await sessions(lab)).some((t) => t.name === 'ok-name'));
});

test('run-in-terminal: POST /api/terminals/NAME/input types into the shared session', async () => {
  const c = await Conn.open(lab, '/api/terminals/runner');
  await c.waitText(/\$ $/);
  const r = await api(lab, 'POST', '/api/terminals/runner/input', { data: 'echo "ran-$((3*3))"\r' });
  assert.equal(r.status, 202);
  await c.waitText(/ran-9/);
  // Input to a terminal nobody watches starts it; the next viewer sees the result.
  assert.equal((await api(lab, 'POST', '/api/terminals/headless-run/input', { data: 'echo "unseen-$((5+5))"\r' })).status, 202);
  const v = await Conn.open(lab, '/api/terminals/headless-run');
  await v.waitText(/unseen-10/);
  await v.close();
  // Bad requests name the field.
  const noData = await api(lab, 'POST', '/api/terminals/runner/input', {});
  assert.equal(noData.status, 400);
  assert.equal(noData.json.field, 'data');
  const badName = await api(lab, 'POST', '/api/terminals/BAD%20NAME/input', { data: 'ls\r' });
  assert.equal(badName.status, 400);
  assert.equal(badName.json.field, 'name');
  const tooBig = await api(lab, 'POST', '/api/terminals/runner/input', { data: 'z'.repeat(70 * 1024) });
  assert.equal(tooBig.status, 400);
  await c.close();
});

test('a read-only viewer sees the session but cannot type', async () => {
  const w = await Conn.open(lab, '/api/terminals/watched?cols=90&rows=25');
  await w.waitText(/\$ $/);
  const v = await Conn.open(lab, '/api/terminals/watched?readonly=1');
  await v.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  v.type('echo "viewer-typed"\r');
  await v.waitFrame((m) => m.type === 'error' && /read-only/.test(m.message), 'read-only error');
  w.type('echo "writer-$((8*8))"\r');
  await v.waitText(/writer-64/);
  assert.doesNotMatch(w.text, /viewer-typed/);
  await w.close();
  await v.close();
});

test('closing a session ends its shell and tells its clients', async () => {
  const c = await Conn.open(lab, '/api/terminals/closing');
  await c.waitText(/\$ $/);
  const pid = (await sessions(lab)).find((t) => t.name === 'closing')!.pid!;
  assert.ok(alive(pid));
  assert.equal((await api(lab, 'DELETE', '/api/terminals/closing')).status, 204);
  await waitUntil('client closed', () => c.closed !== null);
  assert.equal(c.closed!.code, 4001);
  await waitUntil('shell gone', () => !alive(pid));
  assert.equal((await api(lab, 'DELETE', '/api/terminals/closing')).status, 404);

  // "exit" in the shell ends the session too; the client learns the exit code.
  const d = await Conn.open(lab, '/api/terminals/exiting');
  await d.waitText(/\$ $/);
  d.type('exit 3\r');
  const ex = await d.waitFrame((m) => m.type === 'exit', 'exit frame');
  assert.equal(ex.type === 'exit' && ex.code, 3);
  await waitUntil('client closed', () => d.closed !== null);
  assert.equal(d.closed!.code, 4000);
  assert.ok(!(await sessions(lab)).some((t) => t.name === 'exiting'));
});

test('a session idle past the limit ends; too many sessions are refused', async () => {
  const s = await labServer({ idleTimeoutMs: 400, maxSessions: 2 });
  const a = await Conn.open(s, '/api/terminals/one');
  await a.waitText(/\$ $/);
  const pid = (await sessions(s))[0]!.pid!;
  const b = await Conn.open(s, '/api/terminals/two');
  await b.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  const third = await Conn.open(s, '/api/terminals/three');
  await waitUntil('refusal', () => third.closed !== null);
  assert.equal(third.closed!.code, 4429);
  assert.match(String(third.frames[0]?.type === 'error' && third.frames[0].message), /too many terminals/);
  // Attached clients keep a session alive past the limit...
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(alive(pid));
  // ...once nobody is attached, it ends.
  await a.close();
  await b.close();
  await waitUntil('idle shell ended', () => !alive(pid), 5000);
  await waitUntil('sessions gone', async () => (await sessions(s)).length === 0);
});

test('stopping the lab server leaves no shells or their jobs behind', async () => {
  const s = await labServer();
  const c = await Conn.open(s, '/api/terminals/jobs');
  await c.waitText(/\$ $/);
  c.type('sleep 300 & echo "job=$!"\r');
  await c.waitText(/job=\d+/);
  const job = Number(/job=(\d+)/.exec(c.text)![1]);
  const shell = (await sessions(s))[0]!.pid!;
  assert.ok(alive(job) && alive(shell));
  await s.close();
  await waitUntil('shell and job gone', () => !alive(shell) && !alive(job), 5000);
});

test('a shell slow to end takes no new client: a reconnect gets a new shell, or hears that the server is stopping', async () => {
  const plugin = terminalsPlugin();
  const root = mkdtempSync(join(tmpdir(), 'hmlab-term-'));
  homes.push(root);
  const s = await startLabServer({ home: join(root, 'slow-lab'), port: 0, token: TOKEN, plugins: [plugin] });
  servers.push(s);
  const trapped = async (c: Conn, tag: string) => {
    await c.waitText(/\$ $/);
    c.type(`trap "" HUP; echo "${tag}-$((2*3))"\r`); // ignores SIGHUP: ends only at the SIGKILL after the grace period
    await c.waitText(new RegExp(`^${tag}-6`, 'm'));
    return (await sessions(s)).find((t) => t.name === 'slow')!.pid!;
  };

  // Closed by the API: a reconnect while the old shell lingers starts a new one.
  const a = await Conn.open(s, '/api/terminals/slow');
  const first = await trapped(a, 'first');
  const deleting = api(s, 'DELETE', '/api/terminals/slow');
  await waitUntil('client closed', () => a.closed !== null);
  const b = await Conn.open(s, '/api/terminals/slow');
  // Checked at once: the old shell lingers for the 1.5 s grace, and the race is only there while it does.
  assert.ok(alive(first), 'the old shell was still ending when the reconnect came');
  await b.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  const second = (await sessions(s)).find((t) => t.name === 'slow')!.pid!;
  assert.notEqual(second, first, 'the reconnect got a shell of its own');
  assert.equal((await deleting).status, 204);
  assert.ok(!alive(first));
  assert.ok(!b.frames.some((m) => m.type === 'exit'), 'the new client never heard the old shell exit');

  // The server stopping: a connection in that window hears "stopping" (1001), not "shell exited".
  await trapped(b, 'second');
  const stopping = plugin.manager!.dispose();
  await waitUntil('client closed', () => b.closed !== null);
  assert.equal(b.closed!.code, 1001);
  const c = await Conn.open(s, '/api/terminals/slow');
  await waitUntil('refusal', () => c.closed !== null);
  assert.deepEqual(c.closed, { code: 1001, reason: 'lab server stopping' });
  assert.ok(!c.frames.some((m) => m.type === 'exit' || m.type === 'snapshot'));
  const input = await api(s, 'POST', '/api/terminals/other/input', { data: 'echo hi\r' });
  assert.equal(input.status, 503);
  assert.match(input.json.error, /stopping/);
  await stopping;
  assert.ok(!alive(second));
  assert.deepEqual(await sessions(s), [], 'no shell started while stopping');
});

test('a client that never reads is dropped without stalling the others; an input flood is bounded', async () => {
  const s = await labServer({ limits: { clientHighWater: 64 * 1024, clientLowWater: 16 * 1024, slowClientMs: 800 } });
  const fast = await Conn.open(s, '/api/terminals/flood');
  await fast.waitText(/\$ $/);
  const slow = await Conn.open(s, '/api/terminals/flood');
  await slow.waitFrame((m) => m.type === 'snapshot', 'snapshot');
  // Stop reading on the slow client's socket: the server's queue for it grows.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  fast.type('head -c 40000000 /dev/zero | tr "\\0" x; echo; echo "flood-$((6*6))-done"\r');
  await fast.waitText(/flood-36-done/, 60_000);
  const info = (await sessions(s))[0]!;
  assert.equal(info.clients, 1, 'the client that stopped reading was dropped');

  // Input far beyond the rate limit is refused with a reason; the shell stays usable.
  fast.type('stty -echo; cat > /dev/null\r');
  await new Promise((r) => setTimeout(r, 200));
  const chunk = ('y'.repeat(1000) + '\n').repeat(60);
  for (let i = 0; i < 40; i++) fast.type(chunk);
  await fast.waitFrame((m) => m.type === 'error' && /faster than the terminal takes it/.test(m.message), 'rate error');
  await new Promise((r) => setTimeout(r, 300));
  fast.type('\x03');
  await new Promise((r) => setTimeout(r, 200));
  fast.type('stty echo; echo "alive-$((7*6))"\r');
  await fast.waitText(/alive-42/, 10_000);
  await fast.close();
  slow.ws.terminate();
});
