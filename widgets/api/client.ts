// The browser's way to the lab server: LabClient for the HTTP API, and two
// event streams with one interface: EventStream (live, WebSocket /api/events)
// and ReplayStream (a recording played at real speed), so every widget works
// the same with backends or with none.
import type { ApiError, ComponentStatus, LabEvent, LabStatus, Topology, WanStatus } from '../../common/wire.js';
import { parseLabEvent, describeIssue } from './schema.js';
import { isRecordingName, replayHeaderSchema, type ReplayHeader } from '../../common/recording.js';

// ---- HTTP API ---------------------------------------------------------------

export type ComponentAction = 'start' | 'stop' | 'kill' | 'restart';
export const COMPONENT_ACTIONS: readonly ComponentAction[] = ['start', 'stop', 'kill', 'restart'];

/** An API call that failed: the server's sentence, the field at fault, the HTTP status. */
export class ApiRequestError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** What the server says about the recorder (fields beyond these are ignored). */
export interface RecordingState {
  active: boolean;
  file?: string | null; // NAME.jsonl in the lab home's recordings
  name?: string;
  events?: number;
  /** Why the last recording stopped by itself (its size or duration cap). */
  stoppedBy?: string;
}

export class LabClient {
  /** base: where the lab server is; '' means the page's own origin. */
  constructor(readonly base = '') {}

