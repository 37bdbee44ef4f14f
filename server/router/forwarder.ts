// The forwarder: takes each delivery from a producer, a neighbour or the
// router itself, finds its destination by the address's distribution (one
// function each: closest, balanced, multicast) and hands it to an outgoing
// link, or holds it until credit comes, or releases it when no consumer
// exists anywhere.
import type { Delivery, Message, Receiver, Sender } from 'rhea';
import { normalizeAddress, parseTopoAddress } from './address-table.js';
import type { Addresses } from './addresses.js';
import type { LinkStateDb } from './mesh.js';
import type { Settlement } from './settlement.js';
import { available, topUp } from './credit.js';
import { isRemoteSettled, linkTag, markPresettled, settleLocally } from './rhea-adapter.js';
import {
  A_DEST, A_DESTS, A_TO, A_TTL, ENDPOINT_CAPACITY, MAX_TTL,
  type AddressEntry, type ConnInfo, type InLink, type OutDelivery, type OutLink, type Pending, type RouterCore,
} from './types.js';

export interface ForwarderHooks {
  /** A message on an inter-router control link. */
  control(info: ConnInfo, msg: Message): void;
  /** A request to this router's $management. */
  management(p: Pending): void;
  /** Local consumers changed: the mesh should hear about it soon. */
  consumersChanged(): void;
}

export class Forwarder {
  constructor(
    private readonly core: RouterCore,
    private readonly addresses: Addresses,
    private readonly db: LinkStateDb,
    private readonly settlement: Settlement,
    private readonly hooks: ForwarderHooks,
  ) {}

  // ---- deliveries in -------------------------------------------------------------

  /** A complete delivery arrived on a link the peer sends on. */
  receive(receiver: Receiver, msg: Message, del: Delivery): void {
    const l = linkTag<InLink>(receiver);
    if (!l) return;
    const presettled = isRemoteSettled(del);
    // rhea frees a session slot only once a delivery is settled locally too;
    // a pre-settled one would otherwise pin the session window shut
    if (presettled) settleLocally(del);
    l.deliveryCount++;
    l.conn.lastDelivery = Date.now();
    // as qdrouterd: the router counts pre-settled deliveries clients send, not its own mesh traffic
    if (presettled) { l.presettledCount++; if (l.kind === 'endpoint') this.core.counters.presettledDeliveries++; }
    l.held++;
    if (l.kind === 'control') {
      l.held--;
      if (!presettled) del.accept();
      this.hooks.control(l.conn, msg);
      this.topUp(l);
      return;
    }
    let address: string | null;
    const p: Pending = { msg, inDel: presettled ? null : del, inLink: l, address: '', ttl: MAX_TTL };
    if (l.kind === 'transit') {
      const ann = (msg.message_annotations ?? {}) as Record<string, unknown>;
      address = typeof ann[A_TO] === 'string' ? (ann[A_TO] as string) : null;
      if (typeof ann[A_DEST] === 'string') p.dest = ann[A_DEST] as string;
      if (Array.isArray(ann[A_DESTS])) p.dests = ann[A_DESTS] as string[];
      p.ttl = typeof ann[A_TTL] === 'number' ? (ann[A_TTL] as number) - 1 : 0;
      if (p.ttl <= 0) {
        this.core.log.warning('ROUTER', `Dropping a delivery for ${address} that exceeded ${MAX_TTL} hops`);
        this.unroutable(p);
        return;
      }
    } else {
      address = l.address ?? (msg.to ? normalizeAddress(String(msg.to)) : null);
      this.core.counters.deliveriesIngress++;
    }
    if (!address) {
      l.held--;
      if (!presettled) del.reject({ condition: 'amqp:precondition-failed', description: 'message has no address: set the link target or the "to" property' });
      this.topUp(l);
      return;
    }
    p.address = address;
    this.route(p);
  }

