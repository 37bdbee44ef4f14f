// The router's `$management` agent: answers AMQP management QUERY and READ
// for the entity types the lab observes, with qdrouterd's attribute names
// (qdrouter.json of qpid-dispatch 1.19.0), so one client reads both routers.
import type { Message } from 'rhea';
import type { AddressView, ConnectionView, LinkView, Pending, RouterView } from './types.js';
import { parseTopoAddress } from './address-table.js';
import { ENTITY_PREFIX } from './management-client.js';
import { VERSION } from '../version.js';

type Row = Record<string, unknown>;

/** Attribute order per entity type: what an empty attributeNames list returns. */
export const ENTITY_ATTRIBUTES: Record<string, string[]> = {
  router: ['name', 'identity', 'type', 'id', 'mode', 'area', 'version', 'metadata', 'addrCount', 'linkCount', 'nodeCount', 'connectionCount',
    'presettledDeliveries', 'droppedPresettledDeliveries', 'acceptedDeliveries', 'rejectedDeliveries', 'releasedDeliveries', 'modifiedDeliveries',
    'deliveriesDelayed1Sec', 'deliveriesDelayed10Sec', 'deliveriesIngress', 'deliveriesEgress', 'deliveriesTransit',
    'deliveriesIngressRouteContainer', 'deliveriesEgressRouteContainer', 'workerThreads', 'uptimeSeconds', 'linkRouteCount',
    'autoLinkCount', 'deliveriesStuck', 'deliveriesRedirectedToFallback', 'linksBlocked', 'memoryUsage'],
  connection: ['name', 'identity', 'type', 'host', 'role', 'dir', 'container', 'sasl', 'isAuthenticated', 'user', 'isEncrypted',
    'sslProto', 'sslCipher', 'properties', 'sslSsf', 'tenant', 'ssl', 'opened', 'active', 'adminStatus', 'operStatus', 'uptimeSeconds',
    'lastDlvSeconds', 'enableProtocolTrace', 'protocol'],
  'router.link': ['name', 'identity', 'type', 'linkName', 'linkType', 'linkDir', 'owningAddr', 'capacity', 'peer', 'undeliveredCount',
    'unsettledCount', 'deliveryCount', 'connectionId', 'adminStatus', 'operStatus', 'presettledCount', 'droppedPresettledCount',
    'acceptedCount', 'rejectedCount', 'releasedCount', 'modifiedCount', 'deliveriesDelayed1Sec', 'deliveriesDelayed10Sec',
    'deliveriesStuck', 'settleRate', 'creditAvailable', 'zeroCreditSeconds', 'priority', 'ingressHistogram'],
  'router.address': ['name', 'identity', 'type', 'key', 'distribution', 'inProcess', 'subscriberCount', 'remoteCount', 'containerCount',
    'remoteHostRouters', 'deliveriesIngress', 'deliveriesEgress', 'deliveriesTransit', 'deliveriesToContainer', 'deliveriesFromContainer',
    'transitOutstanding', 'trackedDeliveries', 'priority', 'deliveriesRedirectedToFallback', 'deliveriesIngressRouteContainer',
    'deliveriesEgressRouteContainer'],
  'router.node': ['name', 'identity', 'type', 'id', 'protocolVersion', 'instance', 'linkState', 'nextHop', 'routerLink', 'cost',
    'validOrigins', 'address', 'lastTopoChange', 'index'],
};

/** qdrouterd's address keys: M0 mobile (phase 0; `$management` too), L local, R a router. */
export function addressKey(address: string, routerId: string): string {
  const topo = parseTopoAddress(address);
  if (topo) return topo.router === routerId ? `L${topo.local}` : `R${topo.router}`;
  return `M0${address}`;
}

export class ManagementAgent {
  /** `router`: what the agent reads; `send`: how its replies leave (routed like any message). */
  constructor(private readonly router: RouterView, private readonly send: (msg: Message) => void) {}