  status(): Promise<LabStatus> {
    return this.request<LabStatus>('GET', '/api/status');
  }
  /** Brings a lab up; the server may answer at once (202) and report progress on the event stream. */
  up(topology: Topology): Promise<unknown> {
    return this.request('POST', '/api/lab/up', { topology });
  }
  down(): Promise<unknown> {
    return this.request('POST', '/api/lab/down', {});
  }
  component(name: string, action: ComponentAction): Promise<ComponentStatus | unknown> {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ApiRequestError(0, `component name "${name}" is not valid: use the names "hmlab status" shows`, 'name');
    if (!COMPONENT_ACTIONS.includes(action)) throw new ApiRequestError(0, `action must be one of ${COMPONENT_ACTIONS.join(', ')}`, 'action');
    return this.request('POST', `/api/components/${encodeURIComponent(name)}/${action}`, {});
  }
  /** multi-region: change the WAN's delay, jitter or rate cap, or cut / heal it. */
  wan(change: { delayMs?: number; jitterMs?: number; rateBitsPerS?: number | null; state?: 'up' | 'cut' }): Promise<WanStatus> {
    return this.request<WanStatus>('POST', '/api/wan', change);
  }
  traffic(rate: number): Promise<unknown> {
    if (!Number.isFinite(rate) || rate < 0) throw new ApiRequestError(0, 'rate must be a number of operations per second, 0 or more', 'rate');
    return this.request('POST', '/api/traffic', { rate });
  }
  /** Start or stop recording the event stream into the lab home; the answer names the file. */
  recording(action: 'start' | 'stop'): Promise<RecordingState> {
    return this.request('POST', '/api/recording', { action });
  }
  recordingState(): Promise<RecordingState> {
    return this.request('GET', '/api/recording');
  }
  recordings(): Promise<unknown> {
    return this.request('GET', '/api/recordings');
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiRequestError(0, `lab server unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    let data: unknown = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
    if (!res.ok) {
      const e = (data ?? {}) as Partial<ApiError>;
      const reason = typeof e.error === 'string' ? e.error
        : res.status === 401 ? 'not signed in: open the URL that "hmlab serve" printed (it carries the token)'
        : `HTTP ${res.status}`;
      throw new ApiRequestError(res.status, reason, typeof e.field === 'string' ? e.field : undefined);
    }
    return data as T;
  }
}

// ---- Event streams ------------------------------------------------------------

export type StreamMode = 'live' | 'replay';
/** connecting -> open; reconnecting after a drop (live); ended after the last event (replay); closed by close() or a fatal error. */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'closed';

export interface LabStream {
  readonly mode: StreamMode;
  readonly state: StreamState;
  /** Where the events come from, for display: "live" or the recording's name. */
  readonly source: string;
  /** Latest full lab status (from hello/status events, kept up to date by component events). */
  readonly status: LabStatus | null;
  /** The recording's header (replay only). */
  readonly header: ReplayHeader | null;
  /** The stream's clock (epoch ms): server time when live, recorded time when replaying. */
  now(): number;
  /**
   * Receive every event. A late subscriber first gets what it missed that
   * still matters: a hello with the current status and the last snapshots.
   */
  subscribe(fn: (ev: LabEvent) => void): () => void;
  onState(fn: (state: StreamState, detail: string | null) => void): () => void;
  /** Events that failed validation (dropped), and the last reason. */
  readonly invalid: { count: number; last: string | null };
  close(): void;
}

abstract class StreamBase implements LabStream {
  abstract readonly mode: StreamMode;
  abstract readonly source: string;
  state: StreamState = 'connecting';
  detail: string | null = null;
  status: LabStatus | null = null;
  header: ReplayHeader | null = null;
  invalid = { count: 0, last: null as string | null };
  private subs = new Set<(ev: LabEvent) => void>();
  private stateSubs = new Set<(s: StreamState, d: string | null) => void>();
  // Catch-up for late subscribers: the latest snapshot of each router and of the broker.
  private lastRouter = new Map<string, LabEvent>();
  private lastBroker: LabEvent | null = null;
  private lastRates: LabEvent | null = null;

  abstract now(): number;
  abstract close(): void;

  subscribe(fn: (ev: LabEvent) => void): () => void {
    this.subs.add(fn);
    const catchUp: LabEvent[] = [];
    if (this.status) catchUp.push({ type: 'hello', t: this.now(), status: this.status, replay: this.mode === 'replay' });
    catchUp.push(...this.lastRouter.values());
    if (this.lastBroker) catchUp.push(this.lastBroker);
    if (this.lastRates) catchUp.push(this.lastRates);
    for (const ev of catchUp) this.deliverTo(fn, ev);
    return () => { this.subs.delete(fn); };
  }

  onState(fn: (s: StreamState, d: string | null) => void): () => void {
    this.stateSubs.add(fn);
    fn(this.state, this.detail);
    return () => { this.stateSubs.delete(fn); };
  }

  protected setState(s: StreamState, detail: string | null = null): void {
    if (s === this.state && detail === this.detail) return;
    this.state = s;
    this.detail = detail;
    for (const fn of this.stateSubs) { try { fn(s, detail); } catch (err) { console.error(err); } }
  }

  /** Validate and deliver one raw event. */
  protected ingest(raw: unknown): void {
    const r = parseLabEvent(raw);
    if (!r.ok) {
      this.invalid.count++;
      this.invalid.last = r.error;
      if (this.invalid.count <= 5) console.warn(`lab event ignored: ${r.error}`);
      return;
    }
    this.emit(r.value);
  }

  protected emit(ev: LabEvent): void {
    this.track(ev);
    for (const fn of this.subs) this.deliverTo(fn, ev);
  }

  private deliverTo(fn: (ev: LabEvent) => void, ev: LabEvent): void {
    // A widget's bug must not starve the others.
    try { fn(ev); } catch (err) { console.error('lab event handler failed', err); }
  }

  private track(ev: LabEvent): void {
    switch (ev.type) {
      case 'hello':
      case 'status':
        this.status = ev.status;
        break;
      case 'component': {
        const c = this.status?.components.find((x) => x.name === ev.name);
        if (c) { c.state = ev.state; c.pid = ev.pid; if (ev.detail !== undefined) c.detail = ev.detail; }
        break;
      }
      case 'failover': {
        const c = this.status?.components.find((x) => x.name === ev.service);
        if (c) c.connectedTo = ev.to;
        break;
      }
      case 'router': this.lastRouter.set(ev.snapshot.router, ev); break;
      case 'broker': this.lastBroker = ev; break;
      case 'rates': this.lastRates = ev; break;
      default: break;
    }
  }

  protected resetCatchUp(): void {
    this.lastRouter.clear();
    this.lastBroker = null;
    this.lastRates = null;
  }
}

export interface EventStreamOptions {
  /** WebSocket URL; default: /api/events on the page's own origin (the cookie carries the token). */
  url?: string;
  /** Reconnect delays grow from minDelayMs to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** Live events from the lab server, reconnecting on its own after any drop. */
export class EventStream extends StreamBase {
  readonly mode = 'live' as const;
  readonly source = 'live';
  private ws: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private clockOffset = 0; // server clock minus ours, from each hello
  private readonly url: string;

  constructor(private readonly opts: EventStreamOptions = {}) {
    super();
    this.url = opts.url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`;
    this.connect();
  }

  now(): number { return Date.now() + this.clockOffset; }

  private connect(): void {
    if (this.closed) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting', this.attempt === 0 ? null : `attempt ${this.attempt + 1}`);
    let ws: WebSocket;
    try { ws = new WebSocket(this.url); } catch (err) { this.retry(String((err as Error).message)); return; }
    this.ws = ws;
    let opened = false;
    // Back-off resets on the server's hello, not on open: a server at its
    // client cap accepts the socket, then closes it (1013) with the reason.
    ws.onopen = () => { opened = true; this.setState('open'); };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let data: unknown;
      try { data = JSON.parse(m.data); } catch { this.invalid.count++; this.invalid.last = 'frame is not JSON'; return; }
      const list = Array.isArray(data) ? data : [data];
      for (const raw of list) {
        if (raw && typeof raw === 'object' && (raw as { type?: unknown }).type === 'hello' && typeof (raw as { t?: unknown }).t === 'number') {
          this.clockOffset = (raw as { t: number }).t - Date.now();
          this.attempt = 0;
        }
        this.ingest(raw);
      }
    };
    ws.onclose = (e) => {
      this.ws = null;
      if (this.closed) return;
      // A refused upgrade (bad token, foreign origin) shows as 1006 before open.
      const why = !opened ? 'cannot connect: is "hmlab serve" running, and did you open its URL with the token?'
        : e.code === 1013 ? `the lab server refused this page: ${e.reason || 'too many clients'}`
        : `connection lost (code ${e.code})`;
      this.retry(why);
    };
    ws.onerror = () => { /* onclose follows and decides */ };
  }