  /** Messages the router itself originates (management replies): pre-settled. */
  sendFromRouter(msg: Message): void {
    if (!msg.to) return;
    this.route({ msg, inDel: null, inLink: null, address: normalizeAddress(String(msg.to)), ttl: MAX_TTL });
  }

  // ---- routing -------------------------------------------------------------------

  /** Route a delivery from a producer, a neighbour, or the router itself. */
  route(p: Pending): void {
    const topo = parseTopoAddress(p.address);
    if (topo && topo.router !== this.core.id) return void this.toRouter(p, topo.router);
    if (p.address === '$management' || (topo && topo.local === '$management')) {
      // a request to the agent: accepted (and counted) here, as qdrouterd does
      const agent = this.addresses.entry('$management');
      agent.deliveriesIngress++;
      agent.deliveriesToContainer++;
      this.settlement.settleIn(p, 'accepted');
      this.done(p);
      this.hooks.management(p);
      return;
    }
    if (p.dests) return this.forwardMulticast(p, this.addresses.entry(p.address));
    if (p.dest && p.dest !== this.core.id) return void this.toRouter(p, p.dest);
    if (p.dest === this.core.id) p.localOnly = true;
    const entry = this.addresses.entry(p.address);
    if (p.inLink?.kind === 'endpoint') entry.deliveriesIngress++;
    if (entry.distribution === 'multicast' && !topo) return this.forwardMulticast(p, entry);
    if (!this.forward(p, entry, { fromQueue: false })) entry.queue.push(p);
  }

  /**
   * Unicast forwarding (closest / balanced). False: keep it queued for credit.
   * A delivery already queued stays queued while the address is reachable.
   */
  private forward(p: Pending, entry: AddressEntry, opts: { fromQueue: boolean }): boolean {
    const sent = entry.distribution === 'closest' || parseTopoAddress(entry.key) ? this.forwardClosest(p, entry) : this.forwardBalanced(p, entry);
    if (sent !== undefined) return sent;
    // no destination anywhere
    if (opts.fromQueue && this.addresses.reachable(entry.key)) return false;
    this.unroutable(p);
    return true;
  }

  private remoteConsumers(p: Pending, entry: AddressEntry): Map<string, number> {
    return p.localOnly || parseTopoAddress(entry.key) ? new Map<string, number>() : this.db.remoteConsumers(entry.key);
  }

  /** Closest: a local consumer first (in turn), else the nearest router with
   *  one. True: sent; false: wait for credit; undefined: no destination. */
  private forwardClosest(p: Pending, entry: AddressEntry): boolean | undefined {
    const local = entry.consumers;
    if (local.length) {
      const ready = local.filter((c) => available(c) > 0);
      if (!ready.length) return false;
      this.transmit(ready[entry.rr++ % ready.length], p);
      return true;
    }
    const remote = this.remoteConsumers(p, entry);
    if (remote.size) {
      let best: string[] = [];
      let bestCost = Infinity;
      for (const id of remote.keys()) {
        const c = this.db.routes.get(id)?.cost ?? Infinity;
        if (c < bestCost) { best = [id]; bestCost = c; } else if (c === bestCost) best.push(id);
      }
      best.sort();
      return this.toRouter(p, best[entry.rr++ % best.length]);
    }
    return undefined;
  }

