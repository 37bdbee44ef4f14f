// The lab server (`hmlab serve`, its own process, every plugin) under at least
// 10,000 generated HTTP requests and hundreds of WebSocket connections over
// every endpoint. The request bodies come from the endpoints' own zod schemas,
// then are broken: wrong types, missing and unknown fields, traversal strings,
// huge and odd bodies, odd encodings; with no token, a wrong token, another
// port's cookie, foreign Origins. Counts: crashes, 5xx answers and successes
// without the token must all be 0; no lab operation may start.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import WebSocket from 'ws';
import { downBody, recordingBody, trafficBody, upBody } from '../../server/http/lab-api.js';
import { inputRequest } from '../../server/terminals/protocol.js';
import { emptyBody, progressBody } from '../../server/labs/index.js';
import { tokenCookieName } from '../../server/http/index.js';

const HTTP_REQUESTS = 10_000;
const WS_CONNECTIONS = 400;
const RAW_REQUESTS = 300;
const CONCURRENCY = 8;

const home = mkdtempSync(join(tmpdir(), 'hmlab-fuzz-'));
let child: ChildProcess | null = null;
let server: { url: string; token: string; pid: number } | null = null;
after(async () => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(r, 10_000); child!.once('exit', () => { clearTimeout(t); r(null); }); });
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  rmSync(home, { recursive: true, force: true });
});

// ---- a small seeded generator, so a failure can be replayed ----------------
const SEED = Number(process.env.HMLAB_FUZZ_SEED ?? Date.now() % 1_000_000);
let state = SEED || 1;
const rnd = () => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state / 0x7fffffff; };
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (p: number) => rnd() < p;

const TRAVERSAL = ['../../../../etc/passwd', '..%2f..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/token', '....//....//server/token', '..\\..\\server\\token',
  '/etc/shadow', 'server/token', '%00', 'a%00.jsonl', '..'];
const ODD_STRINGS = ['', ' ', 'x', '\u0000', '\u202e\u0301', '😀'.repeat(50), '<script>alert(1)</script>', '$(id)', '`id`', "'; DROP TABLE progress; --",
  '%s%s%n', '{"a":', 'A'.repeat(5000), '\r\n\r\nHTTP/1.1 200 OK', ...TRAVERSAL];
const ODD_NUMBERS = [-1, 0, 1e308, -1e308, 1.5, 2 ** 53 + 1, 999999, -0];
const ODD_VALUES: unknown[] = [null, true, false, [], {}, [1, 2], { $gt: '' }, { __proto__: { polluted: 1 } }, ...ODD_NUMBERS, ...ODD_STRINGS];

type JsonSchema = {
  type?: string; enum?: unknown[]; properties?: Record<string, JsonSchema>; required?: string[];
  minimum?: number; maximum?: number; pattern?: string; minLength?: number;
};

/** A value the schema accepts: the first enum member, a small in-range number, a plain word. */
function validValue(s: JsonSchema): unknown {
  if (s.enum) return s.enum[0];
  if (s.type === 'number' || s.type === 'integer') return Math.max(s.minimum ?? 0, 0);
  if (s.type === 'boolean') return false;
  if (s.type === 'object') return validObject(s);
  return 'fuzz1';
}
function validObject(s: JsonSchema): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of s.required ?? []) o[k] = validValue(s.properties![k]!);
  return o;
}
/** A value of the wrong type, out of range, or outside the enum/pattern for this field. */
function wrongValue(s: JsonSchema): unknown {
  const options: unknown[] = [...ODD_VALUES];
  if (s.type === 'string') options.push(123, ['fuzz'], { v: 'fuzz' });
  if (s.type === 'number' || s.type === 'integer') options.push('5', (s.maximum ?? 1e6) + 1, (s.minimum ?? 0) - 1, 'NaN');
  if (s.type === 'boolean') options.push('true', 1, 0);
  return pick(options); // brokenBody keeps only what the schema really refuses
}

