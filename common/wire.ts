// Types that cross the wire between the lab server and the browser (and the
// CLI's --json output). Both sides import this one module so the shapes can
// never drift apart. Types, plus the few constants both sides list (TOPOLOGIES).

export type Topology = 'broker-only' | 'hybrid' | 'hybrid-mesh' | 'multi-region';
export const TOPOLOGIES: readonly Topology[] = ['broker-only', 'hybrid', 'hybrid-mesh', 'multi-region'];

export type ComponentKind = 'broker' | 'router' | 'service';
export type ComponentState = 'starting' | 'running' | 'stopped' | 'failed';
export type RouterProduct = 'embedded' | 'qdrouterd';

export interface ComponentStatus {
  name: string; // broker, router-a, router-b, router-c, compute-1, compute-2, conductor, telemetry
  kind: ComponentKind;
  state: ComponentState;
  pid: number | null;
  endpoint: string | null; // where clients attach: amqp://127.0.0.1:15800 (broker), amqp://127.0.0.1:15810 (router)
  management?: string | null; // broker: its management API, http://127.0.0.1:15801; routers: same as endpoint ($management)
  product: string | null; // what the process says it is: "RabbitMQ 3.10.8", "hmlab-router 0.1.0", "oslo.messaging 14.0.3"
  startedAt?: number | null; // epoch ms, for uptime
  detail?: string | null; // why it failed, what it waits for
  transport?: { rpc?: string | null; notify?: string | null } | null; // services: the URLs they use
  connectedTo?: string | null; // services: the router/broker endpoint their RPC connection is on now
  region?: string | null; // multi-region: region-1 or region-2 (each its own network namespace)
}

/** The WAN link between the regions of a multi-region lab (a relay in the path applies it). */
export interface WanStatus {
  delayMs: number; // added each way
  jitterMs: number; // +- around the delay, each way
  rateBitsPerS: number | null; // bandwidth cap each way, null: none
  state: 'up' | 'cut';
  /**
   * How it is (or was last) cut: 'close' closes every connection across it at
   * once; 'silent' black-holes them (no byte either way, sockets left open),
   * so the routers find out only by their idle timeouts and heartbeats.
   */
  cutMode?: 'close' | 'silent';
  changedAt: number; // epoch ms of the last change of state (a heal starts the clock)
  settingsAt?: number; // epoch ms of the last change of delay, jitter or rate
  /**
   * The last cut and its heal, kept by the lab server so that a view opened
   * after the heal still shows them; null before the first cut.
   */
  lastPartition?: {
    cutAt: number; // epoch ms
    healedAt: number | null; // null while the WAN is still cut
    /** The first call answered in region 2 after the heal (by name or to the topic); null until one is. */
    firstSuccess: { t: number; server: string; latencyMs: number; topic: boolean } | null;
  } | null;
  cost: number; // inter-router cost of the WAN connectors in the router configs
  regions: { name: string; namespace: string; components: string[] }[];
  relays: { name: string; pid: number | null; running: boolean }[];
}

export interface TrafficCounters {
  rpcCalls: { ok: number; failed: number };
  rpcCasts: { sent: number };
  fanouts: { sent: number };
  notifications: { sent: number; received: number };
}

export interface LabStatus {
  home: string;
  topology: Topology | null;
  router: RouterProduct | null;
  transports: { rpc: string | null; notify: string | null };
  components: ComponentStatus[];
  traffic: TrafficCounters;
  trafficRate?: number; // conductor operations per second
  wan?: WanStatus | null; // multi-region only
  upAt?: number | null; // when this lab was brought up (epoch ms): a new value is a new lab, its counters start at zero
}

// ---- Service events: one JSON line per messaging operation -----------------
// Written by every OpenStack service (openstack/), collected by the lab server.
export type ServiceEventKind =
  | 'rpc.call' // client: a call finished (ok or failed), with latency
  | 'rpc.cast' // client: a cast was sent
  | 'rpc.fanout' // client: a fanout cast was sent
  | 'rpc.request' // server: a call/cast/fanout arrived at an endpoint
  | 'rpc.reply' // server: a reply was returned
  | 'notify.sent' // notifier: a notification was emitted
  | 'notify.received' // listener: a notification arrived
  | 'transport.connected' // a driver connection came up (host:port)
  | 'transport.lost' // a driver connection was lost
  | 'service.started'
  | 'service.stopping';

