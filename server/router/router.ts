// The embedded router: an AMQP 1.0 message router on rhea. Clients attach
// links to addresses; the router forwards each delivery to a consumer by
// the address's distribution, carries the consumer's outcome back to the
// producer (end-to-end settlement), grants producers credit only while a
// consumer is reachable (no store-and-forward), and joins other routers in
// an interior mesh over inter-router connections.
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { AddressTable, normalizeAddress, parseTopoAddress } from './address-table.js';
import type { ConnectorConfig, Distribution, ListenerConfig, Role, RouterConfig } from './config.js';
import { LinkStateDb, type LinkStateAd } from './mesh.js';
import { RouterLog } from './log.js';
import { ManagementAgent } from './management-agent.js';
import { VERSION } from '../version.js';
import { applyRheaPatches } from './rhea-patches.js';

applyRheaPatches();

export const PRODUCT = 'hmlab-router';
// rhea's frame writer, to send a close frame on a connection rhea gave up on
const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown): unknown;
  close(fields: unknown): { described(): unknown };
};
const CONTROL_ADDRESS = '_hmlab/control';
const TRANSIT_ADDRESS = '_hmlab/transit';
const A_TO = 'x-hmlab-to';
const A_DEST = 'x-hmlab-dest';
const A_DESTS = 'x-hmlab-dests';
const A_TTL = 'x-hmlab-ttl';
const ENDPOINT_CAPACITY = 250; // qdrouterd's default link capacity
const TRANSIT_CAPACITY = 1000;
const MAX_TTL = 16;
// rhea's per-session delivery ring: frees slots in order, so one long-held
// delivery (a slow RPC server) must not close the window for all others
const SESSION_BUFFER = 1 << 20;
// neighbours say hello every second; three silent seconds and the link counts
// as dead (a frozen router keeps its TCP connection open), as with qdrouterd
const HELLO_INTERVAL_MS = 1000;
const HELLO_MAX_AGE_MS = 3000;

export interface ConnInfo {
  identity: number;
  connection: Connection;
  role: Role;
  dir: 'in' | 'out';
  host: string;
  container: string;
  opened: number;
  cost: number;
  peerRouter?: string; // inter-router: the neighbour's id once it said hello
  control?: Sender;
  transit?: OutLink;
  links: Set<InLink | OutLink>;
  connector?: ConnectorConfig;
  user?: string;
  lastHeard?: number; // inter-router: when the neighbour last spoke on its control link
}

interface LinkStats { deliveryCount: number; acceptedCount: number; rejectedCount: number; releasedCount: number; modifiedCount: number; presettledCount: number; droppedPresettledCount: number }

export interface InLink extends LinkStats {
  dir: 'in';
  identity: number;
  name: string;
  kind: 'endpoint' | 'control' | 'transit';
  receiver: Receiver;
  conn: ConnInfo;
  address: string | null; // normalized target address; null: anonymous relay
  held: number; // deliveries received and not yet forwarded
  window: number;
}

export interface OutLink extends LinkStats {
  dir: 'out';
  identity: number;
  name: string;
  kind: 'endpoint' | 'control' | 'transit';
  sender: Sender;
  conn: ConnInfo;
  address: string | null; // normalized source address
  unsettled: Set<Delivery>;
  backlog: Pending[]; // waiting for this link's credit
  inFlight: number[]; // ids handed to rhea, not yet on the wire
  peer?: string; // transit: neighbour router id
}

/** One delivery inside the router, from arrival until handed to an outgoing link. */
export interface Pending {
  msg: Message;
  inDel: Delivery | null; // null: pre-settled (or router-originated)
  inLink: InLink | null;
  address: string;
  dest?: string; // unicast across the mesh: destination router
  dests?: string[]; // multicast across the mesh: remaining routers
  ttl: number;
  localOnly?: boolean; // arrived for this router: deliver here or nowhere
}

export interface AddressEntry {
  key: string;
  distribution: Distribution;
  consumers: OutLink[];
  producers: Set<InLink>;
  queue: Pending[]; // undelivered: consumers exist but none has credit
  rr: number;
  deliveriesIngress: number;
  deliveriesEgress: number;
  deliveriesTransit: number;
  deliveriesToContainer: number;
  deliveriesFromContainer: number;
}

export interface RouterCounters {
  deliveriesIngress: number;
  deliveriesEgress: number;
  deliveriesTransit: number;
  presettledDeliveries: number;
  droppedPresettledDeliveries: number;
  acceptedDeliveries: number;
  rejectedDeliveries: number;
  releasedDeliveries: number;
  modifiedDeliveries: number;
  deliveriesDelayed1Sec: number;
  deliveriesDelayed10Sec: number;
}

type OutDelivery = Delivery & { hmlabPending?: Pending; hmlabLink?: OutLink; hmlabDest?: string };

function newStats(): LinkStats {
  return { deliveryCount: 0, acceptedCount: 0, rejectedCount: 0, releasedCount: 0, modifiedCount: 0, presettledCount: 0, droppedPresettledCount: 0 };
}