/** A body that breaks the schema for sure (checked with the schema itself). */
function brokenBody(schema: z.ZodType, js: JsonSchema): unknown {
  for (let i = 0; i < 20; i++) {
    const base = validObject(js);
    const keys = Object.keys(js.properties ?? {});
    const how = pick(['wrong-type', 'missing', 'unknown-field', 'not-an-object', 'wrong-type', 'traversal']);
    let body: unknown = base;
    if (how === 'wrong-type' && keys.length) base[pick(keys)] = wrongValue(js.properties![pick(keys)]!);
    else if (how === 'traversal' && keys.length) base[pick(keys)] = pick(TRAVERSAL);
    else if (how === 'missing' && js.required?.length) delete base[pick(js.required)];
    else if (how === 'unknown-field') base[pick(['__proto__x', 'constructor', 'extra', 'topology2', 'a'.repeat(300)])] = pick(ODD_VALUES);
    else body = pick([[], [base], 'text', 42, true, [null]]);
    if (!schema.safeParse(body).success) return body;
  }
  return { definitely_unknown_field: 1 };
}

// ---- every endpoint, with how to fill its path and whether it may act --------
interface Endpoint {
  method: 'GET' | 'POST' | 'DELETE';
  path: (valid: boolean) => string;
  schema?: z.ZodType;
  /** Acting on it for real would start or stop processes: with a valid token it only ever gets a broken request. */
  acts: boolean;
}
const seg = (valid: string, ok: boolean) => (ok ? valid : encodeURIComponent(pick(ODD_STRINGS)) || '%2e%2e');
const LAB = '02-split-transports';
const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: () => '/api/status', acts: false },
  { method: 'POST', path: () => '/api/lab/up', schema: upBody, acts: true },
  { method: 'POST', path: () => '/api/lab/down', schema: downBody, acts: true },
  { method: 'GET', path: () => '/api/lab/operation', acts: false },
  {
    method: 'POST', path: (ok) => `/api/components/${seg('router-a', ok)}/${seg(pick(['start', 'stop', 'kill', 'restart']), ok || chance(0.5))}`,
    schema: emptyBody, acts: true,
  },
  { method: 'POST', path: () => '/api/traffic', schema: trafficBody, acts: true },
  { method: 'GET', path: () => '/api/recordings', acts: false },
  { method: 'GET', path: (ok) => `/api/recordings/${seg('nothing.jsonl', ok)}`, acts: false },
  { method: 'GET', path: () => '/api/recording', acts: false },
  { method: 'POST', path: () => '/api/recording', schema: recordingBody, acts: true },
  { method: 'GET', path: () => '/api/terminals', acts: false },
  { method: 'POST', path: (ok) => `/api/terminals/${seg('fuzz', ok)}/input`, schema: inputRequest, acts: true },
  { method: 'DELETE', path: (ok) => `/api/terminals/${seg('fuzz', ok)}`, acts: false },
  { method: 'GET', path: () => '/api/labs', acts: false },
  { method: 'GET', path: (ok) => `/api/labs/${seg(LAB, ok)}`, acts: false },
  { method: 'POST', path: (ok) => `/api/labs/${seg(LAB, ok)}/checks/${seg('notify-transport-broker', ok)}`, schema: emptyBody, acts: false },
  { method: 'POST', path: (ok) => `/api/labs/${seg(LAB, ok)}/edits/${seg('0', ok)}/preview`, schema: emptyBody, acts: false },
  { method: 'POST', path: (ok) => `/api/labs/${seg(LAB, ok)}/edits/${seg('0', ok)}/apply`, schema: emptyBody, acts: true },
  { method: 'GET', path: (ok) => `/api/labs/${seg(LAB, ok)}/progress`, acts: false },
  { method: 'POST', path: (ok) => `/api/labs/${seg(LAB, ok)}/progress`, schema: progressBody, acts: false },
  { method: 'GET', path: (ok) => `/api/labs/${seg(LAB, ok)}/reset`, acts: false },
  { method: 'POST', path: (ok) => `/api/labs/${seg(LAB, ok)}/reset`, schema: emptyBody, acts: true },
  { method: 'GET', path: () => '/api/events', acts: false },
  { method: 'GET', path: () => `/api/${encodeURIComponent(pick(ODD_STRINGS))}`, acts: false },
  // pages and static files: public, but never a file outside the build
  { method: 'GET', path: () => pick(['/', '/slides/', '/labs/', '/flow', '/terminal?name=x', '/recordings/failover.jsonl']), acts: false },
  { method: 'GET', path: () => `/${pick(TRAVERSAL)}`, acts: false },
  { method: 'GET', path: () => `/assets/${pick(TRAVERSAL)}`, acts: false },
];

