// Every use of rhea's internals in the router, in one place: fields rhea
// keeps but does not type or document (sockets, credit, session windows,
// remote attach and delivery state), its frame writer, and the patches the
// router needs. The rest of the router speaks rhea's public API only.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Connection, Container, Delivery, Receiver, Sender } from 'rhea';

const require = createRequire(import.meta.url);

// ---- patches -----------------------------------------------------------------

/** What the router enforces on one connection, checked inside rhea's decoding. */
export interface ConnectionGuard {
  maxFrameSize: number; // larger incoming frames: framing error
  channelMax: number; // highest session channel the peer may begin
  maxMessageSize: number; // larger deliveries: rejected, then the connection is closed
  lastFrame: number; // when the last complete frame (or the protocol header) arrived
  creditViolation(link: Receiver): void; // a transfer beyond the credit granted; the link is refused from then on
  messageTooLarge(link: Receiver, size: number): void;
}

const guards = new WeakMap<object, ConnectionGuard>();

/** Enforce limits on a connection; set before its socket delivers any byte. */
export function guardConnection(connection: Connection, guard: ConnectionGuard): void {
  guards.set(connection, guard);
}

export function guardOf(connection: Connection): ConnectionGuard | undefined {
  return guards.get(connection);
}

/** A protocol error that closes the connection with this condition. */
export class FramingError extends Error {
  readonly condition = 'amqp:connection:framing-error';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError'; // rhea hands errors of this name to the connection's protocol_error handlers
  }
}

interface Frame { channel: number; performative: { delivery_id?: number; aborted?: boolean; more?: boolean }; payload?: Buffer }
interface IncomingDelivery { id: number; reject(error: unknown): void }
interface LinkLike {
  _incomplete?: IncomingDelivery;
  credit: number;
  delivery_count: number;
  connection: Connection;
  hmlabRefused?: boolean;
  hmlabSize?: number;
}
interface SessionLike {
  incoming: { next_transfer_id: number; next_delivery_id?: number };
  _get_link(frame: Frame): LinkLike;
}
interface ReaderLike {
  buffer: Buffer;
  hmlabEmptyItems?: number; // zero-width array elements decoded so far from this buffer
  read_array_items(n: number, type: { width?: number; name?: string }): unknown[];
}
interface TransportLike { header_received?: unknown; handler: { connection?: Connection } & object }

/** Drop a transfer frame while keeping the session's transfer and delivery ids in step. */
function discardTransfer(session: SessionLike, link: LinkLike, frame: Frame): void {
  session.incoming.next_transfer_id++;
  const id = frame.performative.delivery_id;
  if (id !== undefined && id !== null && (session.incoming.next_delivery_id === undefined || id === session.incoming.next_delivery_id)) {
    session.incoming.next_delivery_id = id + 1;
  }
  if (!frame.performative.more) link.delivery_count++;
}

let applied = false;