  /** Balanced, as qdrouterd 1.19.0 chooses: a local consumer with nothing
   *  outstanding wins at once (local consumers take turns); otherwise the
   *  lowest of a local consumer's outstanding deliveries and, per router with
   *  a consumer, the deliveries outstanding toward its next hop plus its
   *  cost. Ties go to the first in order: local consumers, then routers by
   *  index, so with nothing outstanding every call goes to the same remote
   *  router. True: sent; false: wait for credit; undefined: no destination. */
  private forwardBalanced(p: Pending, entry: AddressEntry): boolean | undefined {
    const local = entry.consumers;
    let best: { value: number; local?: OutLink; router?: string } | null = null;
    for (const c of local) {
      if (available(c) <= 0) continue;
      const value = c.unsettled.size + c.backlog.length;
      if (!best || value < best.value) best = { value, local: c };
      if (value === 0) break;
    }
    if (best?.local && best.value === 0) {
      if (local.length > 1) local.push(local.shift()!);
      this.transmit(best.local, p);
      return true;
    }
    const remote = [...this.remoteConsumers(p, entry).keys()].sort((x, y) => (this.db.index.get(x) ?? Infinity) - (this.db.index.get(y) ?? Infinity));
    for (const id of remote) {
      const route = this.db.routes.get(id);
      const n = route ? this.core.neighbors.get(route.nextHop) : undefined;
      if (!route || !n?.transit) continue;
      const value = this.settlement.outstandingTo(n.transit, entry.key) + route.cost;
      if (!best || value < best.value) best = { value, router: id };
    }
    if (best?.local) { this.transmit(best.local, p); return true; }
    if (best?.router) return this.toRouter(p, best.router);
    if (local.length) return false; // consumers without credit: wait for it
    return undefined;
  }

  /** Multicast: every consumer once, on this router and every other router
   *  with consumers, pre-settled end to end as in qdrouterd: the producer's
   *  delivery is accepted here and the copies carry no settlement. */
  private forwardMulticast(p: Pending, entry: AddressEntry): void {
    if (p.inDel) { this.settlement.settleIn(p, 'accepted'); p.inDel = null; }
    let targets: string[];
    let includeLocal: boolean;
    if (p.dests) {
      includeLocal = p.dests.includes(this.core.id);
      targets = p.dests.filter((d) => d !== this.core.id);
    } else {
      includeLocal = true;
      targets = p.localOnly ? [] : [...this.db.remoteConsumers(entry.key).keys()];
    }
    let copies = 0;
    if (includeLocal) {
      for (const c of entry.consumers) {
        if (c.backlog.length >= ENDPOINT_CAPACITY) { c.droppedPresettledCount++; this.core.counters.droppedPresettledDeliveries++; continue; }
        this.transmit(c, { ...p, inLink: null, dests: undefined, dest: undefined });
        copies++;
      }
    }
    const byHop = new Map<string, string[]>();
    for (const t of targets) {
      const r = this.db.routes.get(t);
      if (!r) continue;
      const list = byHop.get(r.nextHop) ?? [];
      list.push(t);
      byHop.set(r.nextHop, list);
    }
    for (const [hop, dests] of byHop) {
      const n = this.core.neighbors.get(hop);
      if (!n?.transit || p.ttl <= 0) continue;
      this.transmit(n.transit, { ...p, inLink: null, dest: undefined, dests });
      copies++;
    }
    if (copies === 0) { this.core.counters.droppedPresettledDeliveries++; if (p.inLink) p.inLink.droppedPresettledCount++; }
    this.done(p);
  }

  /** Send toward another router along the lowest-cost path. */
  private toRouter(p: Pending, dest: string): boolean {
    const route = this.db.routes.get(dest);
    const n = route ? this.core.neighbors.get(route.nextHop) : undefined;
    if (!n?.transit || p.ttl <= 0) { this.unroutable(p); return true; }
    p.dest = dest;
    p.dests = undefined;
    this.transmit(n.transit, p);
    return true;
  }

