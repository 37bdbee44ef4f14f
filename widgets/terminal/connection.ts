// The terminal widget's socket to its session on the lab server: one
// WebSocket at a time, a keep-alive, reconnection with backoff, and in
// words why a connection that never opened failed.
import { Disposable, interval } from '../common/disposable.js';
import type { TerminalClientMessage, TerminalServerMessage } from './protocol.js';

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
/** Pings keep the connection alive through proxies that drop idle sockets. */
const KEEPALIVE_MS = 25_000;

/** What the connection tells the widget that owns it. */
export interface ConnectionOwner {
  received(m: TerminalServerMessage): void;
  /** The socket closed (not by us); `opened`: whether it ever opened. */
  closed(ev: CloseEvent, opened: boolean): void;
}

export class TerminalConnection extends Disposable {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: number | null = null;

  constructor(private readonly owner: ConnectionOwner, private readonly base: string) {
    super();
    this.register(interval(() => this.send({ type: 'ping' }), KEEPALIVE_MS));
    this.register(() => {
      this.cancelRetry();
      this.drop(1000, 'widget closed');
    });
  }

  /** No socket now: closed, and none opened since. */
  get idle(): boolean { return this.ws === null; }

  /** Close the current socket, if any, without telling the owner. */
  drop(code?: number, reason?: string): void {
    if (!this.ws) return;
    this.ws.onclose = null;
    this.ws.close(code, reason);
  }

  open(url: string): void {
    this.cancelRetry();
    const sock = new WebSocket(url);
    this.ws = sock;
    let opened = false;
    sock.onopen = () => { opened = true; };
    sock.onmessage = (ev) => {
      let m: TerminalServerMessage;
      try { m = JSON.parse(String(ev.data)) as TerminalServerMessage; } catch { return; }
      this.owner.received(m);
    };
    sock.onclose = (ev) => {
      if (this.ws !== sock || this.isDisposed) return;
      this.ws = null;
      this.owner.closed(ev, opened);
    };
  }

  send(m: TerminalClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  /** A session answered: the next drop starts the backoff from the beginning. */
  connected(): void {
    this.attempt = 0;
  }

  /** Call `reconnect` after the next backoff delay; returns that delay in ms. */
  retryLater(reconnect: () => void): number {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    this.retryTimer = window.setTimeout(reconnect, delay);
    return delay;
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null; }
  }

  /** Why a connection failed before opening: ask the API, whose errors say what to do. */
  async diagnose(): Promise<string> {
    try {
      const r = await fetch(new URL('/api/terminals', this.base), { credentials: 'same-origin' });
      if (r.status === 401) return 'not signed in: open the URL that "hmlab serve" printed';
      return r.ok ? 'connection lost' : `server answered HTTP ${r.status}`;
    } catch {
      return 'lab server unreachable';
    }
  }
}
