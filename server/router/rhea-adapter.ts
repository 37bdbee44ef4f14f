// Every use of rhea's internals in the router, in one place: fields rhea
// keeps but does not type or document (sockets, credit, session windows,
// remote attach and delivery state), its frame writer, and the patches the
// router needs. The rest of the router speaks rhea's public API only.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Connection, Container, Delivery, Receiver, Sender } from 'rhea';

const require = createRequire(import.meta.url);

// ---- patches -----------------------------------------------------------------

// rhea 3 does not implement aborted transfers, and a transfer frame without
// payload makes it throw while decoding: both are legal AMQP 1.0 (qpid-proton
// sends them when a sender gives up on a delivery, e.g. oslo.messaging's send
// timeout). Without this a timed-out send would cost the sender its connection.
interface Frame { performative: { delivery_id?: number; aborted?: boolean; more?: boolean }; payload?: Buffer }
interface IncomingDelivery { id: number }
interface LinkLike { _incomplete?: IncomingDelivery; credit: number; delivery_count: number }
interface SessionLike {
  incoming: { next_transfer_id: number; next_delivery_id?: number; deliveries?: { remove?(d: unknown): void } };
  _get_link(frame: Frame): LinkLike;
}

let applied = false;

export function applyRheaPatches(): void {
  if (applied) return;
  applied = true;
  const Session = require('rhea/lib/session.js') as { prototype: { on_transfer(this: SessionLike, frame: Frame): void } };
  const original = Session.prototype.on_transfer;
  Session.prototype.on_transfer = function (this: SessionLike, frame: Frame) {
    if (frame.performative.aborted) {
      // discard the delivery: it never completed, nothing is routed
      const link = this._get_link(frame);
      this.incoming.next_transfer_id++;
      if (link._incomplete) {
        link._incomplete = undefined;
      } else if (this.incoming.next_delivery_id === undefined || frame.performative.delivery_id === this.incoming.next_delivery_id) {
        this.incoming.next_delivery_id = (frame.performative.delivery_id ?? this.incoming.next_delivery_id ?? 0) + 1;
      }
      if (link.credit > 0) link.credit--;
      link.delivery_count++;
      return;
    }
    if (!frame.payload) frame.payload = Buffer.alloc(0);
    original.call(this, frame);
  };
}

// ---- connections ---------------------------------------------------------------

// rhea's frame writer, to send a close frame on a connection rhea gave up on
const rheaFrames = require('rhea/lib/frames.js') as {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown): unknown;
  close(fields: unknown): { described(): unknown };
};
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

/** Write an AMQP close with an error straight to the socket (with the
 *  protocol header first if nothing was written yet). */
export function writeCloseFrame(socket: Socket, condition: string, description: string): void {
  try {
    const frame = rheaFrames.write_frame(rheaFrames.amqp_frame(0, rheaFrames.close({ error: { condition, description: description.slice(0, 200) } }).described()));
    socket.write(socket.bytesWritten === 0 ? Buffer.concat([AMQP_HEADER, frame]) : frame);
  } catch { /* socket already gone */ }
}

/** The connection options the router sets (rhea's own type demands a transport). */
export interface RouterConnectionOptions {
  properties: Record<string, unknown>;
  offered_capabilities: string[];
  container_id: string;
  idle_time_out: number;
  session_buffer_size: number;
  host?: string;
  port?: number;
  reconnect?: boolean;
  username?: string;
}

/** A connection on a socket our own TCP server accepted. */
export function acceptConnection(container: Container, socket: Socket, options: RouterConnectionOptions): Connection {
  const connection = container.create_connection(options as never);
  (connection as unknown as { accept(s: Socket): void }).accept(socket);
  return connection;
}

export function connectTo(container: Container, options: RouterConnectionOptions): Connection {
  return container.connect(options as never);
}

export function socketOf(connection: Connection): Socket | undefined {
  return (connection as unknown as { socket?: Socket }).socket;
}

/** rhea leaves its heartbeat timers armed after a connection ends, which
 *  would keep a short-lived process (qdstat, a check) alive for seconds. */
export function clearHeartbeats(connection: Connection): void {
  const c = connection as unknown as { heartbeat_out?: NodeJS.Timeout; heartbeat_in?: NodeJS.Timeout };
  if (c.heartbeat_out) clearTimeout(c.heartbeat_out);
  if (c.heartbeat_in) clearTimeout(c.heartbeat_in);
  c.heartbeat_out = undefined;
  c.heartbeat_in = undefined;
}

export function remoteOpenProperties(connection: Connection): Record<string, unknown> {
  return (connection as unknown as { remote?: { open?: { properties?: Record<string, unknown> } } }).remote?.open?.properties ?? {};
}

// ---- links -----------------------------------------------------------------------

export interface Terminus { address?: string; dynamic?: boolean }

/** The source and target the peer sent in its attach. */
export function remoteAttach(link: Sender | Receiver): { source?: Terminus; target?: Terminus } {
  return (link as unknown as { remote: { attach: { source?: Terminus; target?: Terminus } } }).remote.attach;
}

/** A source asking the peer for a dynamic address (rhea's type wants an address). */
export function dynamicSource(): { address: string } {
  return { dynamic: true } as unknown as { address: string };
}

export function setSource(link: Sender | Receiver, source: unknown): void {
  link.set_source(source as never);
}

export function setTarget(link: Sender | Receiver, target: unknown): void {
  link.set_target(target as never);
}

export function isSender(link: Sender | Receiver): link is Sender {
  return 'is_sender' in link && link.is_sender();
}

/** Credit the link holds now (for a sender: granted by the peer, not yet used). */
export function creditOf(link: Sender | Receiver): number {
  return (link as unknown as { credit: number }).credit;
}

/** The router's own record of a link, kept on rhea's link object. */
export function tagLink<T extends object>(link: Sender | Receiver, value: T): void {
  (link as unknown as { hmlab?: T }).hmlab = value;
}

export function linkTag<T extends object>(link: Sender | Receiver): T | undefined {
  return (link as unknown as { hmlab?: T }).hmlab;
}

/** The sender's session window: the first delivery id not yet on the wire,
 *  and how many more deliveries the session can take. */
export function outgoingWindow(sender: Sender): { nextPending: number; available: number } {
  const outgoing = (sender.session as unknown as { outgoing: { next_pending_delivery: number; available(): number } }).outgoing;
  return { nextPending: outgoing.next_pending_delivery, available: outgoing.available() };
}

// ---- deliveries ------------------------------------------------------------------

export function isRemoteSettled(d: Delivery): boolean {
  return Boolean((d as unknown as { remote_settled: boolean }).remote_settled);
}

/** Settle a pre-settled incoming delivery on our side too: rhea frees a
 *  session slot only once a delivery is settled locally as well. */
export function settleLocally(d: Delivery): void {
  (d as unknown as { update(settled: boolean): void }).update(true);
}

/** Mark an outgoing delivery pre-settled on the wire. */
export function markPresettled(d: Delivery): void {
  (d as { settled: boolean }).settled = true;
}

export function remoteState(d: Delivery): Record<string, unknown> {
  return (d as unknown as { remote_state?: Record<string, unknown> }).remote_state ?? {};
}

export function reject(d: Delivery, error: unknown): void {
  d.reject(error as never);
}

export function modified(d: Delivery, state: { delivery_failed: boolean; undeliverable_here: boolean; message_annotations?: unknown }): void {
  d.modified(state as never);
}
