// rhea 3 does not implement aborted transfers, and a transfer frame without
// payload makes it throw while decoding: both are legal AMQP 1.0 (qpid-proton
// sends them when a sender gives up on a delivery, e.g. oslo.messaging's send
// timeout). Without this a timed-out send would cost the sender its connection.
import { createRequire } from 'node:module';

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
  const Session = createRequire(import.meta.url)('rhea/lib/session.js') as { prototype: { on_transfer(this: SessionLike, frame: Frame): void } };
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
