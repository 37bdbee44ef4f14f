// Link-state routing between interior routers: on each inter-router
// connection a control link (hello, keep-alive, advertisements flooded to
// every neighbour) and a transit link for deliveries. The database and the
// lowest-cost paths are in mesh.ts.
import type { Message } from 'rhea';
import type { Addresses } from './addresses.js';
import type { Forwarder } from './forwarder.js';
import type { Links } from './links.js';
import type { LinkStateAd, LinkStateDb } from './mesh.js';
import { linkTag, markPresettled } from './rhea-adapter.js';
import {
  CONTROL_ADDRESS, HELLO_INTERVAL_MS, HELLO_MAX_AGE_MS, RESYNC_INTERVAL_MS, TRANSIT_ADDRESS, type ConnInfo, type OutLink, type RouterCore,
} from './types.js';

export class LinkState {
  private seq = 0;
  private lastAdvertised = '';
  private adTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: RouterCore,
    private readonly db: LinkStateDb,
    private readonly addresses: Addresses,
    private readonly forwarder: Forwarder,
    private readonly links: Links,
    /** Drop a connection whose neighbour stopped answering. */
    private readonly drop: (info: ConnInfo, why: string) => void,
  ) {}

  start(): void {
    this.resyncTimer = setInterval(() => this.resync(), RESYNC_INTERVAL_MS);
    this.resyncTimer.unref();
    this.helloTimer = setInterval(() => this.hello(), HELLO_INTERVAL_MS);
    this.helloTimer.unref();
  }

  stop(): void {
    if (this.adTimer) clearTimeout(this.adTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.helloTimer) clearInterval(this.helloTimer);
  }

  /** An inter-router connection is open: attach our control and transit links and say hello. */
  attach(info: ConnInfo): void {
    const connection = info.connection;
    const control = connection.open_sender({
      name: `${this.core.id}/control/${info.identity}`, target: { address: CONTROL_ADDRESS }, source: { address: CONTROL_ADDRESS },
    });
    info.control = control;
    this.links.newOutLink(control, info, 'control', null);
    const transit = connection.open_sender({
      name: `${this.core.id}/transit/${info.identity}`, target: { address: TRANSIT_ADDRESS }, source: { address: TRANSIT_ADDRESS },
    });
    info.transit = this.links.newOutLink(transit, info, 'transit', null);
    this.sendControl(info, { op: 'hello', id: this.core.id, cost: info.cost, instance: this.core.instance });
  }

  /** A connection is gone: if it was a neighbour's, recompute without it. */
  connectionLost(info: ConnInfo): void {
    if (!info.peerRouter || this.core.neighbors.get(info.peerRouter) !== info) return;
    this.core.neighbors.delete(info.peerRouter);
    // another connection to the same router can take over
    for (const other of this.core.connections.values()) {
      if (other.peerRouter === info.peerRouter) { this.core.neighbors.set(info.peerRouter, other); break; }
    }
    this.core.log.info('ROUTER', `Neighbor ${info.peerRouter} lost`);
    this.topologyChanged();
  }

  private sendControl(info: ConnInfo, body: Record<string, unknown>): void {
    const s = info.control;
    if (!s) return;
    const l = linkTag<OutLink>(s);
    if (l) { l.deliveryCount++; l.presettledCount++; }
    markPresettled(s.send({ body }));
  }

  /** Keep-alive on every inter-router connection; drop neighbours gone silent. */
  private hello(): void {
    const now = Date.now();
    for (const info of this.core.connections.values()) {
      if (info.role !== 'inter-router' || !info.control) continue;
      if (info.peerRouter && info.lastHeard && now - info.lastHeard > HELLO_MAX_AGE_MS) {
        this.core.log.info('ROUTER', `Neighbor ${info.peerRouter} silent for ${now - info.lastHeard} ms: dropping the link`);
        this.drop(info, 'neighbor stopped answering');
        continue;
      }
      this.sendControl(info, { op: 'keepalive', id: this.core.id });
    }
  }

  /** A message on a control link from a neighbour. */
  onControl(info: ConnInfo, msg: Message): void {
    const body = msg.body as Record<string, unknown> | undefined;
    if (!body || typeof body.op !== 'string') return;
    info.lastHeard = Date.now();
    if (body.op === 'keepalive') return;
    if (body.op === 'hello') {
      const id = String(body.id);
      if (id === this.core.id) {
        this.core.log.error('ROUTER', `A router with our own id ${id} connected from ${info.host}: router ids must be unique in a mesh`);
        info.connection.close({ condition: 'amqp:not-allowed', description: `duplicate router id ${id}` });
        return;
      }
      info.peerRouter = id;
      info.cost = Math.max(info.cost, Number(body.cost) || 1);
      if (!this.core.neighbors.has(id)) this.core.neighbors.set(id, info);
      this.core.log.info('ROUTER', `Neighbor ${id} up (cost ${info.cost})`);
      this.sendDatabase(info); // bring the new neighbour up to date with everything we know
      this.topologyChanged();
      return;
    }
    if (body.op === 'lsa') {
      const ad = body.ad as LinkStateAd;
      if (!ad || typeof ad.origin !== 'string') return;
      if (this.db.offer(ad)) {
        for (const n of this.core.neighbors.values()) if (n !== info) this.sendControl(n, { op: 'lsa', ad });
        this.recompute();
        this.forwarder.reachabilityChanged();
      }
    }
  }

  private ownNeighbors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, info] of this.core.neighbors) out[id] = info.cost;
    return out;
  }

  /** Our advertisement; nextSeq: a new one (flooded), so peers replace the one they hold. */
  private ownAd(opts: { nextSeq: boolean }): LinkStateAd {
    if (opts.nextSeq) this.seq++;
    return { origin: this.core.id, instance: this.core.instance, seq: this.seq, neighbors: this.ownNeighbors(), addresses: this.addresses.advertised() };
  }

  private recompute(): void {
    if (this.db.compute(this.ownNeighbors())) {
      const list = [...this.db.routes.values()].map((r) => `${r.id} via ${r.nextHop} cost ${r.cost}`).join(', ');
      this.core.log.info('ROUTER', `Routes: ${list || '(none)'}`);
    }
  }

  private topologyChanged(): void {
    this.recompute();
    this.advertise();
    this.forwarder.reachabilityChanged();
  }

  /** Local consumers changed: advertise shortly (changes in one burst go out once). */
  scheduleAdvertise(): void {
    if (this.core.mode !== 'interior' || this.adTimer) return;
    this.adTimer = setTimeout(() => { this.adTimer = null; this.advertise(); }, 5);
  }

  /** Our advertisement as last flooded, and every other one we hold. */
  private sendDatabase(info: ConnInfo): void {
    this.sendControl(info, { op: 'lsa', ad: this.ownAd({ nextSeq: false }) });
    for (const ad of this.db.ads.values()) this.sendControl(info, { op: 'lsa', ad });
  }

  /**
   * Every neighbour gets the whole database again now and then, without a new
   * sequence number: one that missed an advertisement takes it, the others
   * see nothing newer and do no work (qdrouterd's router advertisement does
   * this job every 30 s). Flooding a fresh advertisement each time made every
   * router of the mesh recompute its routes every few seconds for nothing.
   */
  private resync(): void {
    if (this.core.mode !== 'interior') return;
    for (const n of this.core.neighbors.values()) this.sendDatabase(n);
  }

  /** Flood our own advertisement when it changed. */
  private advertise(): void {
    if (this.core.mode !== 'interior') return;
    const probe = this.ownAd({ nextSeq: false });
    const sig = JSON.stringify([probe.neighbors, probe.addresses]);
    if (sig === this.lastAdvertised) return;
    this.lastAdvertised = sig;
    const ad = this.ownAd({ nextSeq: true });
    for (const n of this.core.neighbors.values()) this.sendControl(n, { op: 'lsa', ad });
  }
}
