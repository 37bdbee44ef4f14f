// The router core's data: connections, links, deliveries in flight and
// address entries, shared by the modules that make up the router (as
// qpid-dispatch's router_core shares its private header), plus the
// read-only view the management agent answers from.
import type { Connection, Delivery, Message, Receiver, Sender } from 'rhea';
import type { ConnectorConfig, Distribution, Role } from './config.js';
import type { LinkStateAd, Route } from './mesh.js';
import type { RouterLog } from './log.js';
import type { ConnectionLimits } from './policy.js';

export const PRODUCT = 'hmlab-router';
export const CONTROL_ADDRESS = '_hmlab/control';
export const TRANSIT_ADDRESS = '_hmlab/transit';
// message annotations a delivery carries across the mesh
export const A_TO = 'x-hmlab-to';
export const A_DEST = 'x-hmlab-dest';
export const A_DESTS = 'x-hmlab-dests';
export const A_TTL = 'x-hmlab-ttl';
export const ENDPOINT_CAPACITY = 250; // qdrouterd's default link capacity
export const TRANSIT_CAPACITY = 1000;
export const MAX_TTL = 16;
// rhea's per-session delivery ring: frees slots in order, so one long-held
// delivery (a slow RPC server) must not close the window for all others
export const SESSION_BUFFER = 1 << 20;
// neighbours say hello every second; three silent seconds and the link counts
// as dead (a frozen router keeps its TCP connection open), as with qdrouterd
export const HELLO_INTERVAL_MS = 1000;
export const HELLO_MAX_AGE_MS = 3000;
/** How often a router sends its neighbours its whole link-state database again (qdrouterd's RA interval). */
export const RESYNC_INTERVAL_MS = 30_000;

export interface ConnInfo {
  identity: number;
  connection: Connection;
  role: Role;
  dir: 'in' | 'out';
  host: string;
  container: string;
  opened: number;
  cost: number;
  properties: Record<string, unknown>; // the peer's Open properties
  peerRouter?: string; // inter-router: the neighbour's id once it said hello
  control?: Sender;
  transit?: OutLink;
  links: Set<InLink | OutLink>;
  connector?: ConnectorConfig;
  user?: string;
  lastHeard?: number; // inter-router: when the neighbour last spoke on its control link
  limits: ConnectionLimits;
  lastDelivery?: number; // when a delivery last came or went on it (management's lastDlvSeconds)
}

export interface LinkStats {
  deliveryCount: number;
  acceptedCount: number;
  rejectedCount: number;
  releasedCount: number;
  modifiedCount: number;
  presettledCount: number;
  droppedPresettledCount: number;
}

export function newStats(): LinkStats {
  return { deliveryCount: 0, acceptedCount: 0, rejectedCount: 0, releasedCount: 0, modifiedCount: 0, presettledCount: 0, droppedPresettledCount: 0 };
}

export type LinkKind = 'endpoint' | 'control' | 'transit';

export interface InLink extends LinkStats {
  dir: 'in';
  identity: number;
  name: string;
  kind: LinkKind;
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
  kind: LinkKind;
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

/** A delivery the router sent on an outgoing link, with what it stands for. */
/** hmlabOutstanding: an unsettled delivery sent toward a neighbour for an address (balanced load). */
export type OutDelivery = Delivery & { hmlabPending?: Pending; hmlabLink?: OutLink; hmlabOutstanding?: { address: string; hop: string } };

export type Outcome = 'accepted' | 'rejected' | 'released' | 'modified';

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

export function newCounters(): RouterCounters {
  return {
    deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, presettledDeliveries: 0, droppedPresettledDeliveries: 0,
    acceptedDeliveries: 0, rejectedDeliveries: 0, releasedDeliveries: 0, modifiedDeliveries: 0, deliveriesDelayed1Sec: 0, deliveriesDelayed10Sec: 0,
  };
}

/** State every module of the router shares; the Router owns it. */
export interface RouterCore {
  readonly id: string;
  readonly mode: 'standalone' | 'interior';
  readonly instance: number;
  readonly log: RouterLog;
  readonly connections: Map<Connection, ConnInfo>;
  readonly neighbors: Map<string, ConnInfo>;
  readonly counters: RouterCounters;
  nextIdentity(): number;
}

/** What a link looks like to management: its state, and the credit it holds now. */
type LinkConnView = { readonly conn: { readonly identity: number } };
export type LinkView = Readonly<Omit<InLink, 'receiver' | 'conn'>> & LinkConnView | Readonly<Omit<OutLink, 'sender' | 'conn'>> & LinkConnView;

export interface ConnectionView {
  readonly identity: number;
  readonly role: Role;
  readonly dir: 'in' | 'out';
  readonly host: string;
  readonly container: string;
  readonly opened: number;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly user?: string;
  readonly lastDelivery?: number;
  readonly links: ReadonlySet<LinkView>;
}

export interface AddressView {
  readonly key: string;
  readonly distribution: Distribution;
  readonly consumers: readonly unknown[];
  readonly deliveriesIngress: number;
  readonly deliveriesEgress: number;
  readonly deliveriesTransit: number;
  readonly deliveriesToContainer: number;
  readonly deliveriesFromContainer: number;
}

/** The router as its management agent sees it: read-only, no rhea objects. */
export interface RouterView {
  readonly id: string;
  readonly mode: 'standalone' | 'interior';
  readonly instance: number;
  readonly counters: Readonly<RouterCounters>;
  readonly connections: ReadonlyMap<unknown, ConnectionView>;
  readonly addresses: ReadonlyMap<string, AddressView>;
  readonly neighbors: ReadonlyMap<string, { readonly transit?: { readonly identity: number } }>;
  readonly routes: ReadonlyMap<string, Readonly<Route>>;
  readonly ads: ReadonlyMap<string, Readonly<LinkStateAd>>;
  readonly lastTopoChange: number;
  /** Each reachable router's index (qdrouterd's mask bit). */
  readonly nodeIndex: ReadonlyMap<string, number>;
  remoteConsumers(address: string): ReadonlyMap<string, number>;
  /** The distribution the address table gives an address. */
  distributionOf(address: string): Distribution;
  /** Credit a link holds right now. */
  creditOf(link: LinkView): number;
}
