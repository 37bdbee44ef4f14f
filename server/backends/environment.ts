// A lab environment: one home folder, one block of ports, a broker, routers
// and OpenStack services as real processes. The lab supervises them from
// state.json and process liveness, never by hosting them, so any process
// (the CLI, the lab server) can drive the same running lab.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, setPriority } from 'node:os';
import { z } from 'zod';
import {
  TOPOLOGIES, type ComponentStatus, type LabStatus, type RouterProduct, type Topology, type TrafficCounters, type WanStatus,
} from '../../common/wire.js';
import type { ComponentName, LabEnvironmentApi, LabPaths, PortPlan, Progress, UpOptions } from './types.js';
import { LabError } from './errors.js';
import { HMLAB_BIN } from '../paths.js';
import { defaultHome, labPaths } from './paths.js';
import { DEFAULT_BASE_PORT, PORT_BLOCK, planPorts, portFree } from './ports.js';
import {
  COMPONENT_MARK, niceComponent, pidAlive, readyTimeout, isComponentOf, processesOfHome, signalGroup, sleep, spawnDetached, stopGroup, tailLog, waitExit,
} from './processes.js';
import { endpointOf, formatTransportUrl, parseTransportUrl, sameEndpoint } from '../../common/endpoint.js';
import { isUp, topologySchema, trafficRateSchema } from '../../common/rules.js';
import { effectiveTransports, readOpenstackConf, redactUrl, type EffectiveTransports } from './openstack-conf.js';
import {
  ALL_SERVICES, DEFAULT_WAN_COST, REGIONS, brokerUrl, brokersOf, homeRouter, namedServersOf, regionOf, renderOpenstackConf, renderRabbitConf,
  renderRouterConf, routersOf, servicesOf, type ServiceName,
} from './templates.js';
import { PartitionMemory, regionNamespaces, relayPlans, wanFile } from './regions.js';
import {
  createNamespace, defaultWan, isolationAvailable, readWanSettings, relayReady, removeNamespace, wrapInNamespace, writeWanSettings,
  wanSettingsSchema, type WanSettings,
} from '../isolation/index.js';
import {
  brokerSpec, checkOsloInstalled, checkRabbitmqInstalled, embeddedRouterAvailableAsync, findOnPath, nodeName,
  routerSpec, serviceSpec, type ComponentSpec,
} from './components.js';
import { patchComponent, readState, writeState, type ComponentRecord, type LabState } from './state.js';

export const DEFAULT_TRAFFIC_RATE = 5;
/** How status() words a component whose process is gone while state.json still says it runs. */
export const UNEXPECTED_EXIT = 'exited unexpectedly';
/** Recorded before a deliberate stop, so a process gone before the stop is recorded is not taken for a crash. */
const STOPPING = 'stopping';
/** How long a service started during `up` waits for its broker or router. */
const UP_CONNECT_TIMEOUT_S = 90;
/** ... and when started on its own, against components that already run. */
const START_CONNECT_TIMEOUT_S = 5;
/** Why a ready timeout took longer than its seconds: the machine was busy. */
const busyNote = (load: number | null) => (load === null ? ''
  : `; the machine was busy (load ${load.toFixed(1)} on ${availableParallelism()} cores), so the wait was stretched`);
/** Raising a priority back needs root: elsewhere services keep their normal priority throughout. */
const CAN_RENICE = process.getuid?.() === 0;

/**
 * The nice value the lab's broker, routers and services run at once they
 * are ready (HMLAB_BACKEND_NICE, 0..19; default 0); they boot at normal
 * priority. Workshop seats set 10: on a busy machine an attendee's typing
 * and pages stay quick and the lab's traffic slows first. Terminals inherit
 * it, so an `hmlab up` typed there does the same.
 */
export function backendNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HMLAB_BACKEND_NICE;
  if (raw === undefined || raw === '') return 0;
  const n = /^\d{1,2}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 19)) {
    throw new LabError('bad-input',
      `HMLAB_BACKEND_NICE must be a whole number from 0 to 19 (got "${raw}"): unset it, or give a nice value such as 10`, 'HMLAB_BACKEND_NICE');
  }
  return n;
}

/**
 * The conductor's rate a lab starts at when `up` is given none
 * (HMLAB_TRAFFIC_RATE, operations per second; default 5). A workshop's
 * seats set the host's --traffic-rate: every lab a seat brings up starts
 * there, an `hmlab up` typed in its terminals too (they inherit it), and a
 * lab's starting state counts it as the lab's own.
 */
export function defaultTrafficRate(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HMLAB_TRAFFIC_RATE;
  if (raw === undefined || raw === '') return DEFAULT_TRAFFIC_RATE;
  const r = trafficRateSchema({ name: 'HMLAB_TRAFFIC_RATE', coerce: true }).safeParse(raw.trim() === raw ? raw : NaN);
  if (!r.success) {
    throw new LabError('bad-input', `${r.error.issues[0]?.message} (got "${raw}"): unset it, or give a rate such as 2`, 'HMLAB_TRAFFIC_RATE');
  }
  return r.data;
}

const upOptionsSchema = z.object({
  topology: topologySchema(),
  basePort: z.number().int('must be a whole number').min(1024, 'must be at least 1024')
    .max(65535 - PORT_BLOCK, `must be at most ${65535 - PORT_BLOCK}`).optional(),
  qdrouterd: z.string().min(1, 'must be the path of a qdrouterd binary').optional(),
  trafficRate: trafficRateSchema().optional(),
  wanCost: z.number().int('must be a whole number').min(1, 'must be at least 1 (qdrouterd\'s minimum cost)').max(1000, 'must be at most 1000').optional(),
});