type Auth = 'none' | 'wrong-bearer' | 'wrong-cookie' | 'other-port-cookie' | 'query-wrong' | 'bearer' | 'cookie';

async function startServer(): Promise<{ url: string; token: string; pid: number; output: () => string }> {
  child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--home', home, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 60_000);
    child!.stdout!.on('data', () => {
      const m = /open: (http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-f]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1]!, token: m[2]!, pid: child!.pid!, output: () => out }); }
    });
    child!.once('exit', () => { clearTimeout(timer); reject(new Error(`serve exited:\n${out}`)); });
  });
}

const rssMiB = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

test('HTTP and WebSocket fuzz: 0 crashes, 0 answers 5xx, 0 successes without the token', { timeout: 240_000 }, async () => {
  const srv = await startServer();
  server = srv;
  const port = Number(new URL(srv.url).port);
  const host = new URL(srv.url).host;
  const rssBefore = rssMiB(srv.pid);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  let noTokenSuccesses = 0;
  let fiveXX = 0;
  let foreignAccepted = 0;
  let transportErrors = 0;
  const began = Date.now();

  const one = async (): Promise<void> => {
    const ep = pick(ENDPOINTS);
    const auth: Auth = pick(['none', 'wrong-bearer', 'wrong-cookie', 'other-port-cookie', 'query-wrong', 'bearer', 'bearer', 'cookie', 'cookie']);
    const validToken = auth === 'bearer' || auth === 'cookie';
    const origin = pick([undefined, undefined, srv.url, `http://127.0.0.1:${port + 1}`, 'null', 'http://evil.example']);
    const foreign = origin !== undefined && origin !== srv.url;
    const method = chance(0.05) ? pick(['PUT', 'PATCH', 'OPTIONS', 'HEAD'] as const) : ep.method;
    const mayAct = ep.acts && validToken && !foreign && method === ep.method;
    const validPath = !mayAct && chance(0.6);
    let path = ep.path(validPath || !ep.acts);
    const headers: Record<string, string> = {};
    if (auth === 'bearer') headers.authorization = `Bearer ${srv.token}`;
    if (auth === 'wrong-bearer') headers.authorization = `Bearer ${pick([srv.token.slice(1), srv.token + 'x', '', 'null', srv.token.toUpperCase()])}`;
    if (auth === 'cookie') headers.cookie = `${tokenCookieName(port)}=${srv.token}`;
    if (auth === 'wrong-cookie') headers.cookie = `${tokenCookieName(port)}=${pick(['x', srv.token.slice(2), '%zz', ''])}`;
    if (auth === 'other-port-cookie') headers.cookie = `${tokenCookieName(port + 1)}=${srv.token}; hmlab_token=${srv.token}`;
    if (auth === 'query-wrong') path += (path.includes('?') ? '&' : '?') + `token=${pick(['', 'x', srv.token.slice(3)])}`;
    if (origin) headers.origin = origin;
    if (chance(0.1)) headers['x-hmlab-request'] = '1';
    let body: string | Buffer | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      const js = ep.schema ? (z.toJSONSchema(ep.schema) as JsonSchema) : { type: 'object', properties: {}, required: [] };
      const kind = mayAct
        ? pick(['broken', 'broken', 'broken', 'malformed', 'odd-type', 'charset', 'encoding', 'huge'])
        : pick(['valid', 'valid', 'broken', 'none', 'malformed', 'odd-type', 'charset', 'encoding', 'huge']);
      if (kind === 'valid' && ep.schema) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(validObject(js));
      } else if (kind === 'broken' || (kind === 'valid' && !ep.schema) || (kind === 'none' && mayAct)) {
        headers['content-type'] = pick(['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON']);
        body = JSON.stringify(ep.schema ? brokenBody(ep.schema, js) : { extra: 1 });
      } else if (kind === 'malformed') {
        headers['content-type'] = 'application/json';
        body = pick(['{', '{"a":1,,}', '\u0000\u0001', 'null', '[', '"\\ud800"', '{"topology": "hybrid"']);
      } else if (kind === 'odd-type') {
        headers['content-type'] = pick([
          'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx', '',
        ]);
        body = 'topology=hybrid&rate=5';
      } else if (kind === 'charset') {
        headers['content-type'] = `application/json; charset=${pick(['utf-16', 'latin1', 'koi8-r', 'x-unknown', 'utf-32'])}`;
        body = '{"extra":1}';
      } else if (kind === 'encoding') {
        headers['content-type'] = 'application/json';
        headers['content-encoding'] = pick(['br2', 'x-gzip2', 'compress', 'gzip', 'deflate', 'identity, gzip']);
        body = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff]);
      } else if (kind === 'huge') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify({ data: 'A'.repeat(pick([300_000, 1_100_000])), extra: 1 });
      }
    }
    sent++;
    let status = 0;
    try {
      const payload = typeof body === 'string' || body === undefined ? body : new Uint8Array(body);
      const res = await fetch(srv.url + path, { method, headers, body: payload, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      transportErrors++;
      failures.push(`${method} ${path} (${auth}): no answer: ${(err as Error).message}`);
      return;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    // as the server sees the path: "/api/%2e%2e" arrives as "/"
    const isApi = new URL(srv.url + path).pathname.startsWith('/api/');
    const what = `${method} ${path.slice(0, 80)} auth=${auth} origin=${origin ?? '-'} -> ${status}`;
    if (status >= 500) { fiveXX++; failures.push(what); }
    if (isApi && !validToken && status !== 401) { noTokenSuccesses += status < 400 ? 1 : 0; failures.push(`expected 401: ${what}`); }
    const changesState = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);
    if (isApi && validToken && foreign && changesState && status !== 403) { foreignAccepted++; failures.push(`expected 403: ${what}`); }
  };

  const progress = setInterval(() => {
    if (child?.exitCode !== null || child?.signalCode !== null) return;
    console.log(`#   ${sent} requests, ${Math.round((Date.now() - began) / 1000)} s, server RSS ${rssMiB(srv.pid)} MiB`);
  }, 15_000);
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (sent < HTTP_REQUESTS && child?.exitCode === null) await one(); }));
  clearInterval(progress);
  const httpSeconds = (Date.now() - began) / 1000;

  // ---- raw bytes that fetch would never send -------------------------------
  let rawAnswered = 0; let raw5xx = 0; let rawClosed = 0;
  const RAW = [
    () => 'GARBAGE\r\n\r\n',
    () => `GET /api/status HTTP/1.1\r\nHost: ${host}\r\n${'X-Long: ' + 'a'.repeat(20_000)}\r\n\r\n`,
    () => `POST /api/lab/up HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -5\r\n\r\n{}`,
    () => `POST /api/lab/up HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n`,
    () => `GET /${'../'.repeat(30)}etc/passwd HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    () => `GET /api/status HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${srv.token}\u0000\r\n\r\n`,
    () => `POST /api/traffic HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"rate":`,
    () => `\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003`, // a TLS hello
    () => Buffer.from(Array.from({ length: 200 }, () => Math.floor(rnd() * 256))).toString('latin1'),
    () => `TRACE /api/status HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    () => `GET /api/events HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n\r\n`,
  ];
  for (let i = 0; i < RAW_REQUESTS; i++) {
    const text = pick(RAW)();
    const reply = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      const done = () => { clearTimeout(t); s.destroy(); resolve(got); };
      const t = setTimeout(done, 3000); // a partial request may wait for more: the server's timers, not this test, end it
      s.on('data', (d) => { got += d.toString('latin1'); if (/\r\n\r\n/.test(got)) done(); });
      s.on('error', done);
      s.on('close', done);
      s.write(text, 'latin1');
    });
    const m = /^HTTP\/1\.1 (\d{3})/.exec(reply);
    if (m) { rawAnswered++; if (Number(m[1]) >= 500) { raw5xx++; failures.push(`raw ${JSON.stringify(text.slice(0, 60))} -> ${m[1]}`); } } else rawClosed++;
  }

  // ---- WebSockets ------------------------------------------------------------
  let wsOpenWithoutToken = 0; let wsOpened = 0; let wsRefused = 0; let wsFrames = 0; let wsForeignOpened = 0;
  const FRAMES: (() => string | Buffer)[] = [
    () => '{', () => 'null', () => '[]', () => JSON.stringify({ type: pick(['input', 'resize', 'ping', 'status', 'nope', '']) }),
    () => JSON.stringify({ type: 'resize', cols: pick(ODD_VALUES), rows: pick(ODD_VALUES) }),
    () => JSON.stringify({ type: 'input', data: pick([123, null, '', 'A'.repeat(70_000)]) }),
    () => JSON.stringify({ type: 'input', data: 'echo fuzz\r' }),
    () => Buffer.from([0, 1, 2, 255]), () => 'A'.repeat(2 * 1024 * 1024), () => pick(ODD_STRINGS),
  ];
  for (let i = 0; i < WS_CONNECTIONS; i++) {
    const auth = pick(['none', 'wrong', 'other-port-cookie', 'bearer', 'query'] as const);
    const validToken = auth === 'bearer' || auth === 'query';
    const origin = pick([undefined, srv.url, `http://127.0.0.1:${port + 1}`, 'null']);
    const foreign = origin !== undefined && origin !== srv.url;
    const terminal = pick(['ws-fuzz', 'ws-fuzz', encodeURIComponent(pick(ODD_STRINGS))]);
    const query = pick(['', '?readonly=1', '?cols=9999&rows=-1', '?cols=x']);
    const path = pick(['/api/events', `/api/terminals/${terminal}${query}`, '/api/nothing']);
    const headers: Record<string, string> = {};
    if (auth === 'bearer') headers.authorization = `Bearer ${srv.token}`;
    if (auth === 'wrong') headers.authorization = 'Bearer wrong';
    if (auth === 'other-port-cookie') headers.cookie = `${tokenCookieName(port + 1)}=${srv.token}`;
    const url = `ws://${host}${path}${auth === 'query' ? (path.includes('?') ? '&' : '?') + `token=${srv.token}` : ''}`;
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { headers, origin, handshakeTimeout: 10_000 });
      const end = setTimeout(() => { ws.terminate(); resolve(); }, 5000);
      ws.on('open', () => {
        wsOpened++;
        if (!validToken) { wsOpenWithoutToken++; failures.push(`WS opened without the token: ${path} ${auth}`); }
        if (foreign) { wsForeignOpened++; failures.push(`WS opened from a foreign origin: ${path} ${origin}`); }
        const n = 1 + Math.floor(rnd() * 5);
        for (let k = 0; k < n; k++) { try { ws.send(pick(FRAMES)()); wsFrames++; } catch { /* closed meanwhile */ } }
        setTimeout(() => ws.close(), 50);
      });
      ws.on('unexpected-response', (_req, res) => {
        wsRefused++;
        if ((res.statusCode ?? 0) >= 500) failures.push(`WS ${path} -> ${res.statusCode}`);
        res.resume();
        clearTimeout(end); resolve();
      });
      ws.on('error', () => { /* refused or closed: counted above */ });
      ws.on('close', () => { clearTimeout(end); resolve(); });
    });
  }

  // ---- what survived ----------------------------------------------------------
  const alive = child!.exitCode === null && child!.signalCode === null;
  const status = alive ? await fetch(`${srv.url}/api/status`, { headers: { authorization: `Bearer ${srv.token}` } }) : null;
  const labStatus = status ? await status.json() as { components: unknown[] } : null;
  const operation = alive
    ? await (await fetch(`${srv.url}/api/lab/operation`, { headers: { authorization: `Bearer ${srv.token}` } })).json() as { operation: unknown }
    : null;
  const rssAfter = alive ? rssMiB(srv.pid) : NaN;
  const hist = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
  console.log(`# HTTP fuzz (seed ${SEED}): ${sent} requests over ${ENDPOINTS.length} endpoint shapes in ${httpSeconds.toFixed(1)} s; statuses ${hist}`);
  console.log(`#   5xx: ${fiveXX}; successes without the token: ${noTokenSuccesses}; ` +
    `foreign-origin state changes not refused: ${foreignAccepted}; no answer: ${transportErrors}`);
  console.log(`#   raw requests: ${RAW_REQUESTS} (${rawAnswered} answered, ${rawClosed} closed without an answer, ${raw5xx} 5xx)`);
  console.log(`#   WebSockets: ${WS_CONNECTIONS} connections, ${wsOpened} opened ` +
    `(${wsOpenWithoutToken} without the token, ${wsForeignOpened} from a foreign origin), ${wsRefused} refused, ${wsFrames} frames sent`);
  console.log(`#   server: ${alive ? 'alive' : 'CRASHED'}, RSS ${rssBefore} MiB before, ${rssAfter} MiB after; ` +
    `lab components ${labStatus?.components.length ?? '?'}, operation ${JSON.stringify(operation?.operation ?? null)}`);
  if (failures.length) console.log(`#   first failures:\n${failures.slice(0, 15).map((f) => `#     ${f}`).join('\n')}`);

  assert.ok(alive, `the server crashed:\n${srv.output().slice(-3000)}`);
  assert.ok(sent >= HTTP_REQUESTS);
  assert.equal(fiveXX + raw5xx, 0, '0 answers 5xx');
  assert.equal(noTokenSuccesses, 0, '0 successes without the token');
  assert.equal(foreignAccepted, 0, 'every state change from a foreign origin refused');
  assert.equal(wsOpenWithoutToken + wsForeignOpened, 0, 'no WebSocket opened without the token or from a foreign origin');
  assert.equal(transportErrors, 0, 'every request answered');
  assert.equal(failures.length, 0, failures.slice(0, 5).join('\n'));
  assert.equal(status?.status, 200, 'the server still answers');
  assert.deepEqual(labStatus?.components, [], 'no lab was brought up');
  assert.equal(operation?.operation, null, 'no lab operation is running');
  assert.equal(existsSync(join(home, 'state.json')), false, 'the lab environment was never touched');
  assert.ok(rssAfter < rssBefore + 300, `memory stays bounded: ${rssBefore} -> ${rssAfter} MiB`);
});

