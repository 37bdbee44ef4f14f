// A raw AMQP 1.0 peer for hostile-input tests: frames written by hand
// (with rhea's encoder), bytes read back as they come, so a test can do
// what no well-behaved client library would.
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import rhea from 'rhea';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as Record<string, (...a: unknown[]) => unknown> & {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
};

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const EMPTY_FRAME = Buffer.from([0, 0, 0, 8, 2, 0, 0, 0]);

/** One AMQP frame: performative `name` ('open', 'begin', 'attach', 'flow', 'transfer', ...) with its fields. */
export function frame(channel: number, name: string, fields: Record<string, unknown>, payload?: Buffer): Buffer {
  const performative = (frames[name](fields) as { described(): unknown }).described();
  return frames.write_frame(frames.amqp_frame(channel, performative, payload));
}

const terminus = require('rhea/lib/terminus.js') as Record<'source' | 'target', (f: unknown) => { described(): unknown }>;

/** A source or target for an attach frame. */
export function term(kind: 'source' | 'target', address: string): unknown {
  return terminus[kind]({ address }).described();
}

/** The frames of a well-behaved producer up to its first transfers (after the header). */
export function producerFrames(address: string, transfers: number, body = 'fuzz'): Buffer[] {
  const out = [
    frame(0, 'open', { container_id: 'raw-producer' }),
    frame(0, 'begin', { next_outgoing_id: 0, incoming_window: 2048, outgoing_window: 2048 }),
    frame(0, 'attach', {
      name: `raw-${address}`, handle: 0, role: false, source: term('source', 'raw'), target: term('target', address), initial_delivery_count: 0,
    }),
  ];
  for (let i = 0; i < transfers; i++) {
    const transfer = { handle: 0, delivery_id: i, delivery_tag: Buffer.from(String(i)), message_format: 0, settled: false };
    out.push(frame(0, 'transfer', transfer, messagePayload(body)));
  }
  return out;
}

/** An encoded message body for a transfer. */
export function messagePayload(body: unknown): Buffer {
  return (rhea.message as unknown as { encode(m: unknown): Buffer }).encode({ body });
}

export interface RawPeer {
  socket: Socket;
  /** Everything the router sent so far. */
  received(): Buffer;
  /** Frames the router sent (after the protocol header), counted by their size fields. */
  frameCount(): number;
  write(b: Buffer): void;
  /** Resolves when the router closes the connection, or with closed: false after ms. */
  closed(ms: number): Promise<{ closed: boolean; afterMs: number }>;
  destroy(): void;
}

export function rawPeer(port: number): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let got = Buffer.alloc(0);
    let isClosed = false;
    let closedAt = 0;
    const waiters: (() => void)[] = [];
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (d) => { got = Buffer.concat([got, d]); });
    socket.on('error', () => {});
    socket.on('close', () => { isClosed = true; closedAt = Date.now(); for (const w of waiters.splice(0)) w(); });
    socket.once('connect', () => resolve({
      socket,
      received: () => got,
      frameCount: () => {
        let n = 0;
        let off = 0;
        while (off + 8 <= got.length) {
          if (got.subarray(off, off + 4).toString('latin1') === 'AMQP') { off += 8; continue; }
          const size = got.readUInt32BE(off);
          if (size < 8 || off + size > got.length) break;
          n++;
          off += size;
        }
        return n;
      },
      write: (b) => { if (!socket.destroyed) socket.write(b); },
      closed: (ms) => new Promise((res) => {
        if (isClosed) return res({ closed: true, afterMs: closedAt - t0 });
        const timer = setTimeout(() => res({ closed: false, afterMs: Date.now() - t0 }), ms);
        waiters.push(() => { clearTimeout(timer); res({ closed: true, afterMs: closedAt - t0 }); });
      }),
      destroy: () => socket.destroy(),
    }));
    socket.once('error', reject);
  });
}