/** A change to the WAN: any of its settings, or its state. */
export const wanChangeSchema = z.strictObject({
  delayMs: wanSettingsSchema.shape.delayMs.optional(),
  jitterMs: wanSettingsSchema.shape.jitterMs.optional(),
  rateBitsPerS: wanSettingsSchema.shape.rateBitsPerS.optional(),
  state: wanSettingsSchema.shape.state.optional(),
  cutMode: wanSettingsSchema.shape.cutMode,
}, { error: 'unknown field: allowed are "delayMs", "jitterMs", "rateBitsPerS", "state", "cutMode"' }).refine((c) => !c.cutMode || c.state === 'cut', {
  message: 'says how to cut: send it with "state": "cut", e.g. {"state": "cut", "cutMode": "silent"}', path: ['cutMode'],
});
export type WanChange = z.infer<typeof wanChangeSchema>;


export interface TransportDescription {
  url: string | null; // passwords hidden
  driver: 'amqp' | 'rabbit' | string | null;
  servedBy: { name: string; kind: string; product: string | null; endpoint: string | null }[];
}

export interface LabConfigDescription {
  file: string;
  rpc: TransportDescription;
  notify: TransportDescription & { enabled: boolean; fallsBackToRpc: boolean; driver: string | null; topics: string[] };
}

function firstIssue(err: z.ZodError, prefix = ''): LabError {
  const issue = err.issues[0];
  const field = issue?.path.join('.') ?? '';
  return new LabError('bad-input', `${prefix}${field ? `${field} ` : ''}${issue?.message ?? 'is invalid'}`, field || undefined);
}

/** Checks `up`'s options; an unknown topology gets its own code, so the CLI exits 2 and names the choices. */
function validateUpOptions(opts: UpOptions): Topology {
  const parsed = upOptionsSchema.safeParse(opts);
  if (parsed.success) return opts.topology;
  if (parsed.error.issues[0]?.path[0] === 'topology') {
    throw new LabError('unknown-topology', `unknown topology "${String(opts.topology)}": choose one of ${TOPOLOGIES.join(', ')}`, 'topology');
  }
  throw firstIssue(parsed.error);
}

/** Every port a topology listens on from the host, with what listens there: all must be free, or nothing starts. */
function portsOf(topology: Topology, plan: PortPlan): [number, string][] {
  const wanted: [number, string][] = [
    [plan.brokerAmqp, 'broker AMQP listener'], [plan.brokerManagement, 'broker management API'], [plan.brokerDist, 'broker Erlang distribution'],
  ];
  for (const r of routersOf(topology)) {
    wanted.push([plan.routers[r].normal, `${r} normal listener`]);
    if (topology === 'hybrid-mesh' && r !== 'router-c') wanted.push([plan.routers[r].interRouter, `${r} inter-router listener`]);
  }
  // Across regions the host's loopback carries the relay to broker-2 as well.
  if (topology === 'multi-region' && plan.broker2) {
    wanted.push([plan.broker2.amqp, 'broker-2 AMQP listener'], [plan.broker2.management, 'broker-2 management API']);
  }
  return wanted;
}

/** Which router a lab runs: qdrouterd (and its path), the embedded one, or none (broker-only). */
interface RouterChoice { kind: RouterProduct | null; qdrouterd: string | null }
interface Launched { spec: ComponentSpec; pid: number }
/** The component that failed `up` and why; name '' when `up` was interrupted. */
interface UpFailure { name: string; why: string }

/** How launchAndWait reports a component that does not become ready: in its result (up), or by throwing (start). */
interface LaunchOptions {
  signal: AbortSignal;
  onProgress: (p: Progress) => void;
  onFailure: 'report' | 'throw';
  /** Services start at low priority while the broker boots (root only; see launchAndWait). */
  lowPriority?: boolean;
}

function emptyTraffic(): TrafficCounters {
  return { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } };
}

interface StatsFile {
  pid?: number;
  product?: string;
  transport?: { rpc?: string | null; notify?: string | null };
  connectedTo?: string | null;
  counters?: Partial<Record<keyof TrafficCounters, Record<string, number>>>;
}

export class LabEnvironment implements LabEnvironmentApi {
  readonly paths: LabPaths;
  private readonly partitions: PartitionMemory;

  /** The nice value its broker, routers and services run at (read once: a bad value is said at once). */
  private readonly nice: number;

  constructor(home: string = defaultHome()) {
    this.paths = labPaths(home);
    this.partitions = new PartitionMemory(this.paths);
    this.nice = backendNice();
  }

  // ---- reading ------------------------------------------------------------------------

  private isLive(pid: number | null): boolean {
    return isComponentOf(pid, this.paths.home);
  }

  state(): LabState | null {
    return readState(this.paths.state);
  }

  ports(): PortPlan | null {
    return this.state()?.ports ?? null;
  }

  /** Names of this lab's components, in start order (broker, routers, services). */
  componentNames(): string[] {
    return this.state()?.components.map((c) => c.name) ?? [];
  }

  logPath(name: string): string {
    this.requireComponent(name);
    return join(this.paths.logs, `${name}.log`);
  }

  transports(): EffectiveTransports | null {
    try {
      return effectiveTransports(readOpenstackConf(this.paths.openstackConf));
    } catch {
      return null;
    }
  }

  private readStats(name: string): StatsFile | null {
    try {
      return JSON.parse(readFileSync(join(this.paths.run, `${name}.stats.json`), 'utf8')) as StatsFile;
    } catch {
      return null;
    }
  }

