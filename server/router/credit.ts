// Credit: producers get credit only while their address has a consumer
// somewhere, and only up to the link capacity minus what the router still
// holds from them; outgoing links are used only as far as the consumer's
// credit and rhea's session window allow.
import type { InLink, OutLink } from './types.js';
import { creditOf, outgoingWindow } from './rhea-adapter.js';

/** Top up a producer's credit: a slow consumer stops credit upstream instead
 *  of growing a buffer here. */
export function topUp(l: InLink, reachable: (address: string | null) => boolean): void {
  if (!l.conn.links.has(l)) return;
  if (l.kind === 'endpoint' && !reachable(l.address)) return;
  const credit = creditOf(l.receiver);
  const want = l.window - l.held - credit;
  if (want > 0 && (want >= l.window / 4 || credit + l.held === 0 || credit === 0)) l.receiver.add_credit(want);
}

/** Credit on an outgoing link that rhea has not yet spent on queued transfers. */
export function available(l: OutLink): number {
  const { nextPending, available: window } = outgoingWindow(l.sender);
  while (l.inFlight.length && l.inFlight[0] < nextPending) l.inFlight.shift();
  return Math.min(creditOf(l.sender) - l.inFlight.length, window - 1);
}
