// What the flow view knows about the lab, built from the event stream alone:
// components and their states, which router each service is attached to, the
// inter-router links, broker queues, counters, rates and latencies. No DOM
// here, so the same logic serves live streams, replays and benchmarks.
import type { ComponentStatus, LabEvent, LabStatus, RouterSnapshot, BrokerSnapshot, ServiceEvent } from '../../common/wire.js';
import { componentAt } from '../../common/endpoint.js';
import { isUp } from '../../common/rules.js';

/** Kinds of travelling message the view draws. */
export type FlowKind = 'rpc' | 'reply' | 'cast' | 'fanout' | 'notify' | 'failed';

/** A hop of a message's path: a component, or the broker's exchange / one of its queues. */
export type Hop = { node: string } | { exchange: true } | { queue: string };

export interface FlowMessage {
  kind: FlowKind;
  hops: Hop[];
  /** Second leg drawn after the first: the reply of a call. */
  then?: { kind: FlowKind; hops: Hop[] };
  weight: number; // how many real messages this one stands for
}

export interface FailoverNotice {
  service: string;
  from: string | null; // component names
  to: string | null;
  t: number;
}

/** Events per second over a short sliding window, in stream time. */
export class RateMeter {
  private buckets = new Float64Array(8); // 250 ms buckets: a 2 s window
  private bucketAt = 0; // index of the newest bucket, in 250 ms units
  total = 0;
  add(t: number, n = 1): void {
    this.roll(t);
    this.buckets[this.bucketAt % 8] += n;
    this.total += n;
  }
  rate(t: number): number {
    this.roll(t);
    let s = 0;
    // The newest bucket is still filling: use the 7 complete ones.
    for (let i = 1; i < 8; i++) s += this.buckets[(this.bucketAt - i + 8 * 1024) % 8];
    return s / 1.75;
  }
  private roll(t: number): void {
    const b = Math.floor(t / 250);
    if (this.bucketAt === 0 || b - this.bucketAt > 8 || b < this.bucketAt - 8) {
      this.buckets.fill(0);
      this.bucketAt = b;
      return;
    }
    while (this.bucketAt < b) { this.bucketAt++; this.buckets[this.bucketAt % 8] = 0; }
  }
}

/** How long the server's own rates stand (stream time, ms) before the view's meters take over. */
export const SERVER_RATES_FRESH_MS = 3000;

const MESSAGE_KINDS = ['rpc.call', 'rpc.cast', 'rpc.fanout', 'notify.sent', 'notify.received'] as const;
export type CountedKind = (typeof MESSAGE_KINDS)[number];

export class FlowModel {
  status: LabStatus | null = null;
  components: ComponentStatus[] = [];
  /** Bumped whenever something the layout depends on changes. */
  topologyVersion = 0;
  routerSnapshots = new Map<string, { t: number; snap: RouterSnapshot }>();
  /** Each broker's latest snapshot, by name (a multi-region lab has one broker per region). */
  brokers = new Map<string, { t: number; snap: BrokerSnapshot }>();
  /** The broker the view draws with its queues: the lab's first. */
  get broker(): { t: number; snap: BrokerSnapshot } | null {
    return this.brokerSnapshot(this.brokerName());
  }
  /** A broker's latest snapshot; one that names no broker (an older recording) is the first broker's. */
  brokerSnapshot(name: string | null): { t: number; snap: BrokerSnapshot } | null {
    if (!name) return null;
    return this.brokers.get(name) ?? (name === this.brokerName() ? this.brokers.get('') ?? null : null);
  }
  /** Service name -> component name its RPC connection is on. */
  attachment = new Map<string, string>();
  private attachedAt = new Map<string, number>();
  /**
   * Attachments guessed from configuration (a service not connected yet is
   * drawn at the first router of its URL): its real connection elsewhere is
   * where it starts, not a failover.
   */
  private guessed = new Set<string>();
  /**
   * Services that only listen for notifications (telemetry): their one
   * connection is to the broker, so they are drawn there, never on a router,
   * whatever their RPC transport says.
   */
  notifyOnly = new Set<string>();
  private rpcUsers = new Set<string>(); // services seen using RPC
  failovers: FailoverNotice[] = [];
  lastError: { t: number; message: string } | null = null;
  progress = new Map<string, { message: string; t: number; elapsedMs: number }>();