export class Router {
  readonly id: string;
  readonly mode: 'standalone' | 'interior';
  readonly log: RouterLog;
  readonly table: AddressTable;
  readonly db: LinkStateDb;
  readonly instance = Date.now();
  readonly connections = new Map<Connection, ConnInfo>();
  readonly addresses = new Map<string, AddressEntry>();
  readonly counters: RouterCounters = {
    deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, presettledDeliveries: 0, droppedPresettledDeliveries: 0,
    acceptedDeliveries: 0, rejectedDeliveries: 0, releasedDeliveries: 0, modifiedDeliveries: 0, deliveriesDelayed1Sec: 0, deliveriesDelayed10Sec: 0,
  };
  readonly neighbors = new Map<string, ConnInfo>();
  private readonly container: Container;
  private readonly servers: Server[] = [];
  private readonly listenerByPort = new Map<number, ListenerConfig>();
  private readonly management: ManagementAgent;
  private nextIdentity = 1;
  private seq = 0;
  private adTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;
  private readonly reconnectTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private lastAdvertised = '';

  constructor(readonly config: RouterConfig, log?: RouterLog) {
    this.id = config.router.id;
    this.mode = config.router.mode;
    this.log = log ?? new RouterLog();
    this.table = new AddressTable(config.addresses);
    this.db = new LinkStateDb(this.id);
    this.management = new ManagementAgent(this);
    this.container = rhea.create_container({
      id: this.id,
      // links the peer attaches are created by rhea with these defaults: the
      // router settles and grants credit itself
      autoaccept: false,
      autosettle: true,
      credit_window: 0,
      treat_modified_as_released: false,
      non_fatal_errors: [],
    });
    const mechs = this.container.sasl_server_mechanisms;
    mechs.enable_anonymous();
    // PLAIN is offered so clients configured with credentials can attach; the
    // embedded router keeps no user database, so any non-empty user is accepted.
    mechs.enable_plain((user: string) => Boolean(user));
    this.wire();
  }

  // ---- lifecycle -----------------------------------------------------------

  async start(): Promise<void> {
    this.log.notice('ROUTER', `Router started in ${this.mode[0].toUpperCase() + this.mode.slice(1)} mode, id=${this.id} (${PRODUCT} ${VERSION})`);
    for (const l of this.config.listeners) await this.listen(l);
    for (const c of this.config.connectors) this.connectTo(c);
    this.refreshTimer = setInterval(() => this.advertise(true), 3000);
    this.refreshTimer.unref();
    this.helloTimer = setInterval(() => this.hello(), HELLO_INTERVAL_MS);
    this.helloTimer.unref();
  }