export interface ServiceEvent {
  t: number; // epoch ms
  service: string; // compute-1, conductor, ...
  kind: ServiceEventKind;
  id?: string; // message id, shared by the request, its handling and its reply
  method?: string; // endpoint method or event_type
  target?: { topic?: string; server?: string | null; fanout?: boolean; exchange?: string | null };
  ok?: boolean;
  error?: string; // exception class and message when ok is false
  latencyMs?: number;
  /** rpc.call: the server whose reply it was (a topic call's reply names it; the router picked the server) */
  answeredBy?: string;
  transport?: string; // url (no password) or host:port the event refers to
  priority?: string; // notifications: info, warn, error...
  publisher?: string; // notifications: publisher_id
}

// ---- The lab server's event stream (WebSocket /api/events) -----------------
export interface RouterSnapshot {
  router: string; // component name
  id: string; // router id
  product: string;
  nodes: { id: string; nextHop: string | null; cost: number | null }[];
  connections: { container: string; host: string; role: string; dir: string }[];
  addresses: { address: string; distribution: string; subscribers: number; remotes: number; deliveriesIn: number; deliveriesOut: number; rate: number }[];
  links: { address: string | null; dir: 'in' | 'out'; deliveries: number; unsettled: number; undelivered: number; connection: string; rate: number }[];
  deliveries: { in: number; out: number; transit: number };
}

export interface BrokerSnapshot {
  /** Component name (broker, broker-2). Recordings made before a lab had two brokers carry none: the lab's first broker. */
  broker?: string;
  queues: { name: string; vhost: string; messages: number; consumers: number; publishRate: number; deliverRate: number; durable: boolean }[];
  connections: { name: string; client: string | null; channels: number }[];
}

export type LabEvent =
  | { type: 'hello'; t: number; status: LabStatus; replay?: boolean }
  | { type: 'status'; t: number; status: LabStatus }
  | { type: 'component'; t: number; name: string; state: ComponentState; pid: number | null; detail?: string | null }
  | { type: 'router'; t: number; snapshot: RouterSnapshot }
  | { type: 'broker'; t: number; snapshot: BrokerSnapshot }
  | { type: 'message'; t: number; event: ServiceEvent; sampled?: number } // sampled: how many events this one stands for
  | {
      type: 'rates';
      t: number;
      perSecond: Record<string, number>; // e.g. rpc.call, rpc.call.failed, notify.sent, total
      perService?: Record<string, number>; // every event of each service, per second
      latencyMs?: { p50: number; p95: number; max: number; n: number } | null; // rpc.call latency over the last second
    }
  // from/to: component names (router-a) when the endpoint belongs to the lab, else host:port
  | { type: 'failover'; t: number; service: string; from: string | null; to: string; endpoint?: string }
  | {
      type: 'progress';
      t: number;
      component: string; // a component name, or 'lab' for the operation as a whole
      message: string;
      elapsedMs: number;
      operation?: 'up' | 'down' | 'start' | 'stop' | 'kill' | 'restart';
      state?: 'starting' | 'running' | 'failed' | 'done'; // 'done'/'failed' with component 'lab' ends an operation
    }
  | { type: 'error'; t: number; message: string };

// ---- HTTP errors: every 4xx/5xx body has this shape ----------------------
// ---- Recordings: JSON lines, this header first, then one LabEvent per line ----
export interface RecordingHeader {
  type: 'recording';
  version: 1;
  machine: { os: string; arch: string; cpu: string; cores: number; memoryGiB: number; node: string };
  topology: Topology | null;
  router: RouterProduct | null;
  startedAt: number; // epoch ms; events' t are on the same clock
  scenario?: string; // what the run shows, one sentence
}