  private componentStatus(rec: ComponentRecord, stats: StatsFile | null, conf: EffectiveTransports | null): ComponentStatus {
    const running = this.isLive(rec.pid);
    let state = rec.state;
    let detail = rec.detail;
    if (rec.state === 'starting' && rec.pid === null) {
      // Not launched yet: "up" starts the broker, then the routers, then the services.
      detail = detail ?? 'waiting for the components it needs';
    } else if (!running && isUp(state)) {
      state = rec.detail === STOPPING ? 'stopped' : 'failed';
      detail = rec.detail === STOPPING ? null : `${UNEXPECTED_EXIT}: see "hmlab logs ${rec.name}"`;
    }
    const status: ComponentStatus = {
      name: rec.name,
      kind: rec.kind,
      state,
      pid: running ? rec.pid : null,
      endpoint: rec.endpoint,
      management: rec.management,
      product: rec.product,
      startedAt: running ? rec.startedAt : null,
      detail,
    };
    if (rec.region) status.region = rec.region;
    if (rec.kind === 'service') {
      const fromStats = running && stats?.pid === rec.pid ? stats : null;
      status.transport = fromStats?.transport ?? (conf ? { rpc: redactUrl(conf.rpc), notify: redactUrl(conf.notify) } : null);
      status.connectedTo = fromStats?.connectedTo ?? null;
      status.product = rec.product ?? stats?.product ?? null;
    }
    return status;
  }

  /** Cheap enough to poll twice a second: file reads and pid checks only. */
  async status(): Promise<LabStatus> {
    return this.statusSync();
  }

  statusSync(): LabStatus {
    const s = this.state();
    const conf = this.transports();
    const traffic = emptyTraffic();
    const components: ComponentStatus[] = [];
    for (const rec of s?.components ?? []) {
      const stats = rec.kind === 'service' ? this.readStats(rec.name) : null;
      const c = stats?.counters;
      if (c) {
        traffic.rpcCalls.ok += c.rpcCalls?.ok ?? 0;
        traffic.rpcCalls.failed += c.rpcCalls?.failed ?? 0;
        traffic.rpcCasts.sent += c.rpcCasts?.sent ?? 0;
        traffic.fanouts.sent += c.fanouts?.sent ?? 0;
        traffic.notifications.sent += c.notifications?.sent ?? 0;
        traffic.notifications.received += c.notifications?.received ?? 0;
      }
      components.push(this.componentStatus(rec, stats, conf));
    }
    return {
      home: this.paths.home,
      topology: s?.topology ?? null,
      router: s?.router ?? null,
      transports: { rpc: redactUrl(conf?.rpc ?? null), notify: redactUrl(conf?.notify ?? null) },
      components,
      traffic,
      trafficRate: s?.trafficRate,
      ...(s?.regions ? { wan: this.wanStatus() } : {}),
      upAt: s?.upAt ?? null,
    };
  }

  // ---- the WAN between regions (multi-region) -------------------------------------

  /** The WAN as the relays apply it, or null when this lab has no regions. */
  wanStatus(): WanStatus | null {
    const s = this.state();
    if (!s?.regions) return null;
    const { cutAt, healedAt, ...w } = readWanSettings(wanFile(this.paths)) ?? defaultWan();
    return {
      ...w,
      lastPartition: this.partitions.describe(cutAt, healedAt),
      cost: s.regions.wanCost,
      regions: REGIONS.map((r) => ({
        name: r.name, namespace: s.regions!.namespaces[r.name], components: s.components.filter((c) => c.region === r.name).map((c) => c.name),
      })),
      relays: s.regions.relays.map((r) => ({ name: r.name, pid: this.isLive(r.pid) ? r.pid : null, running: this.isLive(r.pid) })),
    };
  }

  /** Changes the WAN's delay, jitter, rate cap or state; the relays apply it within 100 ms. */
  async setWan(change: WanChange): Promise<WanStatus> {
    const r = wanChangeSchema.safeParse(change);
    if (!r.success) throw firstIssue(r.error, 'WAN ');
    const s = this.requireState();
    if (!s.regions) throw new LabError('bad-input', `this lab (${s.topology}) has no WAN: "hmlab up --topology multi-region" makes one`, 'topology');
    const old = readWanSettings(wanFile(this.paths)) ?? defaultWan();
    const shaped = (['delayMs', 'jitterMs', 'rateBitsPerS'] as const).some((k) => r.data[k] !== undefined && r.data[k] !== old[k]);
    const now = Date.now();
    const turned = r.data.state && r.data.state !== old.state ? r.data.state : null;
    const next: WanSettings = {
      ...old, ...r.data,
      changedAt: turned ? now : old.changedAt,
      settingsAt: shaped ? now : old.settingsAt ?? old.changedAt,
      ...(turned === 'cut' ? { cutAt: now } : turned === 'up' ? { healedAt: now } : {}),
      // A cut closes connections unless it is asked to be silent; a cut already made may change its mode.
      ...(r.data.state === 'cut' ? { cutMode: r.data.cutMode ?? (turned ? 'close' : old.cutMode ?? 'close') } : {}),
    };
    writeWanSettings(wanFile(this.paths), next);
    return this.wanStatus() as WanStatus;
  }

  /** The effective transports of etc/openstack.conf and which component serves each. */
  describeConfig(): LabConfigDescription {
    const conf = effectiveTransports(readOpenstackConf(this.paths.openstackConf));
    const s = this.state();
    const describe = (url: string | null): TransportDescription => {
      const parsed = url ? parseTransportUrl(url) : null;
      const servedBy: TransportDescription['servedBy'] = [];
      for (const h of parsed?.hosts ?? []) {
        const port = h.port ?? 5672;
        const c = s?.components.find((x) => sameEndpoint(x.endpoint, `${h.host}:${port}`));
        servedBy.push(c
          ? { name: c.name, kind: c.kind, product: c.product, endpoint: c.endpoint }
          : { name: `${h.host}:${port}`, kind: 'unknown', product: null, endpoint: `amqp://${h.host}:${port}` });
      }
      return { url: redactUrl(url), driver: parsed ? (parsed.scheme === 'amqp' ? 'amqp' : parsed.scheme.split('+')[0]) : null, servedBy };
    };
    return {
      file: this.paths.openstackConf,
      rpc: describe(conf.rpc),
      notify: {
        ...describe(conf.notify),
        enabled: conf.notificationsEnabled, fallsBackToRpc: conf.notifyFallsBackToRpc, driver: conf.notificationDriver, topics: conf.topics,
      },
    };
  }

  // ---- up / down --------------------------------------------------------------------------