test('the event stream and the terminals cap their clients; the server answers the rest', { timeout: 120_000 }, async (t) => {
  if (!server || child?.exitCode !== null) { t.skip('the fuzz test did not leave a running server'); return; }
  const { url, token } = server;
  const open = (path: string) => new Promise<{ ws: WebSocket; first: string; code: number | null }>((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}${path}`, { headers: { authorization: `Bearer ${token}` } });
    let code: number | null = null;
    ws.once('message', (d) => {
      const first = String(d);
      // a refused client is closed right after its error; an accepted one stays open
      setTimeout(() => resolve({ ws, first, code }), 300);
    });
    ws.on('close', (c) => { code = c; });
    ws.on('error', () => resolve({ ws, first: '', code: -1 }));
  });
  const events = [];
  for (let i = 0; i < 40; i++) events.push(await open('/api/events'));
  const refused = events.filter((e) => e.code === 1013);
  const why = (JSON.parse(refused[0]?.first ?? '{}') as { message?: string }).message ?? '-';
  console.log(`# /api/events: 40 clients, ${events.length - refused.length} served, ${refused.length} refused (${why})`);
  assert.equal(events.length - refused.length, 32);
  for (const e of events) e.ws.terminate();

  const terms = [];
  for (let i = 0; i < 36; i++) terms.push(await open(`/api/terminals/cap-${i % 4}?readonly=${i % 2}`));
  const full = terms.filter((e) => e.code === 4429);
  console.log(`# terminals: 36 clients on 4 shells, ${terms.length - full.length} attached, ${full.length} refused`);
  assert.equal(terms.length - full.length, 32);
  assert.match(full[0]!.first, /too many terminal connections/);
  for (const e of terms) e.ws.terminate();
  await new Promise((r) => setTimeout(r, 500));
  const after = await open('/api/events');
  assert.equal(after.code, null, 'once clients leave, a new one is served');
  after.ws.terminate();
});