  handle(p: Pending): void {
    const msg = p.msg;
    if (p.inDel) { try { p.inDel.accept(); } catch { /* gone */ } p.inDel = null; }
    const props = (msg.application_properties ?? {}) as Record<string, unknown>;
    const reply = (statusCode: number, statusDescription: string, body: unknown) => {
      if (!msg.reply_to) return;
      const out: Message = {
        to: String(msg.reply_to),
        correlation_id: msg.correlation_id ?? msg.message_id,
        application_properties: { statusCode, statusDescription },
        body,
      } as Message;
      this.send(out);
    };
    try {
      const operation = String(props.operation ?? '');
      const long = String(props.entityType ?? props.type ?? '');
      const type = long.startsWith(ENTITY_PREFIX) ? long.slice(ENTITY_PREFIX.length) : long;
      if (operation === 'GET-MGMT-NODES') return reply(200, 'OK', [...this.router.routes.keys()].map((id) => `amqp:/_topo/0/${id}/$management`));
      if (operation !== 'QUERY' && operation !== 'READ') {
        return reply(501, `Not Implemented: operation ${operation || '(none)'}; this router answers QUERY and READ`, {});
      }
      const attrs = ENTITY_ATTRIBUTES[type];
      if (!attrs) {
        const known = Object.keys(ENTITY_ATTRIBUTES).map((t) => ENTITY_PREFIX + t).join(', ');
        return reply(404, `Not Found: entity type ${long || '(none)'}; known: ${known}`, {});
      }
      const rows = this.rows(type);
      if (operation === 'READ') {
        const name = props.name ?? props.identity;
        const self = type === 'router' && (name === 'self' || name === undefined);
        const row = self ? rows[0] : rows.find((r) => r.name === name || r.identity === name || r.identity === String(name));
        if (!row) return reply(404, `Not Found: no ${long} named ${String(name)}`, {});
        return reply(200, 'OK', row);
      }
      const body = (msg.body ?? {}) as { attributeNames?: unknown };
      // an empty list can arrive as an AMQP array of nulls: only names count
      const named = (n: unknown): n is string => typeof n === 'string' && n.length > 0;
      const requested = Array.isArray(body.attributeNames) ? (body.attributeNames as unknown[]).filter(named) : [];
      const names = requested.length ? requested : attrs;
      reply(200, 'OK', { attributeNames: names, results: rows.map((r) => names.map((n) => r[n] ?? null)) });
    } catch (err) {
      reply(500, `Internal Error: ${(err as Error).message}`, {});
    }
  }

  rows(type: string): Row[] {
    const r = this.router;
    switch (type) {
      case 'router': {
        let links = 0;
        for (const c of r.connections.values()) links += c.links.size;
        return [{
          name: `router/${r.id}`, identity: `router/${r.id}`, type: ENTITY_PREFIX + 'router', id: r.id, mode: r.mode, area: '0', version: VERSION,
          metadata: null, addrCount: r.addresses.size, linkCount: links, nodeCount: r.routes.size, connectionCount: r.connections.size,
          ...r.counters, deliveriesIngressRouteContainer: 0, deliveriesEgressRouteContainer: 0, workerThreads: 1,
          uptimeSeconds: Math.floor((Date.now() - r.instance) / 1000), linkRouteCount: 0, autoLinkCount: 0,
          deliveriesStuck: 0, deliveriesRedirectedToFallback: 0, linksBlocked: 0, memoryUsage: process.memoryUsage.rss(),
        }];
      }
      case 'connection':
        return [...r.connections.values()].filter((c) => c.opened).map((c) => this.connectionRow(c));
      case 'router.link': {
        const out: Row[] = [];
        for (const c of r.connections.values()) for (const l of c.links) out.push(this.linkRow(l));
        return out;
      }
      case 'router.address': {
        const out: Row[] = [];
        const seen = new Set<string>();
        for (const e of r.addresses.values()) {
          const topo = parseTopoAddress(e.key);
          // producer bookkeeping for other routers' addresses is not an address row of its own
          if (topo && topo.router !== r.id) continue;
          seen.add(e.key);
          out.push(this.addressRow(e));
        }
        // addresses only other routers have consumers for
        for (const id of r.routes.keys()) {
          for (const a of Object.keys(r.ads.get(id)?.addresses ?? {})) {
            if (!seen.has(a)) { seen.add(a); out.push(this.addressRow(r.addresses.get(a) ?? this.blankAddress(a))); }
          }
        }
        if (!seen.has('$management')) out.push(this.addressRow(this.blankAddress('$management')));
        out.push(this.simpleAddress('L$management', 'closest', 1));
        // each router is an address of its own, reachable on that router
        for (const id of r.routes.keys()) out.push({ ...this.simpleAddress(`R${id}`, 'closest', 0), remoteCount: 1, remoteHostRouters: [id] });
        return out;
      }
      case 'router.node': {
        if (r.mode === 'standalone') return []; // as qdrouterd: a standalone router has no router list
        const self: Row = {
          name: `router.node/${r.id}`, identity: `router.node/${r.id}`, type: ENTITY_PREFIX + 'router.node', id: r.id, protocolVersion: 1,
          instance: Math.floor(r.instance / 1000), linkState: [...r.neighbors.keys()], nextHop: '(self)', routerLink: null, cost: null,
          validOrigins: [...r.routes.keys()], address: `amqp:/_topo/0/${r.id}`, lastTopoChange: Math.floor(r.lastTopoChange / 1000), index: 0,
        };
        const rows: Row[] = [self];
        for (const route of [...r.routes.values()].sort((x, y) => (r.nodeIndex.get(x.id) ?? 0) - (r.nodeIndex.get(y.id) ?? 0))) {
          const ad = r.ads.get(route.id);
          const n = r.neighbors.get(route.nextHop);
          const direct = route.nextHop === route.id;
          rows.push({
            name: `router.node/${route.id}`, identity: `router.node/${route.id}`, type: ENTITY_PREFIX + 'router.node', id: route.id, protocolVersion: 1,
            instance: ad ? Math.floor(ad.instance / 1000) : null, linkState: ad ? Object.keys(ad.neighbors) : [],
            nextHop: direct ? null : route.nextHop, routerLink: direct && n?.transit ? n.transit.identity : null, cost: route.cost,
            // as qdrouterd, only the router's own row carries the time of the last topology change
            validOrigins: [], address: `amqp:/_topo/0/${route.id}`, lastTopoChange: null, index: r.nodeIndex.get(route.id) ?? null,
          });
        }
        return rows;
      }
    }
    return [];
  }

