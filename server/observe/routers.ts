// Router observer: AMQP management QUERY against every router of the lab,
// several times a second, the same code for qdrouterd and the embedded
// router (both answer with qdrouterd's entity types and attribute names).
// Counters become rates from the difference between two polls. A router that
// dies is retried with a backoff; nothing here may throw past its own loop.
import type { RouterSnapshot } from '../../common/wire.js';

export type Row = Record<string, unknown>;

/** The part of the management client the observer needs (server/router's ManagementClient fits). */
export interface ManagementLike {
  readonly product?: string;
  readonly version?: string;
  readonly containerId?: string;
  query(entityType: string, attributeNames?: string[]): Promise<Row[]>;
  close(): Promise<void>;
}
export type ManagementConnect = (host: string, port: number, opts: { timeoutMs: number; containerId: string }) => Promise<ManagementLike>;

export interface RawRouterQuery {
  router: Row[];
  nodes: Row[];
  connections: Row[];
  links: Row[];
  addresses: Row[];
}

const ATTRS = {
  router: ['id', 'mode', 'version', 'deliveriesIngress', 'deliveriesEgress', 'deliveriesTransit'],
  nodes: ['id', 'nextHop', 'cost', 'routerLink'],
  connections: ['identity', 'container', 'host', 'role', 'dir', 'properties'],
  links: ['identity', 'linkType', 'linkDir', 'owningAddr', 'deliveryCount', 'unsettledCount', 'undeliveredCount', 'connectionId', 'linkName'],
  addresses: ['key', 'name', 'identity', 'distribution', 'subscriberCount', 'remoteCount', 'deliveriesIngress', 'deliveriesEgress', 'deliveriesTransit'],
};

/** Our own management connections carry this container prefix and are left out of snapshots. */
export const OBSERVER_CONTAINER = 'hmlab-observer';

const num = (v: unknown): number => {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'string' && v !== '' && !isNaN(Number(v)) ? Number(v) : 0;
};
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * qdrouterd keys addresses with a class character (M mobile, with a phase
 * digit; L local; R router; T topological; ...). Mobile addresses are the
 * ones services use; the rest are the router's own plumbing.
 */
export function addressOf(key: string | null): { address: string; mobile: boolean } | null {
  if (!key) return null;
  // the management agent ($management) and qdrouterd's edge protocol (_$qd.*) have mobile keys too, but are plumbing
  if (/^M[0-9]/.test(key)) return { address: key.slice(2), mobile: !/^(\$|_\$qd\.)/.test(key.slice(2)) };
  if (/^[LRTHCDEF]./.test(key)) return { address: key.slice(1), mobile: false };
  if (key.startsWith('$') || key.startsWith('_topo')) return { address: key, mobile: false };
  return { address: key, mobile: true };
}

export interface Counters { t: number; links: Map<string, number>; addresses: Map<string, number> }

