// Settlement: end to end. The consumer's outcome travels back to the
// producer's delivery; deliveries lost with a consumer are failed or
// released; unsettled deliveries per destination router are counted for
// balanced distribution across the mesh.
import type { InLink, OutDelivery, OutLink, Outcome, Pending, RouterCounters } from './types.js';
import { modified, outgoingWindow, reject, remoteState } from './rhea-adapter.js';

export class Settlement {
  /** Unsettled deliveries this router sent toward each other router (balanced load). */
  private readonly outstandingByRouter = new Map<string, number>();

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
        modified(d, { delivery_failed: Boolean(s.delivery_failed), undeliverable_here: Boolean(s.undeliverable_here), ...(s.message_annotations ? { message_annotations: s.message_annotations } : {}) });
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
    if (l.kind === 'transit' && p.dest) {
      d.hmlabDest = p.dest;
      this.outstandingByRouter.set(p.dest, (this.outstandingByRouter.get(p.dest) ?? 0) + 1);
    }
  }

  private untrack(d: OutDelivery): void {
    if (!d.hmlabDest) return;
    const n = (this.outstandingByRouter.get(d.hmlabDest) ?? 1) - 1;
    if (n > 0) this.outstandingByRouter.set(d.hmlabDest, n); else this.outstandingByRouter.delete(d.hmlabDest);
    d.hmlabDest = undefined;
  }

  /** Deliveries waiting on a transit link plus those unsettled toward a router. */
  outstandingTo(transit: OutLink, router: string): number {
    return transit.backlog.length + (this.outstandingByRouter.get(router) ?? 0);
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