  /**
   * Brings a lab up: validate the options, check what must be installed and
   * free, prepare the home, launch every component at once, and roll back
   * everything this `up` started if any of it fails or the signal aborts.
   */
  async up(opts: UpOptions): Promise<LabStatus> {
    const topology = validateUpOptions(opts);
    const plan = planPorts(opts.basePort ?? DEFAULT_BASE_PORT);
    const rate = opts.trafficRate ?? defaultTrafficRate();
    const wanCost = opts.wanCost ?? DEFAULT_WAN_COST;
    this.refuseIfRunning();
    const router = await this.preflight(topology, plan, opts.qdrouterd);
    this.prepareHome(topology, plan, wanCost);
    const namespaces = topology === 'multi-region' ? regionNamespaces(this.paths.home) : {};
    const specs = this.componentSpecs(topology, plan, router.qdrouterd, namespaces);
    writeState(this.paths.state, this.initialState({ topology, plan, router, rate, wanCost, namespaces, specs }));
    await this.launchAll(specs, { plan, namespaces, onProgress: opts.onProgress ?? (() => {}), signal: opts.signal });
    this.writeTraffic(rate);
    return this.statusSync();
  }

  /**
   * What `up` needs before anything starts: namespaces (multi-region),
   * RabbitMQ, oslo.messaging, a router (qdrouterd, else the embedded one)
   * and every port of the topology free. The slow checks run side by side.
   */
  private async preflight(topology: Topology, plan: PortPlan, qdrouterdPath: string | undefined): Promise<RouterChoice> {
    const regions = topology === 'multi-region';
    if (regions) {
      const iso = isolationAvailable();
      if (!iso.ok) {
        throw new LabError('not-permitted', `topology multi-region puts each region in its own network namespace, so that the WAN link is the only path `
          + `between them, and ${iso.why}; the other topologies run without it`, 'topology');
      }
    }
    checkRabbitmqInstalled();
    const routerNames = routersOf(topology);
    let qdrouterd: string | null = null;
    if (routerNames.length) {
      if (qdrouterdPath) {
        if (!existsSync(qdrouterdPath)) throw new LabError('not-installed', `--qdrouterd ${qdrouterdPath}: no such file; give the path of a `
          + `qdrouterd binary`, 'qdrouterd');
        qdrouterd = qdrouterdPath;
      } else {
        qdrouterd = findOnPath('qdrouterd');
      }
    }
    const wanted = portsOf(topology, plan);
    const [embedded, free] = await Promise.all([
      routerNames.length && !qdrouterd ? embeddedRouterAvailableAsync() : Promise.resolve(false),
      Promise.all(wanted.map(([p]) => portFree(p))),
      checkOsloInstalled(),
    ]);
    let kind: RouterProduct | null = null;
    if (routerNames.length) {
      if (qdrouterd) kind = 'qdrouterd';
      else if (embedded) kind = 'embedded';
      else {
        throw new LabError('not-installed', `topology ${topology} needs a router, and none is available: install Apache Qpid Dispatch Router 1.x (qdrouterd) `
          + 'and put it on PATH or pass --qdrouterd PATH, or make the embedded router work ("hmlab router --help" must run; build with "npm run build")');
      }
    }
    const busy = wanted.filter((_, i) => !free[i]);
    if (busy.length) {
      const [port, what] = busy[0];
      const others = busy.length > 1 ? `also busy: ${busy.slice(1).map(([p]) => p).join(', ')}` : `this block starts at ${plan.base}`;
      throw new LabError('port-in-use', `port ${port} (${what}) is in use: stop what listens there, or give this lab another block with --base-port N `
        + `(it uses ${PORT_BLOCK} ports from N; ${others})`, 'basePort');
    }
    return { kind, qdrouterd };
  }

  /** Brokers first, then routers, then services: the order state.json lists them in. */
  private componentSpecs(topology: Topology, plan: PortPlan, qdrouterd: string | null, namespaces: Record<string, string>): ComponentSpec[] {
    const nsOf = (name: string): string | null => namespaces[regionOf(name) ?? ''] ?? null;
    return [
      ...brokersOf(topology).map((b) => brokerSpec(this.paths, plan, b, nsOf(b))),
      ...routersOf(topology).map((r) => routerSpec(r, this.paths, plan, qdrouterd, nsOf(r))),
      ...servicesOf(topology).map((s) => serviceSpec(s, this.paths, {
        connectTimeoutS: UP_CONNECT_TIMEOUT_S, overrideFile: this.writeOverride(s, topology, plan), endpoint: null,
        connectsTo: this.connectsTo(s), namespace: nsOf(s), waitFirstHost: true,
      })),
    ];
  }

  /** state.json as `up` writes it before launching: every component starting, none launched. */
  private initialState(o: {
    topology: Topology; plan: PortPlan; router: RouterChoice; rate: number; wanCost: number; namespaces: Record<string, string>; specs: ComponentSpec[];
  }): LabState {
    const regions = o.topology === 'multi-region';
    return {
      version: 1,
      home: this.paths.home,
      topology: o.topology,
      ports: o.plan,
      router: o.router.kind,
      qdrouterd: o.router.qdrouterd,
      nodeName: nodeName(this.paths.home),
      trafficRate: o.rate,
      upAt: Date.now(),
      components: o.specs.map((sp) => ({
        name: sp.name, kind: sp.kind, state: 'starting', pid: null, endpoint: sp.endpoint, management: sp.management,
        product: null, startedAt: null, readyAt: null, detail: null,
        ...(regions ? { region: regionOf(sp.name), namespace: sp.namespace ?? null } : {}),
      })),
      ...(regions ? { regions: { namespaces: o.namespaces, wanCost: o.wanCost, relays: [] } } : {}),
    };
  }