  private connectionRow(c: ConnectionView): Row {
    const props = c.properties;
    return {
      name: `connection/${c.host}`, identity: String(c.identity), type: ENTITY_PREFIX + 'connection', host: c.host, role: c.role, dir: c.dir,
      // a connection this router made has no peer user, as in qdrouterd
      container: c.container, sasl: 'ANONYMOUS', isAuthenticated: false, user: c.dir === 'out' ? null : c.user ?? 'anonymous',
      isEncrypted: false, sslProto: null,
      sslCipher: null, properties: props, sslSsf: 0, tenant: null, ssl: false, opened: true, active: true, adminStatus: 'enabled',
      operStatus: 'up', uptimeSeconds: Math.floor((Date.now() - c.opened) / 1000),
      lastDlvSeconds: c.lastDelivery === undefined ? null : Math.floor((Date.now() - c.lastDelivery) / 1000), enableProtocolTrace: false, protocol: 'amqp',
    };
  }

  private linkRow(l: LinkView): Row {
    const linkType = l.kind === 'endpoint' ? 'endpoint' : l.kind === 'control' ? 'router-control' : 'inter-router';
    const owning = l.kind === 'endpoint' && l.address ? addressKey(l.address, this.router.id) : null;
    const undelivered = l.dir === 'out' ? l.backlog.length : 0;
    const unsettled = l.dir === 'out' ? l.unsettled.size : l.held;
    const credit = this.router.creditOf(l);
    return {
      name: l.name, identity: String(l.identity), type: ENTITY_PREFIX + 'router.link', linkName: l.name, linkType, linkDir: l.dir,
      owningAddr: owning, capacity: l.dir === 'in' ? l.window : 250, peer: null, undeliveredCount: undelivered, unsettledCount: unsettled,
      deliveryCount: l.deliveryCount, connectionId: String(l.conn.identity), adminStatus: 'enabled', operStatus: 'up',
      presettledCount: l.presettledCount, droppedPresettledCount: l.droppedPresettledCount, acceptedCount: l.acceptedCount,
      rejectedCount: l.rejectedCount, releasedCount: l.releasedCount, modifiedCount: l.modifiedCount, deliveriesDelayed1Sec: 0,
      deliveriesDelayed10Sec: 0, deliveriesStuck: 0, settleRate: 0, creditAvailable: credit, zeroCreditSeconds: 0, priority: 4, ingressHistogram: null,
    };
  }

  private addressRow(e: AddressView): Row {
    const key = addressKey(e.key, this.router.id);
    const remote = parseTopoAddress(e.key) ? new Map<string, number>() : this.router.remoteConsumers(e.key);
    // a router's own dynamic addresses are balanced in qdrouterd's table (its default distribution); $management is served in-process
    const distribution = parseTopoAddress(e.key) ? 'balanced' : e.key === '$management' ? 'closest' : e.distribution;
    return {
      name: key, identity: key, type: ENTITY_PREFIX + 'router.address', key, distribution,
      inProcess: e.key === '$management' ? 1 : 0,
      subscriberCount: e.consumers.length, remoteCount: remote.size, containerCount: 0, remoteHostRouters: [...remote.keys()],
      deliveriesIngress: e.deliveriesIngress, deliveriesEgress: e.deliveriesEgress, deliveriesTransit: e.deliveriesTransit,
      deliveriesToContainer: e.deliveriesToContainer, deliveriesFromContainer: e.deliveriesFromContainer, transitOutstanding: null,
      trackedDeliveries: 0, priority: -1, deliveriesRedirectedToFallback: 0, deliveriesIngressRouteContainer: 0, deliveriesEgressRouteContainer: 0,
    };
  }

  /** An address only other routers have consumers for. */
  private blankAddress(key: string): AddressView {
    return {
      key, distribution: this.router.distributionOf(key), consumers: [],
      deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, deliveriesToContainer: 0, deliveriesFromContainer: 0,
    };
  }

  private simpleAddress(key: string, distribution: string, inProcess: number): Row {
    return {
      name: key, identity: key, type: ENTITY_PREFIX + 'router.address', key, distribution, inProcess, subscriberCount: 0, remoteCount: 0,
      containerCount: 0, remoteHostRouters: [], deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, deliveriesToContainer: 0,
      deliveriesFromContainer: 0, transitOutstanding: null, trackedDeliveries: 0, priority: -1, deliveriesRedirectedToFallback: 0,
      deliveriesIngressRouteContainer: 0, deliveriesEgressRouteContainer: 0,
    };
  }
}