export interface RecordingInfo {
  name: string; // file name without .jsonl
  source: 'public' | 'home'; // shipped with the project, or recorded in this lab home
  url: string; // where the browser fetches it
  bytes: number;
  modifiedAt: number;
}

export interface ApiError {
  error: string; // human sentence: what is wrong and how to fix it
  field?: string; // the offending field, for validation errors
}

// ---- The labs API (server/labs, the workbook in labs/app) -----------------
export interface LabSummary {
  id: string;
  title: string;
  minutes: number;
  topology: string;
  start: 'up' | 'down';
  summary: string;
  steps: { index: number; title: string; checks: string[] }[];
  checks: { id: string; step: number; title: string; description: string }[];
  progress: { step: number; passed: number; total: number; updatedAt: number | null };
}

export type StepAction =
  | { kind: 'run'; index: number; terminal: string; command: string }
  | { kind: 'edit'; index: number; file: string }
  | { kind: 'check'; index: number; id: string; description: string };

export interface CheckRecord { check: string; pass: boolean; hint: string; at: number }

export interface LabProgress {
  lab: string;
  step: number;
  checks: Record<string, CheckRecord>;
  actions: string[];
  updatedAt: number | null;
}

export interface LabDetail extends Omit<LabSummary, 'steps'> {
  introHtml: string;
  steps: { index: number; title: string; html: string; actions: StepAction[] }[];
  state: LabProgress;
}

/** GET /api/labs/LAB/start: how the running environment differs from where the lab starts. */
export interface LabStartState {
  lab: string;
  atStart: boolean;
  /** Another topology runs (or none where the lab needs one): no check of this lab can pass. */
  topologyDiffers: boolean;
  running: Topology | null;
  /** One sentence each: what differs and what the lab starts with. */
  differences: string[];
}

export interface CheckResult {
  pass: boolean;
  hint: string;
  data?: { chart?: MeasureChart; [k: string]: unknown };
}

export interface MeasureChart {
  machine: string;
  measurements: {
    transport: 'router' | 'broker';
    calls: number;
    failed: number;
    callsPerS: number;
    windowS: number;
    latencyMs: { mean: number; p50: number; p95: number };
  }[];
}

export interface DiffLine { op: ' ' | '-' | '+'; text: string; oldLine?: number; newLine?: number }
export interface EditResult { file: string; changed: boolean; diff: DiffLine[] }

export interface ResetState {
  lab: string | null;
  state: 'idle' | 'running' | 'done' | 'failed';
  message: string;
  startedAt: number | null;
  finishedAt: number | null;
}

// ---- Workshop hosting: the host dashboard's view of the room (GET /host/api/room) ----

export type SeatState = 'free' | 'starting' | 'ready' | 'stopped' | 'failed';

export interface WorkshopSeatView {
  seat: number;
  label: string; // "01"
  state: SeatState;
  /** Why a seat failed or stopped, in words. */
  reason: string;
  attendee: string;
  taken: boolean;
  /** The lab and step the attendee is on (the lab touched last), if any. */
  lab: string | null;
  step: number | null;
  /** Checks passed per lab. */
  labs: { id: string; title: string; passed: number; total: number }[];
  components: { name: string; state: string }[];
  lastActivity: number | null;
  help: { question: string; at: number } | null;
  memoryBytes: number | null;
  processes: number | null;
}

export interface StuckRow {
  lab: string;
  step: number;
  title: string;
  /** Seats that passed every check of this step. */
  passed: number;
  /** Seats whose current lab is this one. */
  seats: number;
  /** Failing checks' hints counted across seats, most common first. */
  hints: { hint: string; seats: number }[];
}

export interface WorkshopRoom {
  title: string;
  joinUrl: string;
  isolated: boolean;
  /** Warnings the host must see (no TLS on a public address, no isolation, more seats than the machine holds). */
  warnings: string[];
  /** Conductor operations per second per seat: what the seats started with, and what the host last set for all. */
  traffic: { start: number; now: number };
  seats: WorkshopSeatView[];
  stuck: StuckRow[];
  log: { at: number; seat: number | null; action: string; detail: string }[];
  labs: { id: string; title: string }[];
}