  private retry(why: string): void {
    if (this.closed) return;
    this.attempt++;
    const min = this.opts.minDelayMs ?? 500;
    const max = this.opts.maxDelayMs ?? 5000;
    const delay = Math.min(max, min * 2 ** Math.min(this.attempt - 1, 6));
    this.setState('reconnecting', `${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'closed by the page');
    this.ws = null;
    this.setState('closed');
  }
}

export interface ReplayOptions {
  /** Name of a recording under replayBase (NAME.jsonl), or a full URL/path ending in .jsonl. */
  name: string;
  /** Where recordings are served; default "/recordings/". */
  replayBase?: string;
  /** Start again after the last event (a demo that runs on stage for as long as needed). */
  loop?: boolean;
  /** 1 = real speed. */
  speed?: number;
}

/** A recorded event stream played at real speed into the same widgets. */
export class ReplayStream extends StreamBase {
  readonly mode = 'replay' as const;
  readonly source: string;
  readonly ready: Promise<void>;
  private events: LabEvent[] = [];
  private idx = 0;
  private t0 = 0; // recorded time of the first event
  private wall0 = 0; // performance.now() when it was played
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly speed: number;

  constructor(private readonly opts: ReplayOptions) {
    super();
    this.source = opts.name.replace(/\.jsonl$/, '').split('/').pop() || opts.name;
    this.speed = opts.speed && opts.speed > 0 ? opts.speed : 1;
    this.ready = this.load().catch((err) => { this.setState('closed', (err as Error).message); });
  }

  now(): number {
    if (this.events.length === 0) return Date.now();
    return this.t0 + (performance.now() - this.wall0) * this.speed;
  }

  /** Recorded length in ms. */
  get durationMs(): number {
    return this.events.length ? this.events[this.events.length - 1].t - this.events[0].t : 0;
  }

  private url(): string {
    const n = this.opts.name;
    if (n.endsWith('.jsonl') && n.includes('/')) return n;
    if (!isRecordingName(n.replace(/\.jsonl$/, ''))) throw new Error(`replay name "${n}" is not valid: use a recording's file name like "failover" (letters, digits, . _ -)`);
    const base = this.opts.replayBase ?? '/recordings/';
    return `${base.endsWith('/') ? base : base + '/'}${n.replace(/\.jsonl$/, '')}.jsonl`;
  }

  private async load(): Promise<void> {
    const url = this.url();
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`recording "${this.source}" not found (HTTP ${res.status} for ${url})`);
    const text = await res.text();
    const lines = text.split('\n');
    let first = 0;
    while (first < lines.length && !lines[first].trim()) first++;
    let head: unknown;
    try { head = JSON.parse(lines[first] ?? ''); } catch { throw new Error(`recording "${this.source}": line ${first + 1} is not JSON; the first line must be the recording header`); }
    const h = replayHeaderSchema.safeParse(head);
    if (!h.success) throw new Error(`recording "${this.source}": bad header, ${describeIssue(h.error)}`);
    this.header = h.data;
    for (let i = first + 1; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      let raw: unknown;
      try { raw = JSON.parse(line); } catch { this.invalid.count++; this.invalid.last = `line ${i + 1} is not JSON`; continue; }
      const r = parseLabEvent(raw);
      if (r.ok) this.events.push(r.value);
      else { this.invalid.count++; this.invalid.last = `line ${i + 1}: ${r.error}`; }
    }
    if (this.events.length === 0) throw new Error(`recording "${this.source}" holds no valid events${this.invalid.last ? ` (${this.invalid.last})` : ''}`);
    // Recordings are written in order, but be robust to small reorderings.
    this.events.sort((a, b) => a.t - b.t);
    if (this.closed) return;
    this.start();
  }