/** Build the wire snapshot from raw QUERY rows; rates from the previous poll's counters. */
export function buildRouterSnapshot(
  name: string,
  product: string,
  raw: RawRouterQuery,
  prev: Counters | null,
  now: number,
): { snapshot: RouterSnapshot; counters: Counters } {
  const dt = prev ? (now - prev.t) / 1000 : 0;
  const rate = (cur: number, before: number | undefined) => (dt > 0 && before !== undefined && cur >= before ? Math.round(((cur - before) / dt) * 10) / 10 : 0);
  const r0 = raw.router[0] ?? {};
  const id = str(r0.id) ?? name;

  const ownConns = new Set<string>();
  const connections: RouterSnapshot['connections'] = [];
  for (const c of raw.connections) {
    const container = str(c.container) ?? '';
    if (container.startsWith(OBSERVER_CONTAINER)) { ownConns.add(String(c.identity)); continue; }
    connections.push({ container, host: str(c.host) ?? '', role: str(c.role) ?? 'normal', dir: str(c.dir) ?? 'in' });
  }

  const counters: Counters = { t: now, links: new Map(), addresses: new Map() };
  const links: RouterSnapshot['links'] = [];
  for (const l of raw.links) {
    const conn = str(l.connectionId) ?? '';
    if (ownConns.has(conn)) continue;
    const type = str(l.linkType) ?? 'endpoint';
    if (type === 'router-control') continue; // mesh hellos, not traffic
    const addr = addressOf(str(l.owningAddr));
    if (type === 'endpoint' && addr && !addr.mobile && addr.address.startsWith('$management')) continue;
    const key = `${conn}/${str(l.identity) ?? str(l.linkName) ?? links.length}`;
    const deliveries = num(l.deliveryCount);
    counters.links.set(key, deliveries);
    links.push({
      address: addr ? addr.address : null,
      dir: str(l.linkDir) === 'out' ? 'out' : 'in',
      deliveries,
      unsettled: num(l.unsettledCount),
      undelivered: num(l.undeliveredCount),
      connection: conn,
      rate: rate(deliveries, prev?.links.get(key)),
    });
  }

  const addresses: RouterSnapshot['addresses'] = [];
  let sumIn = 0, sumOut = 0, sumTransit = 0;
  for (const a of raw.addresses) {
    const addr = addressOf(str(a.key) ?? str(a.name) ?? str(a.identity));
    if (!addr || !addr.mobile) continue;
    const dIn = num(a.deliveriesIngress), dOut = num(a.deliveriesEgress);
    sumIn += dIn; sumOut += dOut; sumTransit += num(a.deliveriesTransit);
    const total = dIn + dOut + num(a.deliveriesTransit);
    counters.addresses.set(addr.address, total);
    addresses.push({
      address: addr.address,
      distribution: str(a.distribution) ?? 'balanced',
      subscribers: num(a.subscriberCount),
      remotes: num(a.remoteCount),
      deliveriesIn: dIn,
      deliveriesOut: dOut,
      rate: rate(total, prev?.addresses.get(addr.address)),
    });
  }
  addresses.sort((x, y) => x.address.localeCompare(y.address));

  const nodes: RouterSnapshot['nodes'] = raw.nodes
    .map((n) => ({ id: str(n.id) ?? '', nextHop: str(n.nextHop), cost: n.cost === null || n.cost === undefined ? null : num(n.cost) }))
    .filter((n) => n.id && n.id !== id);

  const hasRouterTotals = r0.deliveriesIngress !== undefined;
  return {
    snapshot: {
      router: name,
      id,
      product,
      nodes,
      connections,
      addresses,
      links,
      deliveries: hasRouterTotals
        ? { in: num(r0.deliveriesIngress), out: num(r0.deliveriesEgress), transit: num(r0.deliveriesTransit) }
        : { in: sumIn, out: sumOut, transit: sumTransit },
    },
    counters,
  };
}

export interface RouterTarget { name: string; host: string; port: number }

/** Polls one router forever (until stopped): connect, QUERY, emit, reconnect with backoff when it dies. */
export class RouterPoller {
  private stopped = false;
  private client: ManagementLike | null = null;
  private prev: Counters | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs = 0;
  polls = 0;
  lastError: string | null = null;

  /** `onLost` hears that the router stopped answering: a crash is usually seen here first. */
  constructor(
    readonly target: RouterTarget,
    private readonly connect: ManagementConnect,
    private readonly emit: (s: RouterSnapshot) => void,
    private readonly intervalMs = 333,
    private readonly onLost: () => void = () => {},
  ) {}

  start(): void { this.schedule(0); }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => { this.turn().catch(() => { /* turn handles its own errors */ }); }, ms);
  }

  private async turn(): Promise<void> {
    if (this.stopped) return;
    const began = Date.now();
    try {
      if (!this.client) {
        const containerId = `${OBSERVER_CONTAINER}-${process.pid}-${this.target.name}-${Date.now() % 100000}`;
        this.client = await this.connect(this.target.host, this.target.port, { timeoutMs: 1000, containerId });
        if (this.stopped) { await this.client.close().catch(() => {}); this.client = null; return; }
        this.prev = null;
      }
      const c = this.client;
      const [router, nodes, connections, links, addresses] = await Promise.all([
        c.query('router', ATTRS.router), c.query('router.node', ATTRS.nodes), c.query('connection', ATTRS.connections),
        c.query('router.link', ATTRS.links), c.query('router.address', ATTRS.addresses),
      ]);
      if (this.stopped) return;
      const product = [c.product ?? 'router', c.version].filter(Boolean).join(' ');
      const { snapshot, counters } = buildRouterSnapshot(this.target.name, product, { router, nodes, connections, links, addresses }, this.prev, Date.now());
      this.prev = counters;
      this.polls++;
      this.backoffMs = 0;
      this.lastError = null;
      this.emit(snapshot);
      this.schedule(Math.max(0, this.intervalMs - (Date.now() - began)));
    } catch (err) {
      this.lastError = (err as Error)?.message ?? String(err);
      if (this.polls > 0 && this.backoffMs === 0) this.onLost();
      const old = this.client;
      this.client = null;
      this.prev = null;
      if (old) old.close().catch(() => {});
      this.backoffMs = Math.min(2000, this.backoffMs ? this.backoffMs * 2 : 250);
      this.schedule(this.backoffMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    if (c) await c.close().catch(() => {});
  }
}