  // Counters and rates (stream time), weighted by `sampled`.
  perKind = new Map<string, RateMeter>();
  perComponent = new Map<string, { sent: RateMeter; received: RateMeter; failed: number }>();
  perRouter = new Map<string, RateMeter>(); // messages crossing each router (from paths)
  perEdge = new Map<string, RateMeter>(); // "a|b" -> messages along that edge
  serverRates: { t: number; perSecond: Record<string, number> } | null = null;
  /** Recent RPC call latencies in ms (ring). */
  latencies = new Float64Array(2000);
  latencyCount = 0;
  messages = 0;
  lastT = 0;

  private routerIdToName = new Map<string, string>();
  private idToServer = new Map<string, string>(); // message id -> serving service (bounded)
  private castClients = new Map<string, { client: string; kind: 'cast' | 'fanout' }>(); // cast/fanout id -> its sender
  private topicServers = new Map<string, string[]>(); // rpc topic -> services that served it
  private rr = 0;
  private pathCache = new Map<string, string[] | null>();
  private meshEdges: [string, string][] = [];

  /** Apply one event; returns the messages to animate (possibly none). */
  apply(ev: LabEvent): FlowMessage[] {
    if (ev.t > this.lastT) this.lastT = ev.t;
    switch (ev.type) {
      case 'hello':
      case 'status':
        this.setStatus(ev.status, ev.t);
        return [];
      case 'component': {
        const c = this.components.find((x) => x.name === ev.name);
        if (c) {
          const wasAlive = alive(c);
          c.state = ev.state;
          c.pid = ev.pid;
          if (ev.detail !== undefined) c.detail = ev.detail;
          if (ev.state === 'running' && !wasAlive) c.startedAt = ev.t;
          // A service that stops or restarts attaches afresh: that is no failover.
          if (c.kind === 'service' && ev.state !== 'running') { this.attachment.delete(c.name); this.guessed.delete(c.name); }
          if (alive(c) !== wasAlive) this.invalidateRoutes();
        }
        return [];
      }
      case 'router': {
        const s = ev.snapshot;
        this.routerSnapshots.set(s.router, { t: ev.t, snap: s });
        if (this.routerIdToName.get(s.id) !== s.router) { this.routerIdToName.set(s.id, s.router); this.invalidateRoutes(); }
        const before = this.meshEdges.map((e) => e.join('|')).sort().join(',');
        this.meshEdges = this.computeMeshEdges();
        if (this.meshEdges.map((e) => e.join('|')).sort().join(',') !== before) this.invalidateRoutes();
        return [];
      }
      case 'broker':
        this.brokers.set(ev.snapshot.broker ?? '', { t: ev.t, snap: ev.snapshot });
        return [];
      case 'rates':
        this.serverRates = { t: ev.t, perSecond: ev.perSecond };
        return [];
      case 'failover': {
        // The server names the component when it knows it, else gives host:port.
        const to = this.components.some((c) => c.name === ev.to) ? ev.to : this.componentForEndpoint(ev.to);
        this.attach(ev.service, to, ev.t);
        return [];
      }
      case 'progress':
        this.progress.set(ev.component, { message: ev.message, t: ev.t, elapsedMs: ev.elapsedMs });
        return [];
      case 'error':
        this.lastError = { t: ev.t, message: ev.message };
        return [];
      case 'message':
        return this.onMessage(ev.event, Math.max(1, ev.sampled ?? 1), ev.t);
      default:
        return [];
    }
  }

  private setStatus(st: LabStatus, t: number): void {
    const names = (cs: ComponentStatus[]) => cs.map((c) => `${c.name}:${c.kind}`).join(',');
    const changed = names(st.components) !== names(this.components) || st.topology !== this.status?.topology;
    // A lab brought up afresh (same components or not) starts from zero: counters, failovers, attachments.
    const fresh = !!this.status && (changed || (!!st.upAt && !!this.status.upAt && st.upAt !== this.status.upAt));
    if (fresh) this.resetCounters();
    this.status = st;
    this.components = st.components.map((c) => ({ ...c }));
    // A different lab (topology or components) is not a failover: attachments start afresh.
    if (changed) { this.attachment.clear(); this.attachedAt.clear(); }
    for (const c of this.components) {
      if (c.kind !== 'service') continue;
      // Only a running service's move counts as a failover; a (re)starting one just attaches.
      if (c.state !== 'running') this.attachment.delete(c.name);
      const on = this.kindOf(this.componentForEndpoint(c.connectedTo));
      if (on === 'router') this.markRpc(c.name);
      // On the broker while RPC goes to routers: that connection is a notification listener's.
      else if (on === 'broker' && this.kindOf(this.componentForEndpoint(this.rpcUrlOf(c.name))) === 'router') this.markNotifyOnly(c.name);
      if (this.notifyOnly.has(c.name)) continue;
      // A stopped service is drawn at its configured router only once it is known to use RPC.
      if (!c.connectedTo && !this.rpcUsers.has(c.name)) continue;
      const to = this.componentForEndpoint(c.connectedTo ?? c.transport?.rpc);
      if (to) this.attach(c.name, to, t, !c.connectedTo);
    }
    if (changed) {
      this.topologyVersion++;
      this.invalidateRoutes();
    }
  }

