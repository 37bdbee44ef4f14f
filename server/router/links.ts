// Links: a peer attaching a receiving link makes a consumer (the router
// sends on it), a sending link a producer; inter-router connections carry
// a control and a transit link. Detaching (or losing a session or the
// connection) removes the link from its address and settles what it held.
import type { Receiver, Sender } from 'rhea';
import { randomBytes } from 'node:crypto';
import { normalizeAddress } from './address-table.js';
import type { Addresses } from './addresses.js';
import type { Forwarder } from './forwarder.js';
import type { Settlement } from './settlement.js';
import { isSender, linkTag, remoteAttach, setSource, setTarget, tagLink } from './rhea-adapter.js';
import {
  CONTROL_ADDRESS, ENDPOINT_CAPACITY, TRANSIT_ADDRESS, TRANSIT_CAPACITY, newStats,
  type ConnInfo, type InLink, type LinkKind, type OutLink, type RouterCore,
} from './types.js';

export class Links {
  private readonly refusing = new WeakSet<ConnInfo>(); // connections already told (and logged) about their link limit

  constructor(
    private readonly core: RouterCore,
    private readonly addresses: Addresses,
    private readonly forwarder: Forwarder,
    private readonly settlement: Settlement,
  ) {}

  newOutLink(sender: Sender, conn: ConnInfo, kind: LinkKind, address: string | null): OutLink {
    const l: OutLink = {
      dir: 'out', identity: this.core.nextIdentity(), name: sender.name, kind, sender, conn, address,
      unsettled: new Set(), backlog: [], inFlight: [], ...newStats(),
    };
    tagLink(sender, l);
    conn.links.add(l);
    return l;
  }

  /** The peer attached a receiving link: the router sends on it (a consumer). */
  onOutgoingAttach(sender: Sender, info: ConnInfo): void {
    if (linkTag<OutLink>(sender)) return; // our own link being confirmed
    const remote = remoteAttach(sender);
    const source = remote.source ?? {};
    if (info.role === 'inter-router' && (source.address === CONTROL_ADDRESS || source.address === TRANSIT_ADDRESS)) {
      sender.close({ condition: 'amqp:not-allowed', description: 'routers send their own control and transit links' });
      return;
    }
    if (this.overLimit(info, 'out', sender)) return;
    let address: string;
    if (source.dynamic) {
      address = `amqp:/_topo/0/${this.core.id}/temp.${randomBytes(9).toString('base64url')}`;
      setSource(sender, { address, dynamic: true });
    } else if (source.address) {
      address = source.address;
      setSource(sender, { address });
    } else {
      sender.close({ condition: 'amqp:invalid-field', description: 'a receiving link needs a source address or dynamic: true' });
      return;
    }
    if (remote.target) setTarget(sender, remote.target);
    const key = normalizeAddress(address);
    const link = this.newOutLink(sender, info, 'endpoint', key);
    const entry = this.addresses.entry(key);
    entry.consumers.push(link);
    this.core.log.debug('ROUTER', `Consumer attached to ${key} on connection ${info.identity}`);
    this.forwarder.consumersChanged(entry);
  }

  /** The peer attached a sending link: the router receives on it (a producer). */
  onIncomingAttach(receiver: Receiver, info: ConnInfo): void {
    if (linkTag<InLink>(receiver)) return;
    const remote = remoteAttach(receiver);
    const target = remote.target ?? {};
    if (remote.source) setSource(receiver, remote.source);
    if (info.role === 'normal' && (target.address === CONTROL_ADDRESS || target.address === TRANSIT_ADDRESS)) {
      // a router's connector pointed at a normal listener
      const why = `a router connected to the normal listener of ${this.core.id}; point its connector at an inter-router listener`;
      this.core.log.warning('ROUTER', `${why} (connection from ${info.host})`);
      info.connection.close({ condition: 'amqp:unauthorized-access', description: why });
      return;
    }
    if (this.overLimit(info, 'in', receiver)) return;
    if (target.dynamic) {
      receiver.close({ condition: 'amqp:not-implemented', description: 'dynamic targets are not supported; attach to an address or use the anonymous relay' });
      return;
    }
    setTarget(receiver, target.address ? { address: target.address } : {});
    let kind: LinkKind = 'endpoint';
    if (info.role === 'inter-router' && target.address === CONTROL_ADDRESS) kind = 'control';
    else if (info.role === 'inter-router' && target.address === TRANSIT_ADDRESS) kind = 'transit';
    const address = kind === 'endpoint' && target.address ? normalizeAddress(target.address) : null;
    const link: InLink = {
      dir: 'in', identity: this.core.nextIdentity(), name: receiver.name, kind, receiver, conn: info, address, held: 0,
      window: kind === 'endpoint' ? ENDPOINT_CAPACITY : TRANSIT_CAPACITY, ...newStats(),
    };
    tagLink(receiver, link);
    info.links.add(link);
    if (address) this.addresses.entry(address).producers.add(link);
    this.forwarder.topUp(link);
  }

  /** Policy maxSenders / maxReceivers: a client connection's links beyond them
   *  are attached and detached at once, as qdrouterd does (logged once per connection). */
  private overLimit(info: ConnInfo, dir: 'in' | 'out', link: Sender | Receiver): boolean {
    if (info.role !== 'normal') return false;
    const max = dir === 'in' ? info.limits.maxSenders : info.limits.maxReceivers;
    let n = 0;
    for (const l of info.links) if (l.dir === dir) n++;
    if (n < max) return false;
    if (!this.refusing.has(info)) {
      this.refusing.add(info);
      const [kind, setting] = dir === 'in' ? ['sending', 'maxSenders'] : ['receiving', 'maxReceivers'];
      this.core.log.warning('POLICY', `Connection ${info.host}: link refused, the peer already has ${n} ${kind} links (${setting}); ` +
        'further refusals on this connection are not logged');
    }
    link.close({ condition: 'amqp:resource-limit-exceeded', description: 'link disallowed by local policy' });
    return true;
  }

  onLinkClosed(link: Sender | Receiver): void {
    const l = isSender(link) ? linkTag<OutLink>(link) : linkTag<InLink>(link);
    if (l) this.detach(l, 'detached');
  }

  /** A peer may end a session without detaching its links first (proton does
   *  when a link is freed unclosed): AMQP counts them detached. */
  onSessionEnded(session: unknown, info: ConnInfo): void {
    for (const l of [...info.links]) {
      const link = l.dir === 'in' ? l.receiver : l.sender;
      if (link.session === session) this.detach(l, 'session ended');
    }
  }

  detach(l: InLink | OutLink, why: string): void {
    if (!l.conn.links.delete(l)) return;
    if (l.dir === 'in') {
      if (l.address) this.addresses.get(l.address)?.producers.delete(l);
      this.addresses.gc(l.address);
      return;
    }
    this.settlement.failUnsettled(l);
    for (const p of l.backlog.splice(0)) this.forwarder.unroutable(p);
    if (l.kind === 'endpoint' && l.address) {
      const entry = this.addresses.get(l.address);
      if (entry) {
        entry.consumers = entry.consumers.filter((c) => c !== l);
        this.core.log.debug('ROUTER', `Consumer detached from ${l.address} (${why})`);
        this.forwarder.consumersChanged(entry);
      }
    }
  }
}
