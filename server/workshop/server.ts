// The workshop server: runs in the host's namespace and owns nothing of a
// lab. It hands out seats (join page, seat cookie), serves the host's
// dashboard (host token), and proxies every attendee's /api request and
// WebSocket to their own seat's server over its Unix socket (http-proxy-3).
// The pages themselves are the same static build every seat serves, so they
// come from here.
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import httpProxy from 'http-proxy-3';
import pLimit from 'p-limit';
import { renderSVG } from 'uqr';
import { z } from 'zod';
import type { Topology, WorkshopRoom, WorkshopSeatView, SeatState } from '../../common/wire.js';
import { listensLocally } from '../../common/endpoint.js';
import { trafficRateSchema } from '../../common/rules.js';
import { PACKAGE_ROOT } from '../paths.js';
import { raiseSessionPriority } from '../backends/index.js';
import {
  HttpError, errorHandler, isSameOrigin, parseBody, securityHeaders, sendError, stateChangeRefusal, type OperationOutcome,
} from '../http/index.js';
import { sameSecret } from '../http/auth.js';
import { cookieName, cookieOf } from './guards.js';
import { progressOf, readSeat, whereStuck, type SeatReading } from './progress.js';
import { WORKSHOP_TRAFFIC_RATE, seatAgent, seatLabel, seatRequest, type SeatBackend } from './seats.js';
import { WorkshopStore, cardKey, type SeatRecord } from './store.js';
import { page, escapeHtml } from './pages.js';
import { capacityAdvice } from './capacity.js';
import { loadLabs } from '../labs/index.js';

export interface WorkshopOptions {
  dir: string;
  seats: number;
  backend: SeatBackend;
  host?: string;
  port?: number;
  /** Seats kept started ahead of joins. */
  warm?: number;
  /** Stop a seat nobody used for this long (its files and progress stay). */
  idleMs?: number;
  tls?: { cert: string; key: string };
  webRoot?: string;
  /** How often the dashboard's seat readings refresh (default DEFAULT_POLL_MS). */
  pollMs?: number;
  /** Seats starting (their server and the lab it brings up) at once; the rest wait their turn. Default: the cores, at least 2. */
  startsAtOnce?: number;
  /** Conductor operations per second each seat starts with (default WORKSHOP_TRAFFIC_RATE); the host's capacity advice counts on it. */
  trafficRate?: number;
  /** The server's log: a request that fails on a defect is written here with its stack; default stderr. */
  log?: (line: string) => void;
}

export interface WorkshopServer {
  url: string;
  hostUrl: string;
  joinUrl: string;
  store: WorkshopStore;
  /** The room as the dashboard sees it. */
  room(): WorkshopRoom;
  /** Reads every running seat now (the dashboard also does it every pollMs). */
  poll(): Promise<void>;
  close(opts?: { stopSeats?: boolean }): Promise<void>;
  server: Server;
}

interface SeatRuntime {
  state: SeatState;
  /** Host terminals open read-write on this seat. */
  hostTyping: number;
  reason: string;
  starting: Promise<void> | null;
  /** When the seat last became ready: idle time counts from then at the earliest. */
  readyAt: number;
  /** When its last start failed: a seat whose server runs is not started again before FAILED_RETRY_MS. */
  failedAt: number;
  reading?: SeatReading;
}

/** How often a host's dashboard reads every seat: each reading asks the seat's server for its labs and status. */
export const DEFAULT_POLL_MS = 3000;
/** How long a seat's start waits for the lab its server brings up before it lets the next seat start. */
const LAB_SETTLE_MAX_MS = 5 * 60_000;
/** A lab that failed to come up is tried again when its attendee's page asks, at most this often (a full machine gets room to breathe). */
const FAILED_RETRY_MS = 30_000;

const nameBody = z.object({ name: z.string().max(60, { error: 'name must be at most 60 characters' }).optional() });
const helpBody = z.object({
  question: z.string().trim().min(1, { error: 'question must say what you need' }).max(500, { error: 'question must be at most 500 characters' }),
});
const resetBody = z.object({
  lab: z.string().regex(/^[0-9]{2}-[a-z0-9-]+$/, { error: 'lab must be a lab id such as "04-mesh"' }),
  clearProgress: z.boolean({ error: 'clearProgress must be true (reset the lab and clear its progress) or false (restart the lab, keep progress)' }),
});
const allLabBody = z.object({ lab: z.string().regex(/^[0-9]{2}-[a-z0-9-]+$/, { error: 'lab must be a lab id such as "04-mesh"' }) });
const trafficBody = z.object({ rate: trafficRateSchema({ name: 'rate' }) });