  private kindOf(name: string | null): ComponentStatus['kind'] | null {
    return name ? this.components.find((c) => c.name === name)?.kind ?? null : null;
  }

  private rpcUrlOf(service: string): string | null {
    return this.components.find((c) => c.name === service)?.transport?.rpc ?? this.status?.transports.rpc ?? null;
  }

  private markRpc(service: string): void {
    this.rpcUsers.add(service);
    if (this.notifyOnly.delete(service)) this.invalidateRoutes();
  }

  private markNotifyOnly(service: string): void {
    if (this.rpcUsers.has(service) || this.notifyOnly.has(service)) return;
    this.notifyOnly.add(service);
    this.attachment.delete(service);
    this.attachedAt.delete(service);
    this.invalidateRoutes();
  }

  /** Where a service's notifications go: the component of its notification transport (the broker). */
  notifyTarget(service: string): string | null {
    const c = this.components.find((x) => x.name === service);
    return this.componentForEndpoint(c?.transport?.notify ?? this.status?.transports.notify) ?? this.brokerName();
  }

  /**
   * Move a service's RPC attachment; a move between two components is a
   * failover worth showing, unless the first was only a guess.
   */
  private attach(service: string, to: string | null, t: number | null, guess = false): void {
    if (!to || this.notifyOnly.has(service)) return;
    const from = this.attachment.get(service) ?? null;
    if (from === to) { if (!guess) this.guessed.delete(service); return; }
    // A guess never moves a service that is known to be connected elsewhere.
    if (guess && from && !this.guessed.has(service)) return;
    const target = this.components.find((c) => c.name === to);
    // Late news (a status polled before the move, an event sent before it) must not move a service back.
    if (from && target && !alive(target)) return;
    if (t !== null && t < (this.attachedAt.get(service) ?? 0)) return;
    if (t !== null) this.attachedAt.set(service, t);
    this.attachment.set(service, to);
    const svc = this.components.find((c) => c.name === service);
    if (svc) { const ep = this.components.find((c) => c.name === to)?.endpoint; if (ep) svc.connectedTo = ep; }
    const wasGuess = this.guessed.has(service);
    if (guess) this.guessed.add(service); else this.guessed.delete(service);
    if (from && t !== null && !guess && !wasGuess) {
      this.failovers.push({ service, from, to, t });
      if (this.failovers.length > 20) this.failovers.shift();
    }
    this.invalidateRoutes();
  }

  /** A new lab: what the previous one counted, failed and moved is not this one's. */
  private resetCounters(): void {
    this.perKind.clear();
    this.perComponent.clear();
    this.perRouter.clear();
    this.perEdge.clear();
    this.serverRates = null;
    this.latencies.fill(0);
    this.latencyCount = 0;
    this.messages = 0;
    this.failovers = [];
    this.lastError = null;
    this.attachment.clear();
    this.attachedAt.clear();
    this.guessed.clear();
    this.idToServer.clear();
    this.castClients.clear();
    this.topicServers.clear();
  }

  /** The broker or router listening where a URL or host:port points (a transport URL: its first host). */
  componentForEndpoint(endpoint: string | null | undefined): string | null {
    return componentAt(this.components.filter((c) => c.kind !== 'service'), endpoint)?.name ?? null;
  }

  /**
   * Messages of one kind per second at `now` (stream time). The server
   * counts every message, also those a sampled stream leaves out, so its
   * rates stand while fresh; without them (a recording that has none, a
   * server gone quiet) the view's own meters tell.
   */
  rate(kind: string, now: number): number {
    const server = this.serverRates && now - this.serverRates.t < SERVER_RATES_FRESH_MS ? this.serverRates.perSecond[kind] : undefined;
    return server ?? this.perKind.get(kind)?.rate(now) ?? 0;
  }