  private listen(l: ListenerConfig): Promise<void> {
    return new Promise((resolve, reject) => {
      const options = {
        properties: { product: PRODUCT, version: VERSION },
        offered_capabilities: ['ANONYMOUS-RELAY'],
        container_id: this.id,
        idle_time_out: 16000,
        session_buffer_size: SESSION_BUFFER,
      };
      // Our own TCP server (not container.listen) so each connection's decode
      // errors reach a handler that can answer with an AMQP close.
      const server = createServer((socket) => {
        socket.setNoDelay(true);
        const connection = this.container.create_connection(options as never);
        this.guard(connection, socket);
        (connection as unknown as { accept(s: Socket): void }).accept(socket);
      });
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? `port ${l.port} is already in use; stop the other process or pick another port` : err.message;
        reject(new Error(`listener${l.name ? ` ${l.name}` : ''} on ${l.host}:${l.port} (line ${l.line}): ${why}`));
      });
      server.listen(l.port, l.host, () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : l.port;
        this.listenerByPort.set(port, l);
        this.servers.push(server);
        this.log.notice('SERVER', `Listening on ${l.host}:${port} role=${l.role}`);
        resolve();
      });
    });
  }

  /** Garbage or a malformed frame: tell the peer with an AMQP close carrying
   *  the error, then rhea ends the socket. Only this connection is affected. */
  private guard(connection: Connection, socket: Socket): void {
    const onError = (err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      this.log.warning('SERVER', `Closing connection from ${socket.remoteAddress}:${socket.remotePort}: ${text}`);
      if (!(err instanceof Error && err.name === 'ProtocolError')) this.log.debug('SERVER', (err as Error)?.stack ?? text);
      try {
        const frame = rheaFrames.write_frame(rheaFrames.amqp_frame(0, rheaFrames.close({ error: { condition: 'amqp:decode-error', description: text.slice(0, 200) } }).described()));
        const header = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
        socket.write(socket.bytesWritten === 0 ? Buffer.concat([header, frame]) : frame);
      } catch { /* socket already gone */ }
    };
    connection.on('protocol_error', onError);
    connection.on('error', onError);
  }

  /** Ports actually bound (listeners with port 0 get one from the OS). */
  boundPorts(): { port: number; role: Role }[] {
    return [...this.listenerByPort].map(([port, l]) => ({ port, role: l.role }));
  }

  private connectTo(c: ConnectorConfig): void {
    if (this.stopping) return;
    const connection = this.container.connect({
      host: c.host,
      port: c.port,
      reconnect: false,
      container_id: this.id,
      properties: { product: PRODUCT, version: VERSION },
      offered_capabilities: ['ANONYMOUS-RELAY'],
      idle_time_out: 16000,
      session_buffer_size: SESSION_BUFFER,
      username: 'anonymous',
    } as never);
    const info = this.addConnection(connection, c.role, 'out', `${c.host}:${c.port}`);
    info.connector = c;
    info.cost = c.cost;
  }

  private scheduleReconnect(c: ConnectorConfig): void {
    if (this.stopping) return;
    const t = setTimeout(() => { this.reconnectTimers.delete(t); this.connectTo(c); }, 1000);
    this.reconnectTimers.add(t);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.reconnectTimers) clearTimeout(t);
    if (this.adTimer) clearTimeout(this.adTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.helloTimer) clearInterval(this.helloTimer);
    for (const s of this.servers) s.close();
    const closing = [...this.connections.values()].map((c) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { try { (c.connection as unknown as { socket?: { destroy(): void } }).socket?.destroy(); } catch { /* gone */ } resolve(); }, 500);
      c.connection.once('disconnected', () => { clearTimeout(t); resolve(); });
      c.connection.once('connection_close', () => { clearTimeout(t); setTimeout(resolve, 20); });
      try { c.connection.close({ condition: 'amqp:connection:forced', description: 'router shutting down' }); } catch { clearTimeout(t); resolve(); }
    }));
    await Promise.all(closing);
    this.log.notice('SERVER', 'Router stopped');
  }

  // ---- connections -----------------------------------------------------------

  private addConnection(connection: Connection, role: Role, dir: 'in' | 'out', host: string): ConnInfo {
    const info: ConnInfo = { identity: this.nextIdentity++, connection, role, dir, host, container: '', opened: 0, cost: 1, links: new Set() };
    this.connections.set(connection, info);
    return info;
  }

  private connInfo(connection: Connection): ConnInfo {
    let info = this.connections.get(connection);
    if (!info) {
      const socket = (connection as unknown as { socket?: { localPort?: number; remoteAddress?: string; remotePort?: number } }).socket;
      const l = socket?.localPort !== undefined ? this.listenerByPort.get(socket.localPort) : undefined;
      const host = socket ? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` : '?';
      info = this.addConnection(connection, l?.role ?? 'normal', 'in', host);
      info.cost = l?.cost ?? 1;
    }
    return info;
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => this.onConnectionOpen(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.onConnectionLost(ctx.connection, (ctx as { error?: Error }).error?.message));
    c.on('connection_close', (ctx: EventContext) => {
      const info = this.connections.get(ctx.connection);
      this.onConnectionLost(ctx.connection, info ? 'closed by peer' : undefined);
      try { ctx.connection.close(); } catch { /* already closed */ }
    });
    c.on('connection_error', (ctx: EventContext) => {
      const err = ctx.connection.error as { description?: string } | undefined;
      this.log.info('SERVER', `Connection error: ${err?.description ?? 'unknown'}`);
    });
    c.on('protocol_error', (ctx: unknown) => {
      // rhea ends the socket after this; the peer gets an AMQP close with the reason first
      this.log.warning('SERVER', `Protocol error, closing connection: ${String((ctx as Error)?.message ?? ctx)}`);
    });
    c.on('error', (err: Error) => {
      this.log.error('SERVER', `Connection failed: ${err?.message ?? String(err)}`);
    });
    c.on('sender_open', (ctx: EventContext) => this.onOutgoingAttach(ctx.sender!, ctx.connection));
    c.on('receiver_open', (ctx: EventContext) => this.onIncomingAttach(ctx.receiver!, ctx.connection));
    // A peer may end a session without detaching its links first (proton does
    // when a link is freed unclosed): AMQP counts them detached, rhea says nothing.
    c.on('session_close', (ctx: EventContext) => this.onSessionEnded(ctx.session!, ctx.connection));
    c.on('sender_close', (ctx: EventContext) => this.onLinkClosed(ctx.sender!));
    c.on('receiver_close', (ctx: EventContext) => this.onLinkClosed(ctx.receiver!));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => this.onSendable(ctx.sender!));
    c.on('accepted', (ctx: EventContext) => this.onOutcome(ctx.delivery as OutDelivery, 'accepted'));
    c.on('rejected', (ctx: EventContext) => this.onOutcome(ctx.delivery as OutDelivery, 'rejected'));
    c.on('released', (ctx: EventContext) => this.onOutcome(ctx.delivery as OutDelivery, 'released'));
    c.on('modified', (ctx: EventContext) => this.onOutcome(ctx.delivery as OutDelivery, 'modified'));
    c.on('settled', (ctx: EventContext) => this.onOutcome(ctx.delivery as OutDelivery, 'settled'));
  }

  private onConnectionOpen(connection: Connection): void {
    const info = this.connInfo(connection);
    // small frames both ways (transfers, dispositions): Nagle would add tens of ms
    (connection as unknown as { socket?: Socket }).socket?.setNoDelay?.(true);
    info.opened = Date.now();
    info.container = connection.container_id ?? '';
    this.log.info('SERVER', `Connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host} (container ${info.container}) opened, role=${info.role}`);
    if (info.role === 'inter-router') {
      const product = ((connection as unknown as { remote?: { open?: { properties?: { product?: unknown } } } }).remote?.open?.properties?.product);
      if (product !== PRODUCT) {
        // a client (or another router product) on an inter-router port: say so instead of half-working
        const why = info.dir === 'in'
          ? `this is an inter-router listener of ${this.id}: only ${PRODUCT} routers connect here; clients use a normal listener`
          : `${info.host} is not an ${PRODUCT} inter-router listener (peer product ${String(product ?? 'none')})`;
        this.log.warning('ROUTER', `Refusing inter-router connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host}: ${why}`);
        connection.close({ condition: 'amqp:unauthorized-access', description: why });
        return;
      }
      if (info.dir === 'out') this.log.info('ROUTER', `Connected to router ${info.container} via ${info.host}`);
      const control = connection.open_sender({ name: `${this.id}/control/${info.identity}`, target: { address: CONTROL_ADDRESS }, source: { address: CONTROL_ADDRESS } });
      info.control = control;
      this.newOutLink(control, info, 'control', null);
      const transit = connection.open_sender({ name: `${this.id}/transit/${info.identity}`, target: { address: TRANSIT_ADDRESS }, source: { address: TRANSIT_ADDRESS } });
      info.transit = this.newOutLink(transit, info, 'transit', null);
      this.sendControl(info, { op: 'hello', id: this.id, cost: info.cost, instance: this.instance });
    }
  }

  private onConnectionLost(connection: Connection, why?: string): void {
    const info = this.connections.get(connection);
    if (!info) return;
    this.connections.delete(connection);
    this.log.info('SERVER', `Connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host} (container ${info.container || '?'}) closed${why ? `: ${why}` : ''}`);
    for (const l of [...info.links]) this.detachLink(l, 'connection lost');
    if (info.peerRouter && this.neighbors.get(info.peerRouter) === info) {
      this.neighbors.delete(info.peerRouter);
      // another connection to the same router can take over
      for (const other of this.connections.values()) {
        if (other.peerRouter === info.peerRouter) { this.neighbors.set(info.peerRouter, other); break; }
      }
      this.log.info('ROUTER', `Neighbor ${info.peerRouter} lost`);
      this.topologyChanged();
    }
    if (info.connector) this.scheduleReconnect(info.connector);
  }

  // ---- links ---------------------------------------------------------------

  private newOutLink(sender: Sender, conn: ConnInfo, kind: OutLink['kind'], address: string | null): OutLink {
    const l: OutLink = { dir: 'out', identity: this.nextIdentity++, name: sender.name, kind, sender, conn, address, unsettled: new Set(), backlog: [], inFlight: [], ...newStats() };
    (sender as unknown as { hmlab?: OutLink }).hmlab = l;
    conn.links.add(l);
    return l;
  }

  private outLinkOf(sender: Sender): OutLink | undefined {
    return (sender as unknown as { hmlab?: OutLink }).hmlab;
  }

  private inLinkOf(receiver: Receiver): InLink | undefined {
    return (receiver as unknown as { hmlab?: InLink }).hmlab;
  }

  /** The peer attached a receiving link: the router sends on it (a consumer). */
  private onOutgoingAttach(sender: Sender, connection: Connection): void {
    if (this.outLinkOf(sender)) return; // our own link being confirmed
    const info = this.connInfo(connection);
    const remote = (sender as unknown as { remote: { attach: { source?: { address?: string; dynamic?: boolean }; target?: unknown } } }).remote.attach;
    const source = remote.source ?? {};
    if (info.role === 'inter-router' && (source.address === CONTROL_ADDRESS || source.address === TRANSIT_ADDRESS)) {
      sender.close({ condition: 'amqp:not-allowed', description: 'routers send their own control and transit links' });
      return;
    }
    let address: string;
    if (source.dynamic) {
      address = `amqp:/_topo/0/${this.id}/temp.${randomBytes(9).toString('base64url')}`;
      sender.set_source({ address, dynamic: true } as never);
    } else if (source.address) {
      address = source.address;
      sender.set_source({ address } as never);
    } else {
      sender.close({ condition: 'amqp:invalid-field', description: 'a receiving link needs a source address or dynamic: true' });
      return;
    }
    if (remote.target) sender.set_target(remote.target as never);
    const key = normalizeAddress(address);
    const link = this.newOutLink(sender, info, 'endpoint', key);
    const entry = this.entry(key);
    entry.consumers.push(link);
    this.log.debug('ROUTER', `Consumer attached to ${key} on connection ${info.identity}`);
    this.consumersChanged(entry);
  }

  /** The peer attached a sending link: the router receives on it (a producer). */
  private onIncomingAttach(receiver: Receiver, connection: Connection): void {
    if (this.inLinkOf(receiver)) return;
    const info = this.connInfo(connection);
    const remote = (receiver as unknown as { remote: { attach: { source?: unknown; target?: { address?: string; dynamic?: boolean } } } }).remote.attach;
    const target = remote.target ?? {};
    if (remote.source) receiver.set_source(remote.source as never);
    if (info.role === 'normal' && (target.address === CONTROL_ADDRESS || target.address === TRANSIT_ADDRESS)) {
      // a router's connector pointed at a normal listener
      const why = `a router connected to the normal listener of ${this.id}; point its connector at an inter-router listener`;
      this.log.warning('ROUTER', `${why} (connection from ${info.host})`);
      connection.close({ condition: 'amqp:unauthorized-access', description: why });
      return;
    }
    if (target.dynamic) {
      receiver.close({ condition: 'amqp:not-implemented', description: 'dynamic targets are not supported; attach to an address or use the anonymous relay' });
      return;
    }
    receiver.set_target((target.address ? { address: target.address } : {}) as never);
    let kind: InLink['kind'] = 'endpoint';
    if (info.role === 'inter-router' && target.address === CONTROL_ADDRESS) kind = 'control';
    else if (info.role === 'inter-router' && target.address === TRANSIT_ADDRESS) kind = 'transit';
    const address = kind === 'endpoint' && target.address ? normalizeAddress(target.address) : null;
    const link: InLink = {
      dir: 'in', identity: this.nextIdentity++, name: receiver.name, kind, receiver, conn: info, address, held: 0,
      window: kind === 'endpoint' ? ENDPOINT_CAPACITY : TRANSIT_CAPACITY, ...newStats(),
    };
    (receiver as unknown as { hmlab?: InLink }).hmlab = link;
    info.links.add(link);
    if (address) this.entry(address).producers.add(link);
    this.topUp(link);
  }

  private onLinkClosed(link: Sender | Receiver): void {
    const l = 'is_sender' in link && link.is_sender() ? this.outLinkOf(link as Sender) : this.inLinkOf(link as Receiver);
    if (l) this.detachLink(l, 'detached');
  }

  private onSessionEnded(session: unknown, connection: Connection): void {
    const info = this.connections.get(connection);
    if (!info) return;
    for (const l of [...info.links]) {
      const link = l.dir === 'in' ? l.receiver : l.sender;
      if (link.session === session) this.detachLink(l, 'session ended');
    }
  }

  private detachLink(l: InLink | OutLink, why: string): void {
    if (!l.conn.links.delete(l)) return;
    if (l.dir === 'in') {
      if (l.address) this.addresses.get(l.address)?.producers.delete(l);
      this.gcEntry(l.address);
      return;
    }
    // Deliveries on the wire to a lost consumer are in doubt: the producer hears
    // delivery-failed, as from qdrouterd. Ones still waiting here were never sent
    // and are released, so the producer may send them again.
    const outgoing = (l.sender.session as unknown as { outgoing: { next_pending_delivery: number } }).outgoing;
    for (const d of l.unsettled as Set<OutDelivery>) {
      const p = d.hmlabPending;
      if (!p) continue;
      d.hmlabPending = undefined;
      this.untrack(d);
      if (d.id < outgoing.next_pending_delivery) this.settleIn(p, 'modified', { delivery_failed: true });
      else this.settleIn(p, 'released');
    }
    l.unsettled.clear();
    for (const p of l.backlog.splice(0)) this.unroutable(p, false);
    if (l.kind === 'endpoint' && l.address) {
      const entry = this.addresses.get(l.address);
      if (entry) {
        entry.consumers = entry.consumers.filter((c) => c !== l);
        this.log.debug('ROUTER', `Consumer detached from ${l.address} (${why})`);
        this.consumersChanged(entry);
      }
    }
  }

  // ---- addresses -------------------------------------------------------------

  entry(key: string): AddressEntry {
    let e = this.addresses.get(key);
    if (!e) {
      e = this.blankEntry(key);
      this.addresses.set(key, e);
    }
    return e;
  }

  blankEntry(key: string): AddressEntry {
    return {
      key, distribution: this.table.distribution(key), consumers: [], producers: new Set(), queue: [], rr: 0,
      deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, deliveriesToContainer: 0, deliveriesFromContainer: 0,
    };
  }

  private gcEntry(key: string | null): void {
    if (!key) return;
    const e = this.addresses.get(key);
    if (e && e.consumers.length === 0 && e.producers.size === 0 && e.queue.length === 0 && !this.db.remoteConsumers(key).size) this.addresses.delete(key);
  }

  /** Is there a consumer anywhere in the mesh for this address? */
  reachable(key: string | null): boolean {
    if (key === null || key === '$management') return true;
    const topo = parseTopoAddress(key);
    if (topo) {
      if (topo.router !== this.id) return this.db.routes.has(topo.router);
      return topo.local === '$management' || (this.addresses.get(key)?.consumers.length ?? 0) > 0;
    }
    if ((this.addresses.get(key)?.consumers.length ?? 0) > 0) return true;
    return this.db.remoteConsumers(key).size > 0;
  }

  private consumersChanged(entry: AddressEntry): void {
    for (const p of entry.producers) this.topUp(p);
    if (entry.consumers.length === 0) this.flushUnreachable(entry);
    else this.drainQueue(entry);
    if (!parseTopoAddress(entry.key)) this.scheduleAdvertise();
    this.gcEntry(entry.key);
  }

  /** After a topology or address change: credit for producers that now have a consumer, release what has none. */
  private reachabilityChanged(): void {
    for (const entry of [...this.addresses.values()]) {
      for (const p of entry.producers) this.topUp(p);
      if (entry.queue.length) {
        if (!this.reachable(entry.key)) this.flushUnreachable(entry);
        else this.drainQueue(entry);
      }
    }
    for (const info of this.connections.values()) {
      for (const l of info.links) if (l.dir === 'in' && l.address === null) this.topUp(l);
    }
  }

  private flushUnreachable(entry: AddressEntry): void {
    if (this.reachable(entry.key)) return;
    for (const p of entry.queue.splice(0)) this.unroutable(p, true);
  }

  // ---- credit ----------------------------------------------------------------

  /** Producers get credit while their address is reachable, up to the link
   *  capacity minus what the router still holds from them: a slow consumer
   *  stops credit upstream instead of growing a buffer here. */
  private topUp(l: InLink): void {
    if (!l.conn.links.has(l)) return;
    if (l.kind === 'endpoint' && !this.reachable(l.address)) return;
    const r = l.receiver as unknown as { credit: number };
    const want = l.window - l.held - r.credit;
    if (want > 0 && (want >= l.window / 4 || r.credit + l.held === 0 || r.credit === 0)) l.receiver.add_credit(want);
  }

  /** Credit on an outgoing link that rhea has not yet spent on queued transfers. */
  private available(l: OutLink): number {
    const outgoing = (l.sender.session as unknown as { outgoing: { next_pending_delivery: number; available(): number } }).outgoing;
    while (l.inFlight.length && l.inFlight[0] < outgoing.next_pending_delivery) l.inFlight.shift();
    const credit = (l.sender as unknown as { credit: number }).credit;
    return Math.min(credit - l.inFlight.length, outgoing.available() - 1);
  }

  private onSendable(sender: Sender): void {
    const l = this.outLinkOf(sender);
    if (!l) return;
    while (l.backlog.length && this.available(l) > 0) this.transmit(l, l.backlog.shift()!);
    if (l.kind === 'endpoint' && l.address) {
      const entry = this.addresses.get(l.address);
      if (entry?.queue.length) this.drainQueue(entry);
    }
  }

  private drainQueue(entry: AddressEntry): void {
    let n = entry.queue.length;
    while (n-- > 0 && entry.queue.length) {
      const p = entry.queue.shift()!;
      if (!this.forward(p, entry, true)) { entry.queue.unshift(p); break; }
    }
  }

  // ---- forwarding ----------------------------------------------------------------

  private onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver!;
    const l = this.inLinkOf(receiver);
    const msg = ctx.message!;
    const del = ctx.delivery!;
    if (!l) return;
    const presettled = Boolean((del as unknown as { remote_settled: boolean }).remote_settled);
    // rhea frees a session slot only once a delivery is settled locally too;
    // a pre-settled one would otherwise pin the session window shut
    if (presettled) (del as unknown as { update(settled: boolean): void }).update(true);
    l.deliveryCount++;
    if (presettled) { l.presettledCount++; this.counters.presettledDeliveries++; }
    l.held++;
    if (l.kind === 'control') {
      l.held--;
      if (!presettled) del.accept();
      this.onControl(l.conn, msg);
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
      if (p.ttl <= 0) { this.log.warning('ROUTER', `Dropping a delivery for ${address} that exceeded ${MAX_TTL} hops`); this.unroutable(p, false); return; }
      this.counters.deliveriesTransit++;
    } else {
      address = l.address ?? (msg.to ? normalizeAddress(String(msg.to)) : null);
      this.counters.deliveriesIngress++;
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

  /** A delivery is out of the router's hands: free its producer's credit slot. */
  private done(p: Pending): void {
    const l = p.inLink;
    if (!l) return;
    l.held--;
    this.topUp(l);
  }

  /** Route a delivery from a producer, a neighbour, or the router itself. */
  route(p: Pending): void {
    const topo = parseTopoAddress(p.address);
    if (topo && topo.router !== this.id) return void this.toRouter(p, topo.router);
    if (p.address === '$management' || (topo && topo.local === '$management')) {
      this.done(p);
      this.management.handle(p);
      return;
    }
    if (p.dests) return this.multicast(p, this.entry(p.address));
    if (p.dest && p.dest !== this.id) return void this.toRouter(p, p.dest);
    if (p.dest === this.id) p.localOnly = true;
    const entry = this.entry(p.address);
    if (p.inLink?.kind === 'endpoint') entry.deliveriesIngress++;
    if (p.inLink?.kind === 'transit') entry.deliveriesTransit++;
    if (entry.distribution === 'multicast' && !topo) return this.multicast(p, entry);
    if (!this.forward(p, entry, false)) entry.queue.push(p);
  }

  /** Unicast forwarding (closest / balanced). False: keep it queued for credit. */
  private forward(p: Pending, entry: AddressEntry, fromQueue: boolean): boolean {
    const local = entry.consumers;
    const ready = local.filter((c) => this.available(c) > 0);
    const remote = p.localOnly || parseTopoAddress(entry.key) ? new Map<string, number>() : this.db.remoteConsumers(entry.key);
    if (entry.distribution === 'closest' || parseTopoAddress(entry.key)) {
      if (local.length) {
        if (!ready.length) return false;
        this.transmit(ready[entry.rr++ % ready.length], p);
        return true;
      }
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
    } else {
      // balanced: the destination with the fewest deliveries outstanding, in turn on ties
      type Cand = { load: number; local?: OutLink; router?: string };
      const cands: Cand[] = ready.map((c) => ({ load: c.unsettled.size + c.backlog.length, local: c }));
      for (const id of [...remote.keys()].sort()) {
        const hop = this.db.routes.get(id);
        const n = hop ? this.neighbors.get(hop.nextHop) : undefined;
        if (n?.transit) cands.push({ load: this.outstandingTo(n.transit, id), router: id });
      }
      if (cands.length) {
        const min = Math.min(...cands.map((c) => c.load));
        const best = cands.filter((c) => c.load === min);
        const pick = best[entry.rr++ % best.length];
        if (pick.local) { this.transmit(pick.local, p); return true; }
        return this.toRouter(p, pick.router!);
      }
      if (local.length) return false; // consumers without credit: wait for it
    }
    if (fromQueue && this.reachable(entry.key)) return false;
    this.unroutable(p, true);
    return true;
  }

  /** Unsettled deliveries this router sent toward another router (balanced load). */
  private readonly outstandingByRouter = new Map<string, number>();

  private outstandingTo(transit: OutLink, router: string): number {
    return transit.backlog.length + (this.outstandingByRouter.get(router) ?? 0);
  }

  private untrack(d: OutDelivery): void {
    if (!d.hmlabDest) return;
    const n = (this.outstandingByRouter.get(d.hmlabDest) ?? 1) - 1;
    if (n > 0) this.outstandingByRouter.set(d.hmlabDest, n); else this.outstandingByRouter.delete(d.hmlabDest);
    d.hmlabDest = undefined;
  }

  /** Send toward another router along the lowest-cost path. */
  private toRouter(p: Pending, dest: string): boolean {
    const route = this.db.routes.get(dest);
    const n = route ? this.neighbors.get(route.nextHop) : undefined;
    if (!n?.transit || p.ttl <= 0) { this.unroutable(p, true); return true; }
    p.dest = dest;
    p.dests = undefined;
    this.transmit(n.transit, p);
    return true;
  }

  private multicast(p: Pending, entry: AddressEntry): void {
    // Multicast is pre-settled end to end, as in qdrouterd: the producer's
    // delivery is accepted here and the copies carry no settlement.
    if (p.inDel) { this.countOutcome(p.inLink, 'accepted'); try { p.inDel.accept(); } catch { /* producer gone */ } p.inDel = null; }
    let targets: string[];
    let includeLocal: boolean;
    if (p.dests) {
      includeLocal = p.dests.includes(this.id);
      targets = p.dests.filter((d) => d !== this.id);
    } else {
      includeLocal = true;
      targets = p.localOnly ? [] : [...this.db.remoteConsumers(entry.key).keys()];
      if (p.inLink?.kind === 'endpoint') entry.deliveriesIngress++;
    }
    let copies = 0;
    if (includeLocal) {
      for (const c of entry.consumers) {
        if (c.backlog.length >= ENDPOINT_CAPACITY) { c.droppedPresettledCount++; this.counters.droppedPresettledDeliveries++; continue; }
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
      const n = this.neighbors.get(hop);
      if (!n?.transit || p.ttl <= 0) continue;
      this.transmit(n.transit, { ...p, inLink: null, dest: undefined, dests });
      copies++;
    }
    if (copies === 0) { this.counters.droppedPresettledDeliveries++; if (p.inLink) p.inLink.droppedPresettledCount++; }
    this.done(p);
  }

  /** Hand a delivery to an outgoing link now, or keep it in the link's backlog until credit comes. */
  private transmit(l: OutLink, p: Pending): void {
    if (this.available(l) <= 0) {
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
    if (l.kind === 'endpoint') {
      this.counters.deliveriesEgress++;
      const e = l.address ? this.addresses.get(l.address) : undefined;
      if (e) e.deliveriesEgress++;
    }
    if (!p.inDel) {
      (d as { settled: boolean }).settled = true; // pre-settled on the wire
      l.presettledCount++;
    } else {
      d.hmlabPending = p;
      d.hmlabLink = l;
      l.unsettled.add(d);
      if (l.kind === 'transit' && p.dest) {
        d.hmlabDest = p.dest;
        this.outstandingByRouter.set(p.dest, (this.outstandingByRouter.get(p.dest) ?? 0) + 1);
      }
    }
    this.done(p);
    if (!p.inDel) p.inLink = null;
  }

  private onOutcome(d: OutDelivery, outcome: 'accepted' | 'rejected' | 'released' | 'modified' | 'settled'): void {
    const p = d.hmlabPending;
    if (!p) return;
    d.hmlabPending = undefined;
    this.untrack(d);
    const l = d.hmlabLink;
    if (l) {
      l.unsettled.delete(d);
      if (outcome !== 'settled') l[`${outcome}Count`]++;
    }
    const state = (d as unknown as { remote_state?: Record<string, unknown> }).remote_state ?? {};
    if (outcome === 'settled') this.settleIn(p, 'accepted');
    else if (outcome === 'rejected') this.settleIn(p, 'rejected', state.error);
    else if (outcome === 'modified') this.settleIn(p, 'modified', state);
    else this.settleIn(p, outcome);
  }

  private countOutcome(l: InLink | null, outcome: 'accepted' | 'rejected' | 'released' | 'modified'): void {
    this.counters[`${outcome}Deliveries`]++;
    if (l) l[`${outcome}Count`]++;
  }

  /** Pass an outcome back to the producer's delivery. */
  private settleIn(p: Pending, outcome: 'accepted' | 'rejected' | 'released' | 'modified', info?: unknown): void {
    const d = p.inDel;
    if (!d) return;
    p.inDel = null;
    this.countOutcome(p.inLink, outcome);
    try {
      if (outcome === 'accepted') d.accept();
      else if (outcome === 'rejected') d.reject(info as never);
      else if (outcome === 'released') d.release();
      else {
        const s = (info ?? {}) as { delivery_failed?: boolean; undeliverable_here?: boolean; message_annotations?: unknown };
        d.modified({ delivery_failed: Boolean(s.delivery_failed), undeliverable_here: Boolean(s.undeliverable_here), ...(s.message_annotations ? { message_annotations: s.message_annotations } : {}) } as never);
      }
    } catch { /* the producer's connection is gone: nothing to tell */ }
  }

  /** No consumer anywhere: release (the producer may retry) or drop if pre-settled. */
  private unroutable(p: Pending, countDone: boolean): void {
    if (p.inDel) this.settleIn(p, 'released');
    else { this.counters.droppedPresettledDeliveries++; if (p.inLink) p.inLink.droppedPresettledCount++; }
    if (countDone) this.done(p); else if (p.inLink) { p.inLink.held--; this.topUp(p.inLink); }
    p.inLink = null;
  }

  /** Messages the router itself originates (management replies): pre-settled. */
  sendFromRouter(msg: Message): void {
    if (!msg.to) return;
    this.route({ msg, inDel: null, inLink: null, address: normalizeAddress(String(msg.to)), ttl: MAX_TTL });
  }

  // ---- mesh ----------------------------------------------------------------

  private sendControl(info: ConnInfo, body: Record<string, unknown>): void {
    const s = info.control;
    if (!s) return;
    const l = this.outLinkOf(s);
    if (l) { l.deliveryCount++; l.presettledCount++; }
    const d = s.send({ body });
    (d as { settled: boolean }).settled = true;
  }

  /** Keep-alive on every inter-router connection; drop neighbours gone silent. */
  private hello(): void {
    const now = Date.now();
    for (const info of this.connections.values()) {
      if (info.role !== 'inter-router' || !info.control) continue;
      if (info.peerRouter && info.lastHeard && now - info.lastHeard > HELLO_MAX_AGE_MS) {
        this.log.info('ROUTER', `Neighbor ${info.peerRouter} silent for ${now - info.lastHeard} ms: dropping the link`);
        const socket = (info.connection as unknown as { socket?: Socket }).socket;
        this.onConnectionLost(info.connection, 'neighbor stopped answering');
        socket?.destroy();
        continue;
      }
      this.sendControl(info, { op: 'keepalive', id: this.id });
    }
  }

  private onControl(info: ConnInfo, msg: Message): void {
    const body = msg.body as Record<string, unknown> | undefined;
    if (!body || typeof body.op !== 'string') return;
    info.lastHeard = Date.now();
    if (body.op === 'keepalive') return;
    if (body.op === 'hello') {
      const id = String(body.id);
      if (id === this.id) {
        this.log.error('ROUTER', `A router with our own id ${id} connected from ${info.host}: router ids must be unique in a mesh`);
        info.connection.close({ condition: 'amqp:not-allowed', description: `duplicate router id ${id}` });
        return;
      }
      info.peerRouter = id;
      info.cost = Math.max(info.cost, Number(body.cost) || 1);
      if (!this.neighbors.has(id)) this.neighbors.set(id, info);
      this.log.info('ROUTER', `Neighbor ${id} up (cost ${info.cost})`);
      // bring the new neighbour up to date with everything we know
      this.sendControl(info, { op: 'lsa', ad: this.ownAd(false) });
      for (const ad of this.db.ads.values()) this.sendControl(info, { op: 'lsa', ad });
      this.topologyChanged();
      return;
    }
    if (body.op === 'lsa') {
      const ad = body.ad as LinkStateAd;
      if (!ad || typeof ad.origin !== 'string') return;
      if (this.db.offer(ad)) {
        for (const n of this.neighbors.values()) if (n !== info) this.sendControl(n, { op: 'lsa', ad });
        this.recompute();
        this.reachabilityChanged();
      }
    }
  }

  private ownNeighbors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, info] of this.neighbors) out[id] = info.cost;
    return out;
  }

  private ownAd(bump: boolean): LinkStateAd {
    if (bump) this.seq++;
    const addresses: Record<string, number> = {};
    for (const e of this.addresses.values()) {
      if (e.consumers.length && !parseTopoAddress(e.key) && e.key !== '$management') addresses[e.key] = e.consumers.length;
    }
    return { origin: this.id, instance: this.instance, seq: this.seq, neighbors: this.ownNeighbors(), addresses };
  }

  private recompute(): void {
    if (this.db.compute(this.ownNeighbors())) {
      const list = [...this.db.routes.values()].map((r) => `${r.id} via ${r.nextHop} cost ${r.cost}`).join(', ');
      this.log.info('ROUTER', `Routes: ${list || '(none)'}`);
    }
  }

  private topologyChanged(): void {
    this.recompute();
    this.advertise(false);
    this.reachabilityChanged();
  }

  private scheduleAdvertise(): void {
    if (this.mode !== 'interior' || this.adTimer) return;
    this.adTimer = setTimeout(() => { this.adTimer = null; this.advertise(false); }, 5);
  }

  /** Flood our own advertisement when it changed (or on the periodic refresh). */
  private advertise(refresh: boolean): void {
    if (this.mode !== 'interior') return;
    const probe = this.ownAd(false);
    const sig = JSON.stringify([probe.neighbors, probe.addresses]);
    if (sig === this.lastAdvertised && !refresh) return;
    this.lastAdvertised = sig;
    const ad = this.ownAd(true);
    for (const n of this.neighbors.values()) this.sendControl(n, { op: 'lsa', ad });
  }
}