  /**
   * Starts the regions' relays (multi-region), then every component at once:
   * services poll for their broker and router tightly. The first failure, or
   * the caller's signal, aborts the rest and rolls everything back.
   */
  private async launchAll(specs: ComponentSpec[], o: {
    plan: PortPlan; namespaces: Record<string, string>; onProgress: (p: Progress) => void; signal?: AbortSignal;
  }): Promise<void> {
    if (Object.keys(o.namespaces).length) {
      try {
        await this.startRegions(o.namespaces, o.plan, o.onProgress);
      } catch (err) {
        await this.stopRegions();
        throw err;
      }
    }
    const abort = new AbortController();
    const started: Launched[] = [];
    let failure: UpFailure | null = null;
    const interrupt = () => { if (!failure) failure = { name: '', why: 'interrupted' }; abort.abort('"hmlab up" was interrupted'); };
    if (o.signal?.aborted) interrupt();
    o.signal?.addEventListener('abort', interrupt, { once: true });
    try {
      await Promise.all(specs.map(async (spec) => {
        try {
          const r = await this.launchAndWait(spec, { signal: abort.signal, onProgress: o.onProgress, onFailure: 'report', lowPriority: true });
          started.push({ spec, pid: r.pid });
          if (r.error && !failure) {
            failure = { name: spec.name, why: r.error };
            abort.abort(`${spec.name} failed`);
          }
        } catch (err) {
          if (!failure) failure = { name: spec.name, why: (err as Error).message };
          abort.abort(`${spec.name} failed`);
        }
      }));
      if (failure) await this.rollBack(started, failure);
    } finally {
      o.signal?.removeEventListener('abort', interrupt);
    }
  }

  /** No half-started leftovers: everything this `up` started goes, then the error says why. */
  private async rollBack(started: Launched[], f: UpFailure): Promise<never> {
    await Promise.all(started.map(async ({ spec, pid }) => {
      if (pid > 0) { signalGroup(pid, 'SIGKILL'); await waitExit(pid, 3000); }
      const after = spec.name === f.name ? { pid: null } : { state: 'stopped' as const, pid: null, detail: f.name ? null : 'interrupted' };
      patchComponent(this.paths.state, spec.name, after);
    }));
    await this.stopRegions();
    this.sweep();
    if (!f.name) throw new LabError('component-failed', '"hmlab up" was interrupted: everything it started has been stopped.');
    const tail = tailLog(join(this.paths.logs, `${f.name}.log`), 15);
    throw new LabError('component-failed', `${f.name} failed: ${f.why}${tail ? `\n--- last lines of logs/${f.name}.log ---\n${tail}` : ''}\nEverything this `
      + `"hmlab up" started has been stopped.`);
  }

  private refuseIfRunning(): void {
    let s: LabState | null = null;
    try { s = this.state(); } catch { s = null; }
    const live = s?.components.filter((c) => this.isLive(c.pid)) ?? [];
    if (live.length) {
      throw new LabError('already-running', `a lab is already running in ${this.paths.home} (topology ${s?.topology}; ${live.map((c) => c.name).join(', ')}): `
        + `run "hmlab down" first, or use another --home and --base-port`);
    }
    const left = processesOfHome(this.paths.home);
    if (left.length) {
      throw new LabError('already-running', `processes of ${this.paths.home} are still running (pids ${left.map((p) => p.pid).join(', ')}): run `
        + `"hmlab down" first`);
    }
  }

  private prepareHome(topology: Topology, plan: PortPlan, wanCost = DEFAULT_WAN_COST): void {
    const p = this.paths;
    for (const d of [p.etc, p.logs, p.events, p.run, join(p.home, 'data')]) mkdirSync(d, { recursive: true });
    // A fresh `up` is a fresh lab: no old events, counters, queues or logs.
    const fresh = [p.events, p.run, join(p.home, 'data', 'broker'), join(p.logs, 'broker'), join(p.home, 'data', 'broker-2'), join(p.logs, 'broker-2')];
    for (const d of fresh) rmSync(d, { recursive: true, force: true });
    for (const d of fresh) mkdirSync(d, { recursive: true });
    for (const n of ['broker', 'broker-2', 'router-a', 'router-b', 'router-c', ...ALL_SERVICES]) writeFileSync(join(p.logs, `${n}.log`), '');
    writeFileSync(p.openstackConf, renderOpenstackConf(topology, plan));
    writeFileSync(join(p.etc, 'rabbitmq.conf'), renderRabbitConf(plan));
    writeFileSync(join(p.etc, 'enabled_plugins'), '[rabbitmq_management].\n');
    writeFileSync(join(p.etc, 'rabbitmq-env.conf'), '# the lab sets the RABBITMQ_* environment itself\n');
    const b2 = join(p.etc, 'broker-2');
    rmSync(b2, { recursive: true, force: true });
    if (brokersOf(topology).includes('broker-2')) {
      mkdirSync(b2, { recursive: true });
      writeFileSync(join(b2, 'rabbitmq.conf'), renderRabbitConf(plan, 'broker-2'));
      writeFileSync(join(b2, 'enabled_plugins'), '[rabbitmq_management].\n');
      writeFileSync(join(b2, 'rabbitmq-env.conf'), '# the lab sets the RABBITMQ_* environment itself\n');
    }
    for (const r of ['router-a', 'router-b', 'router-c']) {
      const f = join(p.etc, `${r}.conf`);
      if (routersOf(topology).includes(r)) writeFileSync(f, renderRouterConf(r, topology, plan, { wanCost }));
      else rmSync(f, { force: true });
    }
    for (const f of ['wan.json', 'relay-host.json', ...REGIONS.map((r) => `relay-${r.name}.json`)]) rmSync(join(p.etc, f), { force: true });
    if (topology === 'multi-region') {
      writeWanSettings(wanFile(p), defaultWan());
      for (const r of relayPlans(p, plan)) writeFileSync(r.configFile, JSON.stringify(r.config, null, 2) + '\n');
    }
    // Services stay idle until every component is ready: no failed calls at boot.
    this.writeTraffic(0, topology);
  }