  /** Messages of one kind counted since the lab came up. */
  total(kind: string): number {
    return this.perKind.get(kind)?.total ?? 0;
  }

  kindMeter(kind: string): RateMeter {
    let m = this.perKind.get(kind);
    if (!m) { m = new RateMeter(); this.perKind.set(kind, m); }
    return m;
  }
  componentMeters(name: string) {
    let m = this.perComponent.get(name);
    if (!m) { m = { sent: new RateMeter(), received: new RateMeter(), failed: 0 }; this.perComponent.set(name, m); }
    return m;
  }
  private meter(map: Map<string, RateMeter>, key: string): RateMeter {
    let m = map.get(key);
    if (!m) { m = new RateMeter(); map.set(key, m); }
    return m;
  }

  private onMessage(e: ServiceEvent, w: number, t: number): FlowMessage[] {
    this.messages += w;
    const me = this.componentMeters(e.service);
    if (e.kind.startsWith('rpc.')) this.markRpc(e.service);
    // Every RPC event names the connection it used: the service's attachment, now.
    if (e.transport && e.kind.startsWith('rpc.')) {
      const on = this.componentForEndpoint(e.transport);
      if (on) this.attach(e.service, on, e.t);
    }
    switch (e.kind) {
      case 'rpc.request': {
        me.received.add(t, w);
        if (e.target?.topic) {
          const list = this.topicServers.get(e.target.topic) ?? [];
          if (!list.includes(e.service)) { list.push(e.service); list.sort(); this.topicServers.set(e.target.topic, list); }
        }
        if (!e.id) return [];
        remember(this.idToServer, e.id, e.service);
        // Casts and fanouts are drawn when a server takes them: only then is the path known.
        const cast = this.castClients.get(e.id);
        if (!cast) return [];
        const hops = this.route(cast.client, e.service, t, w);
        return hops ? [{ kind: cast.kind, hops, weight: w }] : [];
      }
      case 'rpc.reply':
        me.sent.add(t, w);
        return [];
      case 'transport.connected': {
        const to = this.componentForEndpoint(e.transport);
        // Only the RPC connection decides the attachment; a broker connection does
        // only when RPC itself goes over the broker (else it is the notifier's or listener's).
        if (to && this.kindOf(to) === 'router') { this.markRpc(e.service); this.attach(e.service, to, t); }
        else if (to && !this.attachment.has(e.service) && this.kindOf(this.componentForEndpoint(this.rpcUrlOf(e.service))) !== 'router') {
          this.attach(e.service, to, null);
        }
        return [];
      }
      case 'rpc.call': {
        this.kindMeter(e.kind).add(t, w);
        me.sent.add(t, w);
        if (typeof e.latencyMs === 'number' && e.ok !== false) {
          this.latencies[this.latencyCount % this.latencies.length] = e.latencyMs;
          this.latencyCount++;
        }
        if (e.ok === false) {
          me.failed += w;
          this.kindMeter('rpc.failed').add(t, w);
          // A failed call is drawn to where it got stuck: the client's own router.
          const r = this.attachment.get(e.service);
          return [{ kind: 'failed', hops: r ? [{ node: e.service }, { node: r }] : [{ node: e.service }], weight: w }];
        }
        const server = this.serverFor(e);
        const hops = this.route(e.service, server, t, w);
        if (!hops) return [];
        return [{ kind: 'rpc', hops, weight: w, then: { kind: 'reply', hops: [...hops].reverse() } }];
      }
      case 'rpc.cast':
      case 'rpc.fanout': {
        this.kindMeter(e.kind).add(t, w);
        me.sent.add(t, w);
        const kind = e.kind === 'rpc.cast' ? 'cast' : 'fanout';
        if (e.id) {
          // The server's request may already be here (events of two processes race).
          const server = kind === 'cast' ? this.idToServer.get(e.id) : undefined;
          if (server) {
            const hops = this.route(e.service, server, t, w);
            return hops ? [{ kind, hops, weight: w }] : [];
          }
          remember(this.castClients, e.id, { client: e.service, kind });
          return [];
        }
        // No id to pair with a server: draw it to the client's router only.
        const r = this.attachment.get(e.service);
        return r ? [{ kind, hops: [{ node: e.service }, { node: r }], weight: w }] : [];
      }
      case 'notify.sent': {
        this.kindMeter(e.kind).add(t, w);
        me.sent.add(t, w);
        const broker = this.brokerName();
        if (!broker) return [];
        const q = this.queueFor(e);
        const hops: Hop[] = [{ node: e.service }, { exchange: true }];
        if (q) hops.push({ queue: q });
        this.meter(this.perEdge, `${e.service}|${broker}`).add(t, w);
        return [{ kind: 'notify', hops, weight: w }];
      }
      case 'notify.received': {
        // A listener never seen using RPC: a notification-only service.
        this.markNotifyOnly(e.service);
        this.kindMeter(e.kind).add(t, w);
        me.received.add(t, w);
        const q = this.queueFor(e);
        const broker = this.brokerName();
        if (!broker) return [];
        this.meter(this.perEdge, `${broker}|${e.service}`).add(t, w);
        return [{ kind: 'notify', hops: q ? [{ queue: q }, { node: e.service }] : [{ exchange: true }, { node: e.service }], weight: w }];
      }
      default:
        return [];
    }
  }