/** The nice value of the workshop server's session when it hosts isolated seats: above the seat servers (0) and their labs' backends (10). */
export const WORKSHOP_SERVER_NICE = -5;

export async function startWorkshopServer(opts: WorkshopOptions): Promise<WorkshopServer> {
  const store = new WorkshopStore(join(opts.dir, 'private', 'workshop.sqlite'), opts.seats);
  const backend = opts.backend;
  const host = opts.host ?? '127.0.0.1';
  const webRoot = opts.webRoot ?? join(PACKAGE_ROOT, 'dist', 'web');
  const rt = new Map<number, SeatRuntime>();
  // A seat's start is its heaviest moment (a broker boot is seconds of CPU):
  // twenty brokers booting at once on two cores each missed their 90 s.
  const starts = pLimit(opts.startsAtOnce ?? Math.max(2, availableParallelism()));
  /** Seats waiting for a place to start, first in line first. */
  const waiting: number[] = [];
  /** Why a seat is in its state; for a seat in line, how many start before it, counted now. */
  const reasonOf = (n: number) => {
    const i = waiting.indexOf(n);
    return i < 0 ? runtime(n).reason : `waiting for ${i + 1} seat(s) ahead of it to start`;
  };
  const runtime = (n: number): SeatRuntime => {
    let r = rt.get(n);
    if (!r) { r = { state: backend.address(n) ? 'ready' : 'free', reason: '', starting: null, hostTyping: 0, readyAt: Date.now(), failedAt: 0 }; rt.set(n, r); }
    return r;
  };
  // Every keystroke of every attendee crosses this server. On a machine whose
  // cores the seats' labs fill, at normal priority it waited for a core
  // behind hundreds of niced backend sessions (35 ms p99, 146 ms worst, at
  // 30 seats); its own work is small, so it goes first. Only with
  // isolation, which runs as root: the only case that fills a machine.
  const restorePriority = backend.isolated ? raiseSessionPriority(WORKSHOP_SERVER_NICE) : () => {};
  let port = opts.port ?? 0;
  let baseUrl = '';
  const warnings: string[] = [];
  if (!backend.isolated) warnings.push('NO ISOLATION: seats run as the server\'s own user, without namespaces or limits (--no-isolation)');
  if (!listensLocally(host) && !opts.tls) {
    warnings.push(`listening on ${host} without TLS: tokens and cookies cross the network in clear; use --tls-cert and --tls-key`);
  }
  // Until a seat has been read, "everyone to lab" lists the labs every seat serves: the package's own.
  const catalog = loadLabs(join(PACKAGE_ROOT, 'labs')).labs.map((l) => ({ id: l.id, title: l.meta.title }));
  // The rate the room runs at: the seats' own, until the host sets one for all. Only the host hears what it costs.
  const traffic = { start: opts.trafficRate ?? WORKSHOP_TRAFFIC_RATE, now: opts.trafficRate ?? WORKSHOP_TRAFFIC_RATE };
  const hostWarnings = () => {
    const advice = capacityAdvice(opts.seats, availableParallelism(), traffic.now);
    return advice ? [...warnings, advice.warning] : warnings;
  };

  // ---- seats ----
  /** The seat's own lab API; a refusal becomes an HttpError with the seat's sentence. */
  const onSeat = async (n: number, method: string, path: string, body?: unknown) => {
    const a = backend.address(n);
    if (!a) throw new HttpError(409, `seat ${seatLabel(n)} is not running`);
    const r = await seatRequest(a, method, path, body, 60_000);
    if (r.status >= 400) {
      let said: string;
      try { said = (JSON.parse(r.body) as { error: string }).error; } catch { said = r.body.slice(0, 200); }
      throw new HttpError(r.status === 404 ? 404 : 502, `seat ${seatLabel(n)}: ${said}`);
    }
    return r;
  };
  /** Runs the seat's reset of `lab` (its starting state, progress cleared) and waits for it; then the attendee is on step 1. */
  const toLabStart = async (n: number, lab: string) => {
    await onSeat(n, 'POST', `/api/labs/${lab}/reset`, {});
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const st = JSON.parse((await onSeat(n, 'GET', `/api/labs/${lab}/reset`)).body) as { state: string; message: string };
      if (st.state === 'failed') throw new Error(st.message);
      if (st.state !== 'running') break;
      if (Date.now() > deadline) throw new Error('the reset did not finish within 5 minutes');
    }
    await onSeat(n, 'POST', `/api/labs/${lab}/progress`, { step: 0 });
  };
  /**
   * A new seat (no lab ever ran in it, no progress) starts where the first
   * lab starts, as that lab's Reset leaves it: lab 1 starts with the lab down,
   * so its attendee does step 1 themselves and no check asks for a reset.
   */
  const toFirstLabIfNew = async (n: number) => {
    const [labs, status] = await Promise.all([onSeat(n, 'GET', '/api/labs'), onSeat(n, 'GET', '/api/status')]);
    const list = (JSON.parse(labs.body) as { labs: { id: string; progress: { updatedAt: number | null } }[] }).labs;
    const st = JSON.parse(status.body) as { topology: Topology | null; components: unknown[] };
    if (!list.length || st.topology || st.components.length || list.some((l) => l.progress.updatedAt !== null)) return;
    await toLabStart(n, list[0]!.id);
  };
  /**
   * Waits until the lab the seat's server brings up as it starts is up, and
   * throws why when it failed (its state.json is rewritten at the start of
   * the up, so an upAt from before this start is an earlier lab).
   */
  const labSettled = async (n: number, since: number, topology: Topology) => {
    const deadline = Date.now() + LAB_SETTLE_MAX_MS;
    while (Date.now() < deadline) {
      const [st, op] = await Promise.all([onSeat(n, 'GET', '/api/status'), onSeat(n, 'GET', '/api/lab/operation')]);
      const status = JSON.parse(st.body) as { upAt?: number | null; components: { state: string }[] };
      const ops = JSON.parse(op.body) as { operation: unknown; last?: OperationOutcome | null };
      const failed = ops.last && ops.last.operation === 'up' && ops.last.startedAt >= since - 1000 ? ops.last.error : null;
      // The first line names the component and why; the log lines after it are in the seat's backend panel.
      if (failed) throw new Error(`its ${topology} lab did not come up: ${failed.split('\n')[0]}`);
      const begun = (status.upAt ?? 0) >= since || (status.components.length > 0 && status.components.every((c) => c.state === 'running'));
      if (begun && ops.operation === null && !status.components.some((c) => c.state === 'starting')) return;
      await new Promise((res) => setTimeout(res, 1000));
    }
  };
  /** Starts a seat; one whose lab failed starts afresh, after the retry pause unless the host asks (retryNow). */
  const startSeat = (n: number, retryNow = false): Promise<void> => {
    const r = runtime(n);
    if (r.starting) return r.starting;
    if (backend.address(n)) {
      if (r.state !== 'failed') { r.state = 'ready'; return Promise.resolve(); }
      if (!retryNow && Date.now() - r.failedAt < FAILED_RETRY_MS) return Promise.resolve();
    }
    r.state = 'starting';
    r.reason = '';
    waiting.push(n);
    r.starting = starts(async () => {
      waiting.splice(waiting.indexOf(n), 1);
      if (backend.address(n)) await backend.stop(n);
      const since = Date.now();
      const started = await backend.start(n);
      if (started.bringsUp) {
        r.reason = `bringing up its ${started.bringsUp} lab`;
        await labSettled(n, since, started.bringsUp);
        r.reason = '';
      }
      await toFirstLabIfNew(n);
      // The host set the room's traffic after the seats started: a new seat joins the room's rate. A seat
      // whose lab is not up has no traffic to set, and that is no reason to fail it.
      if (traffic.now !== traffic.start) await onSeat(n, 'POST', '/api/traffic', { rate: traffic.now }).catch(() => {});
    }).then(() => { r.state = 'ready'; r.readyAt = Date.now(); }, (err: Error) => {
      r.state = 'failed';
      r.reason = err.message;
      r.failedAt = Date.now();
      store.log(n, 'seat failed', err.message);
    }).finally(() => { r.starting = null; });
    return r.starting;
  };
  const stopSeat = async (n: number, why: string) => {
    await backend.stop(n);
    const r = runtime(n);
    r.state = store.seat(n)?.token ? 'stopped' : 'free';
    r.reason = why;
    r.reading = undefined;
  };
  const keepWarm = () => {
    const want = opts.warm ?? 0;
    if (!want) return;
    const free = store.seats(opts.seats).filter((s) => !s.token);
    const warm = free.filter((s) => ['ready', 'starting'].includes(runtime(s.seat).state));
    for (const s of free) {
      if (warm.length >= want) break;
      if (warm.includes(s)) continue;
      warm.push(s);
      void startSeat(s.seat);
    }
  };

  // ---- who is asking ----
  const seatCookie = () => cookieName(port, 'seat');
  const hostCookie = () => cookieName(port, 'host');
  const viewCookie = () => cookieName(port, 'view');
  const bearer = (req: IncomingMessage) => {
    const h = req.headers.authorization;
    return h && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : null;
  };
  const isHost = (req: IncomingMessage) => sameSecret(cookieOf(req, hostCookie()), store.hostToken) || sameSecret(bearer(req), store.hostToken);
  const seatOf = (req: IncomingMessage): SeatRecord | null => {
    const t = cookieOf(req, seatCookie()) ?? bearer(req);
    if (!t || t.length < 32) return null;
    const s = store.seatByToken(t);
    return s && s.seat <= opts.seats ? s : null;
  };
  /** The seat a request for /api (or /seats/N/api) goes to, or why not. */
  const route = (req: IncomingMessage): { seat: number; host: boolean; path: string } | { status: number; message: string } => {
    const url = req.url ?? '/';
    const m = /^\/seats\/(\d{1,3})(\/api(?:\/.*)?|\/?(?:\?.*)?)$/.exec(url);
    const seat = seatOf(req);
    const host = isHost(req);
    if (m) {
      const n = Number(m[1]);
      if (!(n >= 1 && n <= opts.seats)) return { status: 404, message: `there is no seat ${m[1]} (seats 1 to ${opts.seats})` };
      if (host || seat?.seat === n) return { seat: n, host: host && seat?.seat !== n, path: m[2]!.startsWith('/api') ? m[2]! : '/api/status' };
      return seat
        ? { status: 403, message: `your seat is ${seatLabel(seat.seat)}: seat ${m[1]} is not yours` }
        : { status: 401, message: 'join the workshop first: open the join URL the host gave you' };
    }
    if (seat) return { seat: seat.seat, host: false, path: url };
    if (host) {
      const v = Number(cookieOf(req, viewCookie()));
      if (v >= 1 && v <= opts.seats) return { seat: v, host: true, path: url };
      return { status: 409, message: 'as the host, open a seat from the dashboard first (its "open" link)' };
    }
    return { status: 401, message: 'join the workshop first: open the join URL the host gave you' };
  };

  // ---- the proxy ----
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, proxyTimeout: 120_000, agent: seatAgent });
  proxy.on('error', (err: Error, _req: IncomingMessage, res: unknown) => {
    const r = res as { headersSent?: boolean; writeHead?: (s: number, h: Record<string, string>) => void; end?: (b: string) => void; destroy?: () => void };
    if (r && typeof r.writeHead === 'function' && !r.headersSent) {
      r.writeHead(502, { 'content-type': 'application/json' });
      r.end!(JSON.stringify({ error: `your seat's server did not answer (${err.message}); wait a moment and reload, or ask the host` }));
    } else r?.destroy?.();
  });
  /** Resolves the seat's address, starting a stopped seat on the way. */
  const addressFor = async (n: number) => {
    let a = backend.address(n);
    if (!a && store.seat(n)?.token) { await startSeat(n); a = backend.address(n); }
    return a;
  };
  const forward = (req: IncomingMessage, path: string, seat: number) => {
    req.url = path;
    // Our cookies are ours: the seat server sees only its own bearer token.
    delete req.headers.cookie;
    delete req.headers.authorization;
    return backend.address(seat);
  };

  // ---- HTTP ----
  const app = express();
  app.disable('x-powered-by');
  // The deck's speaker view needs inline scripts under /slides, as on the lab server.
  app.use(securityHeaders({ inlineScriptsUnder: ['/slides'] }));
  app.use((req, res, next) => {
    // State-changing requests must come from our own pages. The join form is
    // a plain form post: its Origin is checked; everything else also needs
    // JSON (or the project's request header), as on the lab server.
    if (req.method === 'POST' && /^\/join\/[^/]+$/.test(req.path)) {
      if (!isSameOrigin(req)) { sendError(res, 403, 'a join must come from the workshop\'s own join page'); return; }
    } else {
      const refused = stateChangeRefusal(req);
      if (refused) { sendError(res, refused.status, refused.error); return; }
    }
    next();
  });

  const html = (res: Response, status: number, title: string, body: string) => {
    res.status(status).type('html').send(page(title, body, warnings));
  };

  const badJoinCode = (res: Response) => html(res, 404, 'No such workshop', '<p>This join link is not valid. Ask the host for the current one.</p>');

  // Join: a seat for this browser, the same one on reload or a second tab.
  app.get('/join/:code', (req, res) => {
    if (!sameSecret(String(req.params.code), store.joinCode)) { badJoinCode(res); return; }
    const seat = seatOf(req);
    if (seat) { res.redirect(302, '/workshop/seat'); return; }
    html(res, 200, 'Join the workshop', `<form method="post" action="/join/${escapeHtml(store.joinCode)}">
      <label>Your name (optional, shown to the host) <input name="name" maxlength="60" autocomplete="name"></label>
      <button type="submit">Take a seat</button></form>`);
  });
  app.post('/join/:code', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    if (!sameSecret(String(req.params.code), store.joinCode)) { badJoinCode(res); return; }
    const had = seatOf(req);
    if (had) { res.redirect(303, '/workshop/seat'); return; }
    const body = nameBody.safeParse(req.body ?? {});
    if (!body.success) { html(res, 400, 'Join the workshop', `<p>${escapeHtml(body.error.issues[0]?.message ?? 'bad input')}</p>`); return; }
    // A warm seat first, so the join is instant.
    const warm = store.seats(opts.seats).filter((s) => !s.token && runtime(s.seat).state === 'ready').map((s) => s.seat);
    const seat = store.assign(body.data.name?.trim() ?? '', opts.seats, warm);
    if (!seat) {
      html(res, 503, 'Workshop full', `<p>Every one of the ${opts.seats} seats is taken. `
        + 'Tell the host: they can free a seat, or start the workshop with more.</p>');
      return;
    }
    store.log(seat.seat, 'joined', seat.attendee);
    res.cookie(seatCookie(), seat.token!, { httpOnly: true, sameSite: 'strict', path: '/', secure: !!opts.tls });
    void startSeat(seat.seat).then(keepWarm);
    res.redirect(303, '/workshop/seat');
  });

  // A printed card opens its own seat, on any browser that holds it.
  app.get('/card/:n/:key', (req, res) => {
    const n = Number(req.params.n);
    if (!(n >= 1 && n <= opts.seats) || !sameSecret(String(req.params.key), cardKey(store.hostToken, n))) {
      html(res, 404, 'No such seat', '<p>This card\'s link is not valid for this workshop. Ask the host.</p>');
      return;
    }
    const seat = store.claim(n)!;
    store.log(n, 'card opened');
    res.cookie(seatCookie(), seat.token!, { httpOnly: true, sameSite: 'strict', path: '/', secure: !!opts.tls });
    void startSeat(n);
    res.redirect(302, '/workshop/seat');
  });

  // The attendee's seat: waits while it starts, then the workbook.
  app.get('/workshop/seat', (req, res) => {
    const seat = seatOf(req);
    if (!seat) { html(res, 401, 'Not joined', '<p>Open the join link the host gave you to take a seat.</p>'); return; }
    const r = runtime(seat.seat);
    if (r.state === 'ready') { res.redirect(302, '/labs/'); return; }
    if (r.state !== 'starting') void startSeat(seat.seat);
    res.setHeader('Refresh', '2');
    html(res, 200, `Seat ${seatLabel(seat.seat)}`, r.state === 'failed'
      ? `<p>Your seat could not start: ${escapeHtml(r.reason)}. The host has been told; this page retries.</p>`
      : `<p>Your lab is starting (its own broker, routers and services)${reasonOf(seat.seat) ? `: ${escapeHtml(reasonOf(seat.seat))}` : ''}. `
        + 'This page moves on by itself when it is ready.</p>');
  });
  app.get('/workshop/me', (req, res) => {
    const seat = seatOf(req);
    if (!seat && isHost(req)) { res.status(204).end(); return; } // the host viewing a seat has no seat bar
    if (!seat) { sendError(res, 401, 'join the workshop first: open the join URL the host gave you'); return; }
    const r = runtime(seat.seat);
    res.json({
      seat: seat.seat, label: seatLabel(seat.seat), attendee: seat.attendee, state: r.state, help: seat.help, warnings, hostTyping: r.hostTyping > 0,
    });
  });
  app.post('/workshop/help', express.json({ limit: '8kb' }), (req, res) => {
    const seat = seatOf(req);
    if (!seat) { sendError(res, 401, 'join the workshop first: open the join URL the host gave you'); return; }
    const b = parseBody(helpBody, req.body);
    store.askHelp(seat.seat, b.question);
    res.status(202).json({ ok: true });
  });

  // ---- the host ----
  const requireHost = (req: Request, res: Response, next: NextFunction) => {
    if (isHost(req)) { next(); return; }
    if (seatOf(req)) { sendError(res, 403, 'this is the host\'s dashboard; your seat token does not open it'); return; }
    sendError(res, 401, 'the host token is required: open the host URL printed by "hmlab workshop serve"');
  };
  app.get('/host', (req, res, next) => {
    const q = typeof req.query.token === 'string' ? req.query.token : null;
    if (q && sameSecret(q, store.hostToken)) {
      res.cookie(hostCookie(), q, { httpOnly: true, sameSite: 'strict', path: '/', secure: !!opts.tls });
      res.redirect(302, '/host');
      return;
    }
    next();
  }, requireHost, (_req, res) => {
    const f = join(webRoot, 'widgets', 'pages', 'workshop-host.html');
    if (!existsSync(f)) { sendError(res, 404, 'page not built: run "npm run build"'); return; }
    res.sendFile(f);
  });
  const hostApi = express.Router();
  app.use('/host/api', requireHost, express.json({ limit: '16kb' }), hostApi);
  app.get('/host/seats/:n/open', requireHost, (req, res) => {
    const n = Number(req.params.n);
    if (!(n >= 1 && n <= opts.seats)) { sendError(res, 404, `there is no seat ${req.params.n}`); return; }
    const to = typeof req.query.to === 'string' && /^\/(labs\/|flow|terminal)/.test(req.query.to) ? req.query.to : '/labs/';
    store.log(n, 'host opened', to);
    res.cookie(viewCookie(), String(n), { httpOnly: true, sameSite: 'strict', path: '/', secure: !!opts.tls });
    res.redirect(302, to);
  });

  const seatN = (req: Request) => {
    const n = Number(req.params.n);
    if (!(Number.isInteger(n) && n >= 1 && n <= opts.seats)) throw new HttpError(404, `there is no seat ${req.params.n} (seats 1 to ${opts.seats})`, 'seat');
    return n;
  };
  const room = (): WorkshopRoom => {
    const seats = store.seats(opts.seats).map((s): WorkshopSeatView => {
      const r = runtime(s.seat);
      const u = backend.usage(s.seat);
      return {
        seat: s.seat, label: seatLabel(s.seat), state: r.state === 'free' && s.token ? 'stopped' : r.state, reason: reasonOf(s.seat),
        attendee: s.attendee, taken: !!s.token, ...progressOf(r.reading),
        lastActivity: s.lastActivity, help: s.help, memoryBytes: u?.memoryBytes ?? null, processes: u?.processes.length ?? null,
      };
    });
    const readings = [...rt.values()].map((r) => r.reading).filter((r): r is SeatReading => !!r);
    const labs = readings[0]?.labs.map((l) => ({ id: l.id, title: l.title })) ?? catalog;
    return {
      title: 'Workshop', joinUrl: `${baseUrl}/join/${store.joinCode}`, isolated: backend.isolated, warnings: hostWarnings(), traffic: { ...traffic }, seats,
      stuck: whereStuck(readings), log: store.recentLog(50), labs,
    };
  };

  hostApi.get('/room', (_req, res) => { res.json(room()); });
  // The join URL as a QR code, to show on the projector.
  hostApi.get('/join.svg', (_req, res) => { res.type('image/svg+xml').send(renderSVG(`${baseUrl}/join/${store.joinCode}`)); });
  hostApi.post('/seats/:n/start', async (req, res) => {
    const n = seatN(req);
    store.log(n, 'start seat');
    void startSeat(n, true);
    res.status(202).json({ ok: true });
  });
  /**
   * A lab back to its starting state in one seat, in the background: the
   * seat's reset runs for tens of seconds; when it is done the attendee's
   * place is set to the lab's first step, so the dashboard shows them there.
   */
  const resetLab = (n: number, lab: string) => {
    toLabStart(n, lab).then(() => labCameUp(n), (err: Error) => store.log(n, 'reset failed', `${lab}: ${err.message}`));
  };
  /** A seat that failed because its lab did not come up is ready once a host's reset or restart brings one up. */
  const labCameUp = (n: number) => {
    const r = runtime(n);
    if (r.state === 'failed' && backend.address(n)) { r.state = 'ready'; r.reason = ''; r.readyAt = Date.now(); }
  };

  hostApi.post('/seats/:n/reset', async (req, res) => {
    const n = seatN(req);
    const b = parseBody(resetBody, req.body);
    if (!backend.address(n)) throw new HttpError(409, `seat ${seatLabel(n)} is not running`);
    store.log(n, b.clearProgress ? 'reset lab (progress cleared)' : 'restart lab (progress kept)', b.lab);
    if (b.clearProgress) resetLab(n, b.lab);
    else {
      const lab = (JSON.parse((await onSeat(n, 'GET', `/api/labs/${b.lab}`)).body) as { topology: Topology });
      await onSeat(n, 'POST', '/api/lab/down', { wait: true });
      const since = Date.now();
      await onSeat(n, 'POST', '/api/lab/up', { topology: lab.topology });
      labSettled(n, since, lab.topology).then(() => labCameUp(n), (err: Error) => store.log(n, 'restart failed', err.message));
    }
    res.status(202).json({ ok: true });
  });
  hostApi.post('/seats/:n/free', async (req, res) => {
    const n = seatN(req);
    store.log(n, 'free seat', store.seat(n)?.attendee ?? '');
    store.free(n);
    runtime(n).state = 'stopped';
    // The next attendee gets a fresh seat: no files, no progress of the last one.
    await backend.destroy(n);
    runtime(n).state = 'free';
    runtime(n).reading = undefined;
    keepWarm();
    res.json({ ok: true });
  });
  hostApi.post('/seats/:n/answered', (req, res) => {
    const n = seatN(req);
    store.log(n, 'help answered', store.seat(n)?.help?.question ?? '');
    store.answerHelp(n);
    res.json({ ok: true });
  });
  hostApi.post('/all/lab', (req, res) => {
    const b = parseBody(allLabBody, req.body);
    store.log(null, 'everyone to lab', b.lab);
    const ready = store.seats(opts.seats).filter((s) => s.token && backend.address(s.seat));
    for (const s of ready) resetLab(s.seat, b.lab);
    res.status(202).json({ seats: ready.length });
  });
  hostApi.post('/all/traffic', async (req, res) => {
    const b = parseBody(trafficBody, req.body);
    store.log(null, b.rate === 0 ? 'pause all traffic' : 'set all traffic', String(b.rate));
    traffic.now = b.rate;
    const ready = store.seats(opts.seats).filter((s) => backend.address(s.seat));
    await Promise.allSettled(ready.map((s) => onSeat(s.seat, 'POST', '/api/traffic', { rate: b.rate })));
    res.json({ seats: ready.length });
  });
  hostApi.get('/progress.csv', (_req, res) => {
    const r = room();
    const labIds = r.labs.map((l) => l.id);
    const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const lines = [['seat', 'attendee', 'state', 'lab', 'step', ...labIds].map(q).join(',')];
    for (const s of r.seats) {
      const by = new Map(s.labs.map((l) => [l.id, `${l.passed}/${l.total}`]));
      const row = [s.label, s.attendee, s.state, s.lab ?? '', s.step === null ? '' : String(s.step + 1), ...labIds.map((id) => by.get(id) ?? '')];
      lines.push(row.map(q).join(','));
    }
    res.type('text/csv').attachment('workshop-progress.csv').send(lines.join('\n') + '\n');
  });

  // ---- everything else: the attendee's own seat ----
  app.use('/api', async (req, res) => {
    const r = route(req);
    if ('status' in r) { sendError(res, r.status, r.message); return; }
    if (!r.host) store.touch(r.seat);
    const a = await addressFor(r.seat);
    if (!a) { sendError(res, 503, `seat ${seatLabel(r.seat)} is starting: try again in a few seconds`); return; }
    forward(req, req.originalUrl, r.seat);
    const headers = { authorization: `Bearer ${a.token}`, host: req.headers.host ?? 'seat' };
    await proxy.web(req, res, { target: { socketPath: a.socketPath } as never, headers });
  });
  app.use('/seats', async (req, res) => {
    const r = route(Object.assign(req, { url: req.originalUrl }));
    if ('status' in r) { sendError(res, r.status, r.message); return; }
    const a = await addressFor(r.seat);
    if (!a) { sendError(res, 503, `seat ${seatLabel(r.seat)} is starting: try again in a few seconds`); return; }
    forward(req, r.path, r.seat);
    await proxy.web(req, res, { target: { socketPath: a.socketPath } as never, headers: { authorization: `Bearer ${a.token}` } });
  });
  const pageFile = (file: string) => (_req: Request, res: Response) => {
    const f = join(webRoot, file);
    if (!existsSync(f)) { sendError(res, 404, `page not built: run "npm run build" (missing ${file})`); return; }
    res.sendFile(f);
  };
  app.get('/', (req, res, next) => {
    if (!seatOf(req) && !isHost(req)) { html(res, 401, 'Workshop', '<p>Open the join link the host gave you to take a seat.</p>'); return; }
    next();
  });
  app.get('/terminal', pageFile('widgets/pages/terminal.html'));
  app.get('/flow', pageFile('widgets/pages/flow.html'));
  app.use(express.static(webRoot, { index: 'index.html', redirect: true }));
  app.use(express.static(join(PACKAGE_ROOT, 'public')));
  app.use(errorHandler(opts.log));

  const server: Server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, app) as unknown as Server
    : createHttpServer(app);
  // Upgraded sockets (terminals, event streams) are not the HTTP server's to close: close() ends them itself.
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const refuse = (code: number, text: string) => {
      socket.write(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${text}\n`);
      socket.destroy();
    };
    socket.on('error', () => socket.destroy());
    if (!isSameOrigin(req)) return refuse(403, 'Forbidden');
    const r = route(req);
    if ('status' in r) return refuse(r.status, r.status === 403 ? 'Forbidden' : r.status === 401 ? 'Unauthorized' : 'Not Found');
    if (!r.host) store.touch(r.seat);
    // The attendee sees when the host types in their terminal.
    const hostTyping = r.host && /\/api\/terminals\//.test(req.url ?? '') && !/[?&]readonly=1\b/.test(req.url ?? '');
    if (hostTyping) {
      const rtS = runtime(r.seat);
      rtS.hostTyping++;
      socket.once('close', () => { rtS.hostTyping--; });
    }
    void addressFor(r.seat).then((a) => {
      if (!a) return refuse(503, 'Service Unavailable');
      const path = new URL(req.url ?? '/', 'http://x').pathname.startsWith('/seats/') ? r.path : req.url!;
      forward(req, path, r.seat);
      // A host watching a seat's terminal sees it read-only unless the dashboard asked to type.
      proxy.ws(req, socket, head, { target: { socketPath: a.socketPath } as never, headers: { authorization: `Bearer ${a.token}` } });
    }, () => refuse(502, 'Bad Gateway'));
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, host, () => { server.off('error', rej); res(); });
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  baseUrl = `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}`;

  // ---- background: readings for the dashboard, warm seats, idle seats ----
  const readOne = async (s: SeatRecord) => {
    const r = runtime(s.seat);
    const a = backend.address(s.seat);
    if (!a) { if (r.state === 'ready') r.state = s.token ? 'stopped' : 'free'; return; }
    r.reading = await readSeat(a);
    // Idle since the attendee's last request (read again: the reading took a while), or since the seat came back.
    const last = store.seat(s.seat)?.lastActivity ?? null;
    if (opts.idleMs && s.token && last && Date.now() - Math.max(last, r.readyAt) > opts.idleMs && r.state === 'ready') {
      store.log(s.seat, 'idle seat stopped', `${Math.round(opts.idleMs / 60_000)} min without use`);
      await stopSeat(s.seat, 'stopped after being idle; it starts again when its attendee comes back');
    }
  };
  const poll = async () => { await Promise.all(store.seats(opts.seats).map(readOne)); };
  // One seat per tick, each seat once per pollMs: asked all at once, the seats' servers
  // would answer in one burst every pollMs, and every keystroke in the room would wait behind it.
  const reading = new Set<number>(); // seats whose reading is under way: a slow seat is not asked twice
  let nextSeat = 0;
  const timer = setInterval(() => {
    const seats = store.seats(opts.seats);
    const s = seats[nextSeat++ % Math.max(1, seats.length)];
    if (!s || reading.has(s.seat)) return;
    reading.add(s.seat);
    // A seat whose stop fails (after idling) must not take the workshop server down: say it, try again next round.
    void readOne(s).catch((err: Error) => opts.log?.(`seat ${seatLabel(s.seat)}: ${err.message}`)).finally(() => reading.delete(s.seat));
  }, Math.max(10, (opts.pollMs ?? DEFAULT_POLL_MS) / opts.seats));
  timer.unref();
  keepWarm();
  // Seats that had attendees when the server last stopped come back with their progress (it lives in their homes).
  for (const s of store.seats(opts.seats)) if (s.token) void startSeat(s.seat);

  return {
    url: baseUrl,
    hostUrl: `${baseUrl}/host?token=${store.hostToken}`,
    joinUrl: `${baseUrl}/join/${store.joinCode}`,
    store,
    room,
    poll,
    server,
    async close(o = {}) {
      clearInterval(timer);
      for (const s of upgraded) s.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      proxy.close?.();
      if (o.stopSeats !== false) await Promise.all(store.seats(opts.seats).map((s) => backend.stop(s.seat).catch(() => undefined)));
      store.close();
      restorePriority();
    },
  };
}
