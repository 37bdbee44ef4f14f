// Settlement: end to end. The consumer's outcome travels back to the
// producer's delivery; deliveries lost with a consumer are failed or
// released; unsettled deliveries per address and neighbour are counted for
// balanced distribution across the mesh.
import type { InLink, OutDelivery, OutLink, Outcome, Pending, RouterCounters } from './types.js';
import { modified, outgoingWindow, reject, remoteState } from './rhea-adapter.js';

export class Settlement {
  /** Unsettled deliveries this router sent to each neighbour, per address
   *  (qdrouterd's outstanding deliveries per address and next hop). */
  private readonly outstanding = new Map<string, Map<string, number>>();

  constructor(private readonly counters: RouterCounters) {}

  countOutcome(l: InLink | null, outcome: Outcome): void {
    this.counters[`${outcome}Deliveries`]++;
    if (l) l[`${outcome}Count`]++;
  }

  /** Pass an outcome back to the producer's delivery. */
  settleIn(p: Pending, outcome: Outcome, info?: unknown): void {
    const d = p.inDel;
    if (!d) return;
    p.inDel = null;
    this.countOutcome(p.inLink, outcome);
    try {
      if (outcome === 'accepted') d.accept();
      else if (outcome === 'rejected') reject(d, info);
      else if (outcome === 'released') d.release();
      else {
        const s = (info ?? {}) as { delivery_failed?: boolean; undeliverable_here?: boolean; message_annotations?: unknown };
        const annotations = s.message_annotations ? { message_annotations: s.message_annotations } : {};
        modified(d, { delivery_failed: Boolean(s.delivery_failed), undeliverable_here: Boolean(s.undeliverable_here), ...annotations });
      }
    } catch { /* the producer's connection is gone: nothing to tell */ }
  }

  /** An outgoing delivery was settled or got an outcome: tell its producer. */
  onOutcome(d: OutDelivery, outcome: Outcome | 'settled'): void {
    const p = d.hmlabPending;
    if (!p) return;
    d.hmlabPending = undefined;
    this.untrack(d);
    const l = d.hmlabLink;
    if (l) {
      l.unsettled.delete(d);
      if (outcome !== 'settled') l[`${outcome}Count`]++;
    }
    const state = remoteState(d);
    if (outcome === 'settled') this.settleIn(p, 'accepted');
    else if (outcome === 'rejected') this.settleIn(p, 'rejected', state.error);
    else if (outcome === 'modified') this.settleIn(p, 'modified', state);
    else this.settleIn(p, outcome);
  }

  /** Remember an unsettled delivery handed to an outgoing link. */
  track(l: OutLink, d: OutDelivery, p: Pending): void {
    d.hmlabPending = p;
    d.hmlabLink = l;
    l.unsettled.add(d);
    const hop = l.conn.peerRouter;
    if (l.kind === 'transit' && hop) {
      d.hmlabOutstanding = { address: p.address, hop };
      let byHop = this.outstanding.get(p.address);
      if (!byHop) this.outstanding.set(p.address, (byHop = new Map()));
      byHop.set(hop, (byHop.get(hop) ?? 0) + 1);
    }
  }

  private untrack(d: OutDelivery): void {
    const o = d.hmlabOutstanding;
    if (!o) return;
    d.hmlabOutstanding = undefined;
    const byHop = this.outstanding.get(o.address);
    const n = (byHop?.get(o.hop) ?? 1) - 1;
    if (n > 0) byHop!.set(o.hop, n);
    else {
      byHop?.delete(o.hop);
      if (byHop?.size === 0) this.outstanding.delete(o.address);
    }
  }

  /** Deliveries for an address waiting on a neighbour's transit link, plus
   *  those sent to it and not yet settled. */
  outstandingTo(transit: OutLink, address: string): number {
    let waiting = 0;
    for (const p of transit.backlog) if (p.address === address && p.inDel) waiting++;
    return waiting + (transit.conn.peerRouter ? this.outstanding.get(address)?.get(transit.conn.peerRouter) ?? 0 : 0);
  }

  /** A consumer's link is gone. Deliveries already on the wire are in doubt:
   *  the producer hears delivery-failed, as from qdrouterd. Ones rhea had not
   *  yet written were never sent and are released, so the producer may retry. */
  failUnsettled(l: OutLink): void {
    const { nextPending } = outgoingWindow(l.sender);
    for (const d of l.unsettled as Set<OutDelivery>) {
      const p = d.hmlabPending;
      if (!p) continue;
      d.hmlabPending = undefined;
      this.untrack(d);
      if (d.id < nextPending) this.settleIn(p, 'modified', { delivery_failed: true });
      else this.settleIn(p, 'released');
    }
    l.unsettled.clear();
  }
}