  /** Which service served (or will serve) this RPC. */
  private serverFor(e: ServiceEvent): string | null {
    if (e.answeredBy && this.components.some((c) => c.name === e.answeredBy)) return e.answeredBy;
    if (e.id) { const s = this.idToServer.get(e.id); if (s) return s; }
    const named = e.target?.server;
    if (named && this.components.some((c) => c.name === named)) return named;
    const topic = e.target?.topic;
    const list = topic ? this.topicServers.get(topic) : undefined;
    if (list && list.length) {
      if (named) { const m = list.find((s) => s === named || s.endsWith(named) || named.endsWith(s)); if (m) return m; }
      return list[this.rr++ % list.length];
    }
    return null;
  }

  /** Hops of an RPC: client -> its router -> ... -> server's router -> server; counts each edge and router crossed. */
  route(client: string, server: string | null, t: number, w: number): Hop[] | null {
    const from = this.attachment.get(client);
    if (!from) return null;
    const to = server ? this.attachment.get(server) : undefined;
    let middle: string[] | null = [from];
    if (to && to !== from) middle = this.meshPath(from, to);
    if (!middle) middle = [from];
    const nodes = [client, ...middle, ...(server && to ? [server] : [])];
    for (let i = 0; i < nodes.length; i++) {
      if (i > 0) this.meter(this.perEdge, edgeKey(nodes[i - 1], nodes[i])).add(t, w);
      if (i > 0 && i < nodes.length - 1) this.meter(this.perRouter, nodes[i]).add(t, w);
    }
    return nodes.map((n) => ({ node: n }));
  }

  /** Lowest-hop path between two routers over live inter-router links (the mesh reroutes around a dead router). */
  meshPath(a: string, b: string): string[] | null {
    const key = `${a}>${b}`;
    if (this.pathCache.has(key)) return this.pathCache.get(key) ?? null;
    const live = new Set(this.components.filter((c) => c.kind === 'router' && alive(c)).map((c) => c.name));
    const adj = new Map<string, string[]>();
    for (const [x, y] of this.meshLinks()) {
      if (!live.has(x) || !live.has(y)) continue;
      (adj.get(x) ?? adj.set(x, []).get(x)!).push(y);
      (adj.get(y) ?? adj.set(y, []).get(y)!).push(x);
    }
    const prev = new Map<string, string>([[a, a]]);
    const queue = [a];
    while (queue.length) {
      const x = queue.shift()!;
      if (x === b) break;
      for (const y of adj.get(x) ?? []) if (!prev.has(y)) { prev.set(y, x); queue.push(y); }
    }
    let path: string[] | null = null;
    if (prev.has(b)) {
      path = [b];
      while (path[0] !== a) path.unshift(prev.get(path[0])!);
    } else if (this.components.some((c) => c.name === a && c.kind !== 'router')) {
      path = [a]; // the broker carries RPC itself (broker-only topology)
    }
    this.pathCache.set(key, path);
    return path;
  }