  private start(): void {
    this.idx = 0;
    this.t0 = this.events[0].t;
    this.wall0 = performance.now();
    this.resetCatchUp();
    this.setState('open');
    // A recording that does not begin with a hello still gets the topology from its first status.
    if (this.events[0].type !== 'hello') {
      const st = this.events.find((e) => e.type === 'hello' || e.type === 'status');
      if (st && (st.type === 'hello' || st.type === 'status')) this.emit({ type: 'hello', t: this.t0, status: structuredClone(st.status), replay: true });
    }
    this.pump();
  }

  private pump = (): void => {
    this.timer = null;
    if (this.closed) return;
    const due = this.t0 + (performance.now() - this.wall0) * this.speed;
    while (this.idx < this.events.length && this.events[this.idx].t <= due) {
      const ev = this.events[this.idx++];
      // Widgets mutate nothing, but status objects are tracked and updated here; keep the recording pristine for loops.
      this.emit(ev.type === 'hello' || ev.type === 'status' ? { ...ev, status: structuredClone(ev.status), ...(ev.type === 'hello' ? { replay: true } : {}) } as LabEvent : ev);
    }
    if (this.idx >= this.events.length) {
      if (this.opts.loop) { this.timer = setTimeout(() => this.start(), 1000); return; }
      this.setState('ended', 'end of recording');
      return;
    }
    const wait = Math.max(0, (this.events[this.idx].t - due) / this.speed);
    this.timer = setTimeout(this.pump, Math.min(wait, 250));
  };

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.setState('closed');
  }
}

// ---- Choosing a stream ------------------------------------------------------------

export interface CreateStreamOptions {
  /** Play this recording, never connect. */
  replay?: string;
  /** If the lab server is unreachable or refuses us (static build, no token), play this instead. */
  fallbackReplay?: string;
  loop?: boolean;
  replayBase?: string;
  /** Base of the lab server for the probe; default: the page's origin. */
  base?: string;
}

export interface CreatedStream {
  stream: LabStream;
  mode: StreamMode;
  /** Why this mode, in words a presenter can read off the screen. */
  reason: string;
}

/** Live when the lab server answers, else the fallback recording. */
export async function createStream(opts: CreateStreamOptions = {}): Promise<CreatedStream> {
  const replayOf = (name: string, reason: string): CreatedStream => ({
    stream: new ReplayStream({ name, loop: opts.loop, replayBase: opts.replayBase }),
    mode: 'replay',
    reason,
  });
  if (opts.replay) return replayOf(opts.replay, `replaying recording "${opts.replay}"`);
  let problem: string | null = null;
  try {
    const res = await fetch(`${opts.base ?? ''}/api/status`, { credentials: 'same-origin' });
    if (res.status === 401) problem = 'the lab server needs its token (open the URL "hmlab serve" printed)';
    else if (!res.ok) problem = `no lab server here (HTTP ${res.status})`;
    else if (!(res.headers.get('content-type') ?? '').includes('json')) problem = 'no lab server here (static pages only)';
  } catch (err) {
    problem = `lab server unreachable (${(err as Error).message})`;
  }
  if (problem && opts.fallbackReplay) return replayOf(opts.fallbackReplay, `${problem}: replaying recording "${opts.fallbackReplay}"`);
  const base = opts.base ? opts.base.replace(/^http/, 'ws') : `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  return { stream: new EventStream({ url: `${base}/api/events` }), mode: 'live', reason: problem ?? 'live from the lab server' };
}

/** The stream a page asks for in its URL: ?replay=NAME (&loop=1, &source=home), else live with an optional fallback. */
export function createStreamFromLocation(fallbackReplay?: string, search: string = location.search): Promise<CreatedStream> {
  const q = new URLSearchParams(search);
  const replay = q.get('replay') ?? undefined;
  if (replay !== undefined && !isRecordingName(replay.replace(/\.jsonl$/, ''))) {
    return Promise.reject(new Error(`?replay=${replay} is not a recording name: use letters, digits, ".", "_" or "-" (for example ?replay=failover)`));
  }
  // source=home: a recording made in this lab home, served behind the token by the API.
  const replayBase = q.get('source') === 'home' ? '/api/recordings/' : undefined;
  return createStream({ replay, fallbackReplay, replayBase, loop: q.get('loop') === '1' || q.get('loop') === 'true' });
}