  /** Namespaces up, then the relays joining them (each a process we supervise by pid). */
  private async startRegions(namespaces: Record<string, string>, plan: PortPlan, progress: (p: Progress) => void): Promise<void> {
    const t0 = Date.now();
    for (const ns of Object.values(namespaces)) await createNamespace(ns);
    const relays = relayPlans(this.paths, plan);
    const started: { name: string; namespace: string | null; pid: number | null }[] = [];
    for (const r of relays) {
      const ns = r.region ? namespaces[r.region] : null;
      const base: [string, string[]] = [process.execPath, [HMLAB_BIN, 'relay', '-c', r.configFile]];
      const [cmd, args] = ns ? wrapInNamespace(ns, ...base) : base;
      const env = { ...process.env, [COMPONENT_MARK]: this.paths.home };
      const proc = spawnDetached(cmd, args, { env, cwd: this.paths.home, log: join(this.paths.logs, `${r.name}.log`) });
      started.push({ name: r.name, namespace: ns, pid: proc.pid > 0 ? proc.pid : null });
      const s = this.requireState();
      s.regions!.relays = started;
      writeState(this.paths.state, s);
      const joining = `joining ${r.region ?? 'the host'} to the other side (${r.config.forwards.length} forwards)`;
      progress({ component: r.name, message: joining, elapsedMs: Date.now() - t0, state: 'starting' });
      const deadline = Date.now() + 20_000;
      while (relayReady(r.readyFile) !== proc.pid) {
        if (Date.now() > deadline || !pidAlive(proc.pid)) {
          throw new LabError('component-failed', `${r.name} did not start: ${tailLog(join(this.paths.logs, `${r.name}.log`), 5) || 'no output'}`);
        }
        await sleep(50);
      }
      progress({ component: r.name, message: 'ready', elapsedMs: Date.now() - t0, state: 'running' });
    }
  }

  /** Relays stopped by pid, namespaces removed with anything left in them (epmd). */
  private async stopRegions(): Promise<void> {
    const s = this.state();
    for (const r of s?.regions?.relays ?? []) {
      if (this.isLive(r.pid)) await stopGroup(r.pid as number, 2000);
    }
    for (const ns of Object.values(s?.regions?.namespaces ?? regionNamespaces(this.paths.home))) await removeNamespace(ns);
    if (s?.regions) {
      s.regions.relays = s.regions.relays.map((r) => ({ ...r, pid: null }));
      writeState(this.paths.state, s);
    }
  }

  /**
   * etc/<service>.conf: in the mesh, the [DEFAULT] transport_url of
   * openstack.conf with its hosts rotated so the service attaches to its
   * own router first. Rewritten at every start, so editing openstack.conf
   * and restarting is all a user ever does.
   */
  private writeOverride(service: ServiceName, topology: Topology, plan: PortPlan): string | null {
    const file = join(this.paths.etc, `${service}.conf`);
    const conf = readOpenstackConf(this.paths.openstackConf);
    if (topology === 'multi-region') return this.writeRegionOverride(service, plan, file, conf);
    const url = conf.DEFAULT?.transport_url?.value ?? null;
    const parsed = url ? parseTransportUrl(url) : null;
    const own = plan.routers[homeRouter(topology, service)];
    const idx = parsed && topology === 'hybrid-mesh' && parsed.hosts.length > 1
      ? parsed.hosts.findIndex((h) => h.port !== null && sameEndpoint(`${h.host}:${h.port}`, `127.0.0.1:${own.normal}`))
      : -1;
    if (!parsed || idx < 0) {
      rmSync(file, { force: true });
      return null;
    }
    const rotated = formatTransportUrl({ ...parsed, hosts: [...parsed.hosts.slice(idx), ...parsed.hosts.slice(0, idx)] });
    writeFileSync(file, `# Written by hmlab from etc/openstack.conf at every start of ${service}:
# the same [DEFAULT] transport_url, hosts rotated so that ${service} attaches
# to ${homeRouter(topology, service)} first and fails over to the others in turn.
# Do not edit: edit etc/openstack.conf and run "hmlab restart services".
[DEFAULT]
transport_url = ${rotated}
`);
    return file;
  }

  /**
   * Across regions a service reaches only its own region: the RPC URL lists
   * that region's routers (its home router first), notifications go to the
   * region's own broker. Region 1 keeps openstack.conf's URLs (an edit of
   * them takes effect); region 2's are the same URLs moved to its region.
   */
  private writeRegionOverride(service: ServiceName, plan: PortPlan, file: string, conf: ReturnType<typeof readOpenstackConf>): string {
    const region = REGIONS.find((r) => (r.services as string[]).includes(service))!;
    const home = homeRouter('multi-region', service);
    const routers = [home, ...region.routers.filter((r) => r !== home)];
    const fromConf = parseTransportUrl(conf.DEFAULT?.transport_url?.value ?? '');
    const rpc = fromConf && fromConf.scheme === 'amqp'
      ? formatTransportUrl({ ...fromConf, hosts: routers.map((r) => ({ user: null, password: null, host: '127.0.0.1', port: plan.routers[r].normal })) })
      : conf.DEFAULT?.transport_url?.value ?? '';
    const notify = brokerUrl(plan, region.broker);
    writeFileSync(file, `# Written by hmlab from etc/openstack.conf at every start of ${service}, in ${region.name}:
# its network namespace reaches only ${region.name}'s routers (${routers.join(', ')})
# and its broker (${region.broker}). Anything beyond goes across the WAN, router to router.
# Do not edit: edit etc/openstack.conf and run "hmlab restart services".
[DEFAULT]
transport_url = ${rpc}

[oslo_messaging_notifications]
transport_url = ${notify}
`);
    return file;
  }