  /** Inter-router links: from the routers' own view (router.node, inter-router connections); a full mesh until one reports. */
  meshLinks(): [string, string][] {
    if (this.routerSnapshots.size > 0) return this.meshEdges;
    const routers = this.components.filter((c) => c.kind === 'router').map((c) => c.name);
    const out: [string, string][] = [];
    for (let i = 0; i < routers.length; i++) for (let j = i + 1; j < routers.length; j++) out.push([routers[i], routers[j]]);
    return out;
  }

  private computeMeshEdges(): [string, string][] {
    const set = new Map<string, [string, string]>();
    const add = (x: string, y: string | undefined) => {
      if (!y || x === y) return;
      const k = edgeKey(x, y);
      if (!set.has(k)) set.set(k, x < y ? [x, y] : [y, x]);
    };
    for (const { snap } of this.routerSnapshots.values()) {
      for (const n of snap.nodes) {
        if (n.id === snap.id) continue;
        const direct = n.nextHop === null || n.nextHop === n.id || n.nextHop === '(self)';
        if (direct) add(snap.router, this.routerIdToName.get(n.id) ?? this.nameLike(n.id));
      }
      for (const c of snap.connections) {
        if (c.role === 'inter-router') add(snap.router, this.routerIdToName.get(c.container) ?? this.nameLike(c.container));
      }
    }
    return [...set.values()];
  }

  /** A router id that is not known yet may still be a component's name. */
  private nameLike(id: string): string | undefined {
    return this.components.find((c) => c.kind === 'router' && (c.name === id || id.endsWith(c.name)))?.name;
  }

  brokerName(): string | null {
    return this.components.find((c) => c.kind === 'broker')?.name ?? null;
  }

  /** The queue a notification lands in: <topic>.<priority>, as oslo.messaging names them. */
  private queueFor(e: ServiceEvent): string | null {
    const topic = e.target?.topic ?? 'notifications';
    const prio = (e.priority ?? 'info').toLowerCase();
    const want = `${topic}.${prio}`;
    const qs = (this.brokerSnapshot(this.notifyTarget(e.service)) ?? this.broker)?.snap.queues;
    if (!qs || qs.length === 0) return want;
    if (qs.some((q) => q.name === want)) return want;
    return qs.find((q) => q.name.startsWith(topic))?.name ?? want;
  }

  private shownQueues = new Map<string, string[]>(); // broker -> queues drawn
  /**
   * Queues of a broker (the first one unless named) worth drawing: the
   * busiest, notifications.info first. The choice is sticky (a queue leaves
   * only for a busier one) so the layout stays put.
   */
  visibleQueues(max: number, broker: string | null = this.brokerName()): BrokerSnapshot['queues'] {
    const qs = this.brokerSnapshot(broker)?.snap.queues ?? [];
    const score = (q: BrokerSnapshot['queues'][number]) => q.messages + q.publishRate + q.deliverRate;
    const byName = new Map(qs.map((q) => [q.name, q]));
    let shown = (this.shownQueues.get(broker ?? '') ?? []).filter((n) => byName.has(n));
    const rank = [...qs].sort((a, b) => score(b) - score(a)
      || Number(b.name === 'notifications.info') - Number(a.name === 'notifications.info')
      || Number(b.name.startsWith('notifications')) - Number(a.name.startsWith('notifications'))
      || a.name.localeCompare(b.name));
    for (const q of rank) {
      if (shown.includes(q.name)) continue;
      if (shown.length < max) { shown.push(q.name); continue; }
      // Swap out an idle queue for a busy one.
      const idle = shown.findIndex((n) => score(byName.get(n)!) === 0);
      if (score(q) > 0 && idle >= 0) shown[idle] = q.name;
    }
    shown = shown.slice(0, max);
    this.shownQueues.set(broker ?? '', shown);
    return shown.map((n) => byName.get(n)!);
  }

  /** Sorted latencies of recent calls. */
  sortedLatencies(): Float64Array {
    const n = Math.min(this.latencyCount, this.latencies.length);
    return this.latencies.slice(0, n).sort();
  }

  private invalidateRoutes(): void {
    this.pathCache.clear();
    this.topologyVersion++;
  }
}

/** A bounded map: the oldest entry goes when it is full. */
function remember<V>(m: Map<string, V>, k: string, v: V): void {
  m.set(k, v);
  if (m.size > 5000) m.delete(m.keys().next().value as string);
}

/** Whether the view draws a component as alive: its state is up (running or starting). */
export function alive(c: ComponentStatus): boolean {
  return isUp(c.state);
}

export function edgeKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
