// The embedded router: an AMQP 1.0 message router on rhea. Clients attach
// links to addresses; the router forwards each delivery to a consumer by
// the address's distribution, carries the consumer's outcome back to the
// producer (end-to-end settlement), grants producers credit only while a
// consumer is reachable (no store-and-forward), and joins other routers in
// an interior mesh over inter-router connections.
//
// Split as qpid-dispatch's router core is: connections.ts, links.ts,
// addresses.ts (with address-table.ts), forwarder.ts, settlement.ts,
// credit.ts, link-state.ts (with mesh.ts); rhea's internals stay in
// rhea-adapter.ts; this file builds the parts and wires rhea's events.
import rhea from 'rhea';
import type { Connection, Container, EventContext, Message } from 'rhea';
import { AddressTable } from './address-table.js';
import { Addresses } from './addresses.js';
import type { RouterConfig, Role } from './config.js';
import { Connections } from './connections.js';
import { creditOf, applyRheaPatches } from './rhea-adapter.js';
import { Forwarder } from './forwarder.js';
import { Links } from './links.js';
import { LinkState } from './link-state.js';
import { LinkStateDb } from './mesh.js';
import { RouterLog } from './log.js';
import { ManagementAgent } from './management-agent.js';
import { Settlement } from './settlement.js';
import { VERSION } from '../version.js';
import { PRODUCT, newCounters, type ConnInfo, type InLink, type LinkView, type OutLink, type OutDelivery, type RouterCore, type RouterView } from './types.js';

applyRheaPatches();

export { PRODUCT };

export class Router implements RouterCore {
  readonly id: string;
  readonly mode: 'standalone' | 'interior';
  readonly log: RouterLog;
  readonly instance = Date.now();
  readonly connections = new Map<Connection, ConnInfo>();
  readonly neighbors = new Map<string, ConnInfo>();
  readonly counters = newCounters();
  private identities = 1;
  private readonly table: AddressTable;
  private readonly db: LinkStateDb;
  private readonly addresses: Addresses;
  private readonly settlement: Settlement;
  private readonly forwarder: Forwarder;
  private readonly links: Links;
  private readonly linkState: LinkState;
  private readonly conns: Connections;
  private readonly management: ManagementAgent;
  private readonly container: Container;

  constructor(readonly config: RouterConfig, log?: RouterLog) {
    this.id = config.router.id;
    this.mode = config.router.mode;
    this.log = log ?? new RouterLog();
    this.table = new AddressTable(config.addresses);
    this.db = new LinkStateDb(this.id);
    this.addresses = new Addresses(this.id, this.table, this.db);
    this.settlement = new Settlement(this.counters);
    this.management = new ManagementAgent(this.view(), (msg: Message) => this.forwarder.sendFromRouter(msg));
    this.forwarder = new Forwarder(this, this.addresses, this.db, this.settlement, {
      control: (info, msg) => this.linkState.onControl(info, msg),
      management: (p) => this.management.handle(p),
      consumersChanged: () => this.linkState.scheduleAdvertise(),
    });
    this.links = new Links(this, this.addresses, this.forwarder, this.settlement);
    this.linkState = new LinkState(this, this.db, this.addresses, this.forwarder, this.links, (info, why) => this.conns.drop(info, why));
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
    this.conns = new Connections(this, this.container, this.links, this.linkState, config.policy);
    this.wire();
  }

  nextIdentity(): number {
    return this.identities++;
  }

  // ---- lifecycle -----------------------------------------------------------

  async start(): Promise<void> {
    this.log.notice('ROUTER', `Router started in ${this.mode[0].toUpperCase() + this.mode.slice(1)} mode, id=${this.id} (${PRODUCT} ${VERSION})`);
    for (const l of this.config.listeners) await this.conns.listen(l);
    for (const c of this.config.connectors) this.conns.connect(c);
    this.linkState.start();
  }

  /** Ports actually bound (listeners with port 0 get one from the OS). */
  boundPorts(): { port: number; role: Role }[] {
    return this.conns.boundPorts();
  }

  async stop(): Promise<void> {
    this.linkState.stop();
    await this.conns.stop();
    this.log.notice('SERVER', 'Router stopped');
  }

  /** What the management agent reads: live, read-only. */
  private view(): RouterView {
    const self = this;
    return {
      id: this.id,
      mode: this.mode,
      instance: this.instance,
      counters: this.counters,
      connections: this.connections,
      neighbors: this.neighbors,
      get addresses() { return self.addresses.entries; },
      get routes() { return self.db.routes; },
      get ads() { return self.db.ads; },
      get lastTopoChange() { return self.db.lastTopoChange; },
      get nodeIndex() { return self.db.index; },
      remoteConsumers: (address) => this.db.remoteConsumers(address),
      distributionOf: (address) => this.table.distribution(address),
      // the view hands out the router's own link records
      creditOf: (l: LinkView) => creditOf(l.dir === 'out' ? (l as OutLink).sender : (l as InLink).receiver),
    };
  }

  // ---- rhea's events ---------------------------------------------------------

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => this.conns.onOpen(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.conns.onLost(ctx.connection, (ctx as { error?: Error }).error?.message));
    c.on('connection_close', (ctx: EventContext) => {
      const info = this.connections.get(ctx.connection);
      this.conns.onLost(ctx.connection, info ? 'closed by peer' : undefined);
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
    c.on('sender_open', (ctx: EventContext) => this.links.onOutgoingAttach(ctx.sender!, this.conns.info(ctx.connection)));
    c.on('receiver_open', (ctx: EventContext) => this.links.onIncomingAttach(ctx.receiver!, this.conns.info(ctx.connection)));
    c.on('session_close', (ctx: EventContext) => {
      const info = this.connections.get(ctx.connection);
      if (info) this.links.onSessionEnded(ctx.session!, info);
    });
    c.on('sender_close', (ctx: EventContext) => this.links.onLinkClosed(ctx.sender!));
    c.on('receiver_close', (ctx: EventContext) => this.links.onLinkClosed(ctx.receiver!));
    c.on('message', (ctx: EventContext) => this.forwarder.receive(ctx.receiver!, ctx.message!, ctx.delivery!));
    c.on('sendable', (ctx: EventContext) => this.forwarder.sendable(ctx.sender!));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified', 'settled'] as const) {
      c.on(outcome, (ctx: EventContext) => this.settlement.onOutcome(ctx.delivery as OutDelivery, outcome));
    }
  }
}