  /** The URL a service's readiness depends on, for progress lines. */
  private connectsTo(service: ServiceName): string | null {
    const t = this.transports();
    if (!t) return null;
    const overrideFile = join(this.paths.etc, `${service}.conf`);
    let rpc = t.rpc;
    if (existsSync(overrideFile)) {
      try { rpc = readOpenstackConf(overrideFile).DEFAULT?.transport_url?.value ?? rpc; } catch { /* keep the shared one */ }
    }
    return redactUrl(service === 'telemetry' ? t.notify : rpc);
  }

  private writeTraffic(rate: number, topology: Topology | null = this.state()?.topology ?? null): void {
    mkdirSync(this.paths.etc, { recursive: true });
    const file = join(this.paths.etc, 'traffic.json');
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ rate, callTimeout: 10, servers: namedServersOf(topology ?? 'hybrid') }) + '\n');
    // rename: the conductor never reads a half-written file
    renameSync(tmp, file);
  }

  /** Spawns a component, records its pid, waits until ready (or why not). */
  private async launchAndWait(spec: ComponentSpec, opts: LaunchOptions): Promise<{ pid: number; error: string | null }> {
    const { signal, onProgress, lowPriority = false } = opts;
    const throwOnFail = opts.onFailure === 'throw';
    const t0 = Date.now();
    const launch = spec.launch();
    const log = join(this.paths.logs, `${spec.name}.log`);
    const env = { ...launch.env, [COMPONENT_MARK]: this.paths.home };
    // `ip netns exec` execs in place: the pid is the component's own.
    const [cmd, args] = spec.namespace ? wrapInNamespace(spec.namespace, launch.cmd, launch.args) : [launch.cmd, launch.args];
    const proc = spawnDetached(cmd, args, { env, cwd: this.paths.home, log });
    if (proc.pid <= 0) {
      const error = `cannot start ${launch.cmd}`;
      patchComponent(this.paths.state, spec.name, { state: 'failed', pid: null, detail: error });
      onProgress({ component: spec.name, message: error, elapsedMs: Date.now() - t0, state: 'failed' });
      if (throwOnFail) throw new LabError('component-failed', `${spec.name} failed: ${error}`);
      return { pid: -1, error };
    }
    if (spec.kind === 'service' && lowPriority && CAN_RENICE) {
      // While the broker boots, Python imports must not steal its CPU: the
      // broker is the critical path of `up`, the services wait for it anyway.
      // They get full priority back as soon as the broker and routers run.
      try { setPriority(proc.pid, 19); } catch { /* not allowed: start anyway */ }
    }
    patchComponent(this.paths.state, spec.name, { state: 'starting', pid: proc.pid, startedAt: t0, readyAt: null, detail: null });
    let message = 'starting';
    const emit = (state: Progress['state']) => onProgress({ component: spec.name, message, elapsedMs: Date.now() - t0, state });
    const tick = setInterval(() => emit('starting'), 500);
    // Aborted without a reason: the wait then rejects with an AbortError (a DOMException named so).
    const local = new AbortController();
    const stopLocal = () => local.abort();
    signal.addEventListener('abort', stopLocal, { once: true });
    const timeout = readyTimeout(spec.readyTimeoutMs, () => local.abort());
    try {
      const product = await spec.waitReady({
        pid: proc.pid,
        exited: proc.exited,
        signal: local.signal,
        progress: (m) => {
          message = m;
          // Another process (the lab server) shows what a component waits for.
          patchComponent(this.paths.state, spec.name, { detail: m });
          emit('starting');
        },
      });
      message = `ready: ${product}`;
      if (this.nice) void niceComponent(proc.pid, this.nice);
      else if (spec.kind === 'service' && lowPriority) {
        try { setPriority(proc.pid, this.nice); } catch { /* stays nice: harmless */ }
      }
      patchComponent(this.paths.state, spec.name, { state: 'running', product, readyAt: Date.now(), detail: null });
      if (spec.kind !== 'service' && lowPriority) this.raiseServicesWhenBackendsReady();
      emit('running');
      return { pid: proc.pid, error: null };
    } catch (err) {
      let why = (err as Error).message;
      if ((err as Error)?.name === 'AbortError') {
        why = signal.aborted
          ? `stopped: ${String(signal.reason ?? 'another component failed')}`
          : `not ready after ${Math.round(timeout.wallMs() / 1000)} s (it was ${message})${busyNote(timeout.busiest())}`;
      }
      message = why;
      patchComponent(this.paths.state, spec.name, { state: 'failed', detail: why });
      emit('failed');
      if (throwOnFail) {
        signalGroup(proc.pid, 'SIGKILL');
        await waitExit(proc.pid, 3000);
        patchComponent(this.paths.state, spec.name, { pid: null });
        const tail = tailLog(log, 15);
        throw new LabError('component-failed', `${spec.name} failed: ${why}${tail ? `\n--- last lines of logs/${spec.name}.log ---\n${tail}` : ''}`);
      }
      return { pid: proc.pid, error: signal.aborted && why.startsWith('stopped: ') ? null : why };
    } finally {
      clearInterval(tick);
      timeout.cancel();
      signal.removeEventListener('abort', stopLocal);
    }
  }

  /** Once broker and routers run, the services are the critical path: full priority. */
  private raiseServicesWhenBackendsReady(): void {
    const s = this.state();
    if (!s || s.components.some((c) => c.kind !== 'service' && c.state !== 'running')) return;
    for (const c of s.components) {
      if (c.kind === 'service' && c.pid && this.isLive(c.pid)) {
        try { setPriority(c.pid, this.nice); } catch { /* stays nice: harmless */ }
      }
    }
  }

  async down(): Promise<void> {
    let s: LabState | null = null;
    // A damaged state.json cannot say what runs; the sweep below still stops every process of this home ("hmlab up" rewrites the file).
    try { s = this.state(); } catch (err) { if (!(err instanceof LabError)) throw err; }
    if (s) {
      for (const c of s.components) if (this.isLive(c.pid)) patchComponent(this.paths.state, c.name, { detail: STOPPING });
      await Promise.all(s.components.map(async (c) => {
        if (this.isLive(c.pid)) await this.specFor(s, c.name, START_CONNECT_TIMEOUT_S).stop(c.pid as number);
        patchComponent(this.paths.state, c.name, { state: 'stopped', pid: null, detail: null });
      }));
      if (s.regions) await this.stopRegions();
    }
    this.sweep();
  }

  /** Last resort: nothing whose command line points into this home survives. */
  private sweep(): void {
    for (const p of processesOfHome(this.paths.home)) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  // ---- one component ------------------------------------------------------------------

  private requireState(): LabState {
    const s = this.state();
    if (!s) throw new LabError('not-running', `no lab in ${this.paths.home}: start one with "hmlab up"`);
    return s;
  }

  private requireComponent(name: string): ComponentRecord {
    const s = this.requireState();
    const c = s.components.find((x) => x.name === name);
    if (!c) {
      throw new LabError('unknown-component', `unknown component "${name}": this lab (${s.topology}) has `
        + `${s.components.map((x) => x.name).join(', ')}${name === 'services' ? '' : ' (restart also takes "services")'}`, 'name');
    }
    return c;
  }

  private specFor(s: LabState, name: string, connectTimeoutS: number, overrideFile: string | null = null): ComponentSpec {
    const ns = s.components.find((c) => c.name === name)?.namespace ?? null;
    if (name === 'broker' || name === 'broker-2') return brokerSpec(this.paths, s.ports, name, ns);
    if (name.startsWith('router-')) return routerSpec(name, this.paths, s.ports, s.router === 'qdrouterd' ? s.qdrouterd : null, ns);
    const svc = name as ServiceName;
    return serviceSpec(svc, this.paths, {
      connectTimeoutS, overrideFile, endpoint: null, connectsTo: overrideFile ? this.connectsTo(svc) : null, namespace: ns,
    });
  }

  private statusOf(name: string): ComponentStatus {
    const st = this.statusSync().components.find((c) => c.name === name);
    if (!st) throw new LabError('unknown-component', `unknown component "${name}"`);
    return st;
  }

  async start(name: ComponentName, onProgress?: (p: Progress) => void): Promise<ComponentStatus> {
    const rec = this.requireComponent(name);
    if (this.isLive(rec.pid)) return this.statusOf(name);
    const s = this.requireState();
    let spec: ComponentSpec;
    if (rec.kind === 'service') {
      readOpenstackConf(this.paths.openstackConf); // a malformed edit stops here, by line
      // A broker or router still booting (started alongside) deserves the long wait.
      const booting = s.components.some((c) => c.kind !== 'service' && c.state === 'starting' && this.isLive(c.pid));
      spec = this.specFor(s, name, booting ? UP_CONNECT_TIMEOUT_S : START_CONNECT_TIMEOUT_S, this.writeOverride(name as ServiceName, s.topology, s.ports));
    } else {
      spec = this.specFor(s, name, START_CONNECT_TIMEOUT_S);
      if (spec.endpoint) {
        const port = endpointOf(spec.endpoint)?.port ?? 0;
        if (port && !(await portFree(port))) throw new LabError('port-in-use', `port ${port} (${name}) is in use by another process: stop it, then `
          + `"hmlab start ${name}"`);
      }
    }
    await this.launchAndWait(spec, { signal: new AbortController().signal, onProgress: onProgress ?? (() => {}), onFailure: 'throw' });
    return this.statusOf(name);
  }

  async stop(name: ComponentName): Promise<ComponentStatus> {
    const rec = this.requireComponent(name);
    const s = this.requireState();
    if (this.isLive(rec.pid)) {
      patchComponent(this.paths.state, name, { detail: STOPPING });
      await this.specFor(s, name, START_CONNECT_TIMEOUT_S).stop(rec.pid as number);
    }
    patchComponent(this.paths.state, name, { state: 'stopped', pid: null, detail: null });
    return this.statusOf(name);
  }

  async kill(name: ComponentName): Promise<ComponentStatus> {
    const rec = this.requireComponent(name);
    if (this.isLive(rec.pid)) {
      signalGroup(rec.pid as number, 'SIGKILL');
      await waitExit(rec.pid as number, 3000);
    }
    patchComponent(this.paths.state, name, { state: 'failed', pid: null, detail: `killed with SIGKILL (a crash): it stays down until "hmlab start ${name}"` });
    return this.statusOf(name);
  }

  /** `services` restarts every OpenStack service, so an edit of openstack.conf takes effect. */
  async restart(name: ComponentName, onProgress?: (p: Progress) => void): Promise<ComponentStatus> {
    if (name === 'services') {
      const s = this.requireState();
      readOpenstackConf(this.paths.openstackConf);
      const services = s.components.filter((c) => c.kind === 'service').map((c) => c.name);
      // Pause traffic while both ends restart, so no call fails for that reason.
      this.writeTraffic(0);
      try {
        await Promise.all(services.map((n) => this.stop(n)));
        await Promise.all(services.map((n) => this.start(n, onProgress)));
      } finally {
        this.writeTraffic(this.state()?.trafficRate ?? defaultTrafficRate());
      }
      return this.statusOf('conductor');
    }
    this.requireComponent(name);
    if (this.requireComponent(name).kind === 'service') readOpenstackConf(this.paths.openstackConf);
    await this.stop(name);
    return this.start(name, onProgress);
  }

  async setTrafficRate(rate: number): Promise<void> {
    const r = trafficRateSchema().safeParse(rate);
    if (!r.success) throw new LabError('bad-input', `traffic rate ${r.error.issues[0]?.message}`, 'rate');
    const s = this.requireState();
    s.trafficRate = r.data;
    writeState(this.paths.state, s);
    this.writeTraffic(r.data);
  }
}

/** The lab in `home` (default: HMLAB_HOME or ~/.hmlab/lab), running or not. */
export function openLab(home?: string): LabEnvironment {
  return new LabEnvironment(home ?? defaultHome());
}
