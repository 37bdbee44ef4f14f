// Small rhea clients for the router tests: a connection that opens, and
// promise-returning helpers for links and outcomes.
import assert from 'node:assert/strict';
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Receiver, Sender } from 'rhea';
import { clearHeartbeats } from '../../server/router/management-client.js';

type Cleanup = { after(fn: () => unknown): void };

export async function amqpConnect(
  t: Cleanup,
  port: number,
  id = `test-${Math.random().toString(36).slice(2, 8)}`,
  options: Record<string, unknown> = {},
): Promise<Connection> {
  const container = rhea.create_container({ id });
  container.on('error', () => {});
  const c = container.connect({ host: '127.0.0.1', port, reconnect: false, username: 'anonymous', ...options } as never);
  c.on('error', () => {});
  c.on('disconnected', () => clearHeartbeats(c));
  // A peer may open and close in one read: the close must be caught before
  // the caller gets the connection, or its listener comes too late.
  closes.set(c, new Promise((res) => c.once('connection_close', (ctx: EventContext) => res((ctx.connection.error ?? {}) as CloseError))));
  t.after(() => closeConnection(c));
  await new Promise<void>((res, rej) => {
    c.once('connection_open', () => res());
    c.once('disconnected', (ctx: EventContext) => rej(new Error(`cannot connect to ${port}: ${(ctx as { error?: Error }).error?.message ?? 'closed'}`)));
  });
  return c;
}

export interface CloseError { condition?: string; description?: string }
const closes = new WeakMap<Connection, Promise<CloseError>>();

/** The error of the peer's close of a connection made by amqpConnect, whenever it came. */
export function whenClosedByPeer(c: Connection): Promise<CloseError> {
  const p = closes.get(c);
  if (!p) throw new Error('whenClosedByPeer: not a connection made by amqpConnect');
  return p;
}

export async function closeConnection(c: Connection): Promise<void> {
  await closeQuietly(c);
  clearHeartbeats(c);
}

function closeQuietly(c: Connection): Promise<void> {
  return new Promise((res) => {
    const socket = (c as unknown as { socket?: { destroy(): void; destroyed?: boolean } }).socket;
    if (!c.is_open() || socket?.destroyed) { socket?.destroy(); return res(); }
    const timer = setTimeout(() => { socket?.destroy(); res(); }, 500);
    c.once('connection_close', () => { clearTimeout(timer); socket?.destroy(); res(); });
    c.once('disconnected', () => { clearTimeout(timer); res(); });
    try { c.close(); } catch { clearTimeout(timer); res(); }
  });
}

export function openReceiver(c: Connection, address: string, opts: { credit?: number; autoaccept?: boolean } = {}): Promise<Receiver> {
  const r = c.open_receiver({ source: { address }, autoaccept: opts.autoaccept ?? false, credit_window: opts.credit ?? 100 } as never);
  return new Promise((res) => r.once('receiver_open', () => res(r)));
}

export function openSender(c: Connection, address: string): Promise<Sender> {
  const s = c.open_sender({ target: { address }, autosettle: true, treat_modified_as_released: false } as never);
  return new Promise((res) => s.once('sender_open', () => res(s)));
}

/** Resolves when the sender has credit, or with false after timeoutMs. */
export function waitSendable(s: Sender, timeoutMs: number): Promise<boolean> {
  if (s.sendable()) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => { s.removeListener('sendable', on); res(false); }, timeoutMs);
    const on = () => { clearTimeout(t); res(true); };
    s.once('sendable', on);
  });
}

export type Outcome = { kind: 'accepted' | 'rejected' | 'released' | 'modified'; state: Record<string, unknown> };

/** Send one unsettled message and resolve with the outcome the router reports. */
export function sendForOutcome(s: Sender, body: unknown, timeoutMs = 5000): { delivery: Delivery; outcome: Promise<Outcome> } {
  const delivery = s.send({ body });
  const outcome = new Promise<Outcome>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('no outcome within ' + timeoutMs + ' ms')), timeoutMs);
    const handler = (kind: Outcome['kind']) => (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      clearTimeout(timer);
      for (const [k, h] of handlers) s.removeListener(k, h);
      res({ kind, state: ((ctx.delivery as unknown as { remote_state?: Record<string, unknown> }).remote_state ?? {}) });
    };
    const handlers = (['accepted', 'rejected', 'released', 'modified'] as const).map((k) => [k, handler(k)] as const);
    for (const [k, h] of handlers) s.on(k, h);
  });
  return { delivery, outcome };
}

export function nextMessage(r: Receiver, timeoutMs = 5000): Promise<EventContext> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => { r.removeListener('message', on); rej(new Error('no message within ' + timeoutMs + ' ms')); }, timeoutMs);
    const on = (ctx: EventContext) => { clearTimeout(t); res(ctx); };
    r.once('message', on);
  });
}

/** A well-formed consumer and producer still get a message through, settled. */
export async function roundTrip(t: Cleanup, port: number, address: string): Promise<void> {
  const cc = await amqpConnect(t, port);
  const r = await openReceiver(cc, address, { autoaccept: true });
  const pc = await amqpConnect(t, port);
  const s = await openSender(pc, address);
  assert.ok(await waitSendable(s, 5000), 'no credit for a healthy producer');
  const got = nextMessage(r);
  const { outcome } = sendForOutcome(s, 'still routing');
  assert.equal((await got).message!.body, 'still routing');
  assert.equal((await outcome).kind, 'accepted');
  await closeConnection(pc);
  await closeConnection(cc);
}