  /** Hand a delivery to an outgoing link now, or keep it in the link's backlog until credit comes. */
  private transmit(l: OutLink, p: Pending): void {
    if (available(l) <= 0) {
      if (l.kind === 'transit' || !p.inDel) { l.backlog.push(p); return; }
    }
    const msg = p.msg;
    let ann = msg.message_annotations as Record<string, unknown> | undefined;
    if (l.kind === 'transit') {
      ann = { ...(ann ?? {}), [A_TO]: p.address, [A_TTL]: p.ttl };
      if (p.dests) ann[A_DESTS] = p.dests; else delete ann[A_DESTS];
      if (p.dest) ann[A_DEST] = p.dest; else delete ann[A_DEST];
    } else if (ann && (A_TO in ann)) {
      ann = { ...ann };
      delete ann[A_TO]; delete ann[A_DEST]; delete ann[A_DESTS]; delete ann[A_TTL];
      if (Object.keys(ann).length === 0) ann = undefined;
    }
    const out = ann === msg.message_annotations ? msg : { ...msg, message_annotations: ann };
    const d = l.sender.send(out as Message) as OutDelivery;
    l.inFlight.push(d.id);
    l.deliveryCount++;
    l.conn.lastDelivery = Date.now();
    if (l.kind === 'endpoint') {
      this.core.counters.deliveriesEgress++;
      const e = l.address ? this.addresses.get(l.address) : undefined;
      if (e) e.deliveriesEgress++;
    } else if (l.kind === 'transit') {
      // as qdrouterd: transit counts what this router sends on toward another router
      this.core.counters.deliveriesTransit++;
      const e = this.addresses.get(p.address);
      if (e) e.deliveriesTransit++;
    }
    if (!p.inDel) {
      markPresettled(d);
      l.presettledCount++;
    } else {
      this.settlement.track(l, d, p);
    }
    this.done(p);
    if (!p.inDel) p.inLink = null;
  }

  /** A delivery is out of the router's hands: free its producer's credit slot. */
  private done(p: Pending): void {
    const l = p.inLink;
    if (!l) return;
    l.held--;
    this.topUp(l);
  }

  /** No consumer anywhere: release (the producer may retry) or drop if pre-settled; either way its credit slot is free again. */
  unroutable(p: Pending): void {
    if (p.inDel) this.settlement.settleIn(p, 'released');
    else { this.core.counters.droppedPresettledDeliveries++; if (p.inLink) p.inLink.droppedPresettledCount++; }
    this.done(p);
    p.inLink = null;
  }

  // ---- credit and consumers --------------------------------------------------------

  topUp(l: InLink): void {
    topUp(l, (a) => this.addresses.reachable(a));
  }

  /** A consumer (or neighbour) gave credit: send what waits for it. */
  sendable(sender: Sender): void {
    const l = linkTag<OutLink>(sender);
    if (!l) return;
    while (l.backlog.length && available(l) > 0) this.transmit(l, l.backlog.shift()!);
    if (l.kind === 'endpoint' && l.address) {
      const entry = this.addresses.get(l.address);
      if (entry?.queue.length) this.drainQueue(entry);
    }
  }

  private drainQueue(entry: AddressEntry): void {
    let n = entry.queue.length;
    while (n-- > 0 && entry.queue.length) {
      const p = entry.queue.shift()!;
      if (!this.forward(p, entry, { fromQueue: true })) { entry.queue.unshift(p); break; }
    }
  }

  private flushUnreachable(entry: AddressEntry): void {
    if (this.addresses.reachable(entry.key)) return;
    for (const p of entry.queue.splice(0)) this.unroutable(p);
  }

  /** Local consumers of an address came or went. */
  consumersChanged(entry: AddressEntry): void {
    for (const p of entry.producers) this.topUp(p);
    if (entry.consumers.length === 0) this.flushUnreachable(entry);
    else this.drainQueue(entry);
    if (!parseTopoAddress(entry.key)) this.hooks.consumersChanged();
    this.addresses.gc(entry.key);
  }

  /** After a topology or address change: credit for producers that now have a consumer, release what has none. */
  reachabilityChanged(): void {
    for (const entry of [...this.addresses.entries.values()]) {
      for (const p of entry.producers) this.topUp(p);
      if (entry.queue.length) {
        if (!this.addresses.reachable(entry.key)) this.flushUnreachable(entry);
        else this.drainQueue(entry);
      }
    }
    for (const info of this.core.connections.values()) {
      for (const l of info.links) if (l.dir === 'in' && l.address === null) this.topUp(l);
    }
  }
}