export function applyRheaPatches(): void {
  if (applied) return;
  applied = true;

  // rhea 3 does not implement aborted transfers, and a transfer frame without
  // payload makes it throw while decoding: both are legal AMQP 1.0 (qpid-proton
  // sends them when a sender gives up on a delivery, e.g. oslo.messaging's send
  // timeout). Without this a timed-out send would cost the sender its connection.
  // Guarded connections also refuse transfers beyond credit and deliveries
  // beyond the message size, instead of holding them.
  const Session = require('rhea/lib/session.js') as { prototype: { on_transfer(this: SessionLike, frame: Frame): void } };
  const onTransfer = Session.prototype.on_transfer;
  Session.prototype.on_transfer = function (this: SessionLike, frame: Frame) {
    const link = this._get_link(frame);
    if (frame.performative.aborted) {
      // discard the delivery: it never completed, nothing is routed
      this.incoming.next_transfer_id++;
      if (link._incomplete) {
        link._incomplete = undefined;
      } else if (this.incoming.next_delivery_id === undefined || frame.performative.delivery_id === this.incoming.next_delivery_id) {
        this.incoming.next_delivery_id = (frame.performative.delivery_id ?? this.incoming.next_delivery_id ?? 0) + 1;
      }
      if (link.credit > 0) link.credit--;
      link.delivery_count++;
      link.hmlabSize = 0;
      return;
    }
    if (!frame.payload) frame.payload = Buffer.alloc(0);
    const guard = guards.get(link.connection);
    if (!guard) return onTransfer.call(this, frame);
    if (link.hmlabRefused) return discardTransfer(this, link, frame);
    if (!link._incomplete && link.credit <= 0) {
      link.hmlabRefused = true;
      discardTransfer(this, link, frame);
      guard.creditViolation(link as unknown as Receiver);
      return;
    }
    const size = (link._incomplete ? link.hmlabSize ?? 0 : 0) + frame.payload.length;
    if (size > guard.maxMessageSize) {
      if (!link._incomplete) {
        // let rhea open the delivery (as unfinished) so it can be rejected like a longer one
        const more = frame.performative.more;
        frame.performative.more = true;
        try { onTransfer.call(this, frame); } finally { frame.performative.more = more; }
      } else {
        this.incoming.next_transfer_id++;
      }
      const d = link._incomplete;
      link._incomplete = undefined;
      link.hmlabRefused = true;
      try { d?.reject({ condition: 'amqp:link:message-size-exceeded', description: 'Message size exceeded' }); } catch { /* link gone */ }
      guard.messageTooLarge(link as unknown as Receiver, size);
      return;
    }
    link.hmlabSize = frame.performative.more ? size : 0;
    onTransfer.call(this, frame);
  };

  // Frame sizes are checked as soon as a frame's header arrives: a peer must
  // not make the router buffer a frame larger than it announced. Complete
  // frames are what keep a connection alive, not stray bytes of a partial one.
  const Transport = require('rhea/lib/transport.js') as { prototype: { read(this: TransportLike, buffer: Buffer): number } };
  const read = Transport.prototype.read;
  Transport.prototype.read = function (this: TransportLike, buffer: Buffer) {
    const connection = (this.handler.connection ?? this.handler) as Connection;
    const guard = guards.get(connection);
    if (guard) {
      let offset = this.header_received ? 0 : 8;
      while (offset + 4 <= buffer.length) {
        const size = buffer.readUInt32BE(offset);
        if (size > guard.maxFrameSize) throw new FramingError(`frame of ${size} bytes is larger than the max-frame-size of ${guard.maxFrameSize}`);
        if (size < 8) throw new FramingError(`frame size ${size} is smaller than a frame header`);
        offset += size;
      }
    }
    const consumed = read.call(this, buffer);
    if (guard && consumed > 0) guard.lastFrame = Date.now();
    return consumed;
  };

  // An AMQP array of a zero-width type (null, true, uint0, list0, ...) costs
  // its sender no byte per element, so the count alone made rhea build
  // tens of millions of elements, seconds of CPU and hundreds of MB, from a
  // 40-byte frame. No encoder needs more such elements than the frame has
  // bytes; past that it is a decode error, so decoding stays linear in size.
  const Types = require('rhea/lib/types.js') as { Reader: { prototype: ReaderLike } };
  const DecodeError = (require('rhea/lib/errors.js') as { TypeError: new (message: string) => Error }).TypeError;
  const readArrayItems = Types.Reader.prototype.read_array_items;
  Types.Reader.prototype.read_array_items = function (this: ReaderLike, n: number, type: { width?: number; name?: string }) {
    if (type.width === 0) {
      this.hmlabEmptyItems = (this.hmlabEmptyItems ?? 0) + n;
      if (this.hmlabEmptyItems > this.buffer.length) {
        throw new DecodeError(`array of ${n} ${type.name ?? 'zero-width'} elements in ${this.buffer.length} bytes`);
      }
    }
    return readArrayItems.call(this, n, type);
  };

  // AMQP's channel-max bounds the sessions a peer may have at once.
  const ConnectionClass = require('rhea/lib/connection.js') as { prototype: { on_begin(this: Connection, frame: Frame): void } };
  const onBegin = ConnectionClass.prototype.on_begin;
  ConnectionClass.prototype.on_begin = function (this: Connection, frame: Frame) {
    const guard = guards.get(this);
    if (guard && frame.channel > guard.channelMax) {
      throw new FramingError(`remote channel ${frame.channel} is above negotiated channel_max ${guard.channelMax}`);
    }
    onBegin.call(this, frame);
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
    const close = rheaFrames.close({ error: { condition, description: description.slice(0, 200) } });
    const frame = rheaFrames.write_frame(rheaFrames.amqp_frame(0, close.described()));
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
  max_frame_size: number;
  channel_max: number;
  host?: string;
  port?: number;
  reconnect?: boolean;
  username?: string;
}

/** A connection on a socket our own TCP server accepted, guarded from its first byte. */
export function acceptConnection(container: Container, socket: Socket, options: RouterConnectionOptions, guard: ConnectionGuard): Connection {
  const connection = container.create_connection(options as never);
  guardConnection(connection, guard);
  (connection as unknown as { accept(s: Socket): void }).accept(socket);
  return connection;
}

export function connectTo(container: Container, options: RouterConnectionOptions, guard: ConnectionGuard): Connection {
  const connection = container.connect(options as never);
  guardConnection(connection, guard);
  return connection;
}

const MAX_TIMER_MS = 2 ** 31 - 1; // the longest delay setTimeout keeps

/** Settle what the peer's Open says before anything is sent: AMQP's smallest
 *  max-frame-size is 512 (a smaller one, as proton does, counts as 512;
 *  rhea would loop forever splitting a message into frames that cannot
 *  hold a byte), and heartbeats go out no more often than `heartbeatFloorMs`
 *  and no less often than Node's timers can wait. */
export function negotiateOpen(connection: Connection, heartbeatFloorMs: number): { maxFrameSize?: number; idleTimeOut?: number } {
  const open = (connection as unknown as { remote?: { open?: { max_frame_size?: number; idle_time_out?: number } } }).remote?.open;
  if (!open) return {};
  const asked = { maxFrameSize: open.max_frame_size, idleTimeOut: open.idle_time_out };
  if (typeof open.max_frame_size === 'number' && open.max_frame_size < 512) open.max_frame_size = 512;
  // rhea sends a heartbeat every idle_time_out / 2
  if (typeof open.idle_time_out === 'number' && open.idle_time_out > 0 && open.idle_time_out < 2 * heartbeatFloorMs) open.idle_time_out = 2 * heartbeatFloorMs;
  // half of a larger one overflows Node's timer, which then fires every millisecond
  if (typeof open.idle_time_out === 'number' && open.idle_time_out > 2 * MAX_TIMER_MS) open.idle_time_out = 2 * MAX_TIMER_MS;
  return asked;
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
