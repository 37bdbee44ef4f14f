// The public contract of a lab environment, used by the CLI, the lab server,
// the observers and the lab checks alike. Implementation: ./environment.ts.
import type { ComponentStatus, LabStatus, Topology, WanStatus } from '../../common/wire.js';

export interface Progress {
  component: string;
  message: string; // what it is doing or waiting for
  elapsedMs: number;
  state: 'starting' | 'running' | 'failed';
}

export interface UpOptions {
  topology: Topology;
  basePort?: number; // first port of this lab's block (default DEFAULT_BASE_PORT)
  qdrouterd?: string; // path of a qdrouterd binary; default: qdrouterd on PATH, else the embedded router
  trafficRate?: number; // conductor operations per second
  wanCost?: number; // multi-region: inter-router cost of the WAN connectors
  onProgress?: (p: Progress) => void;
  /** Aborting it (Ctrl-C) stops everything this `up` started. */
  signal?: AbortSignal;
}

/** Ports of one lab, all on 127.0.0.1, all inside [basePort, basePort + PORT_BLOCK). */
export interface PortPlan {
  base: number;
  brokerAmqp: number; // base + 0
  brokerManagement: number; // base + 1
  brokerDist: number; // base + 2
  routers: Record<string, { normal: number; interRouter: number }>; // router-a: base+10 / base+20, b: +11/+21, c: +12/+22
  broker2?: { amqp: number; management: number; dist: number }; // multi-region: region 2's broker, base+5 / +6 / +7
}

/** Files of a lab home that other concerns read. */
export interface LabPaths {
  home: string;
  etc: string; // generated configs: openstack.conf, router-a.conf, rabbitmq.conf
  openstackConf: string; // etc/openstack.conf, the file the labs teach people to edit
  logs: string; // one log per component: logs/<name>.log
  events: string; // JSON lines per service: events/<service>.jsonl (ServiceEvent)
  run: string; // pids, stats: run/<service>.stats.json (TrafficCounters-like per service)
  state: string; // state.json: topology, ports, router product, component pids
}

export type ComponentName = string;

export interface LabEnvironmentApi {
  readonly paths: LabPaths;
  up(opts: UpOptions): Promise<LabStatus>;
  down(): Promise<void>;
  status(): Promise<LabStatus>;
  start(name: ComponentName): Promise<ComponentStatus>;
  stop(name: ComponentName): Promise<ComponentStatus>;
  kill(name: ComponentName): Promise<ComponentStatus>; // SIGKILL; stays down until started
  restart(name: ComponentName): Promise<ComponentStatus>; // 'services' restarts every OpenStack service
  setTrafficRate(rate: number): Promise<void>;
  /** multi-region: the WAN between the regions (null for other topologies). */
  wanStatus(): WanStatus | null;
  setWan(change: { delayMs?: number; jitterMs?: number; rateBitsPerS?: number | null; state?: 'up' | 'cut' }): Promise<WanStatus>;
  ports(): PortPlan | null; // null before the first up
}
