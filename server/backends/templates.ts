// The configuration files `hmlab up` writes into etc/: openstack.conf for the
// services, one qdrouterd.conf per router, rabbitmq.conf for the broker.
// Written once per `up`; the labs teach editing them afterwards.
import type { Topology } from '../../common/wire.js';
import { SERVICES } from '../../common/rules.js';
import type { PortPlan } from './types.js';

/** A multi-region lab has a third compute, in region 2 beside compute-2. */
export const ALL_SERVICES = [...SERVICES, 'compute-3'] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];
export const SERVICE_ROLE: Record<ServiceName, 'compute' | 'conductor' | 'telemetry'> = {
  'compute-1': 'compute', 'compute-2': 'compute', 'compute-3': 'compute', conductor: 'conductor', telemetry: 'telemetry',
};

export function servicesOf(topology: Topology): ServiceName[] {
  return topology === 'multi-region' ? [...ALL_SERVICES] : [...SERVICES];
}

export function routersOf(topology: Topology): string[] {
  if (topology === 'hybrid') return ['router-a'];
  if (topology === 'hybrid-mesh' || topology === 'multi-region') return ['router-a', 'router-b', 'router-c'];
  return [];
}

/** Brokers of a topology: one, or one per region. */
export function brokersOf(topology: Topology): string[] {
  return topology === 'multi-region' ? ['broker', 'broker-2'] : ['broker'];
}

/** The servers the conductor calls by name. */
export function namedServersOf(topology: Topology): string[] {
  return topology === 'multi-region' ? ['compute-1', 'compute-2', 'compute-3'] : ['compute-1', 'compute-2'];
}

/** In the mesh each service attaches to its own router first. */
const MESH_HOME_ROUTER: Record<ServiceName, string> = {
  'compute-1': 'router-a', 'compute-2': 'router-b', 'compute-3': 'router-c', conductor: 'router-c', telemetry: 'router-a',
};
/** Across regions: region 1 spreads over router-a and router-b, region 2 has router-c. */
const REGION_HOME_ROUTER: Record<ServiceName, string> = {
  conductor: 'router-a', telemetry: 'router-a', 'compute-1': 'router-b', 'compute-2': 'router-c', 'compute-3': 'router-c',
};
export const HOME_ROUTER = MESH_HOME_ROUTER;

export function homeRouter(topology: Topology, service: ServiceName): string {
  return (topology === 'multi-region' ? REGION_HOME_ROUTER : MESH_HOME_ROUTER)[service];
}

export function brokerUrl(plan: PortPlan, broker = 'broker'): string {
  return `rabbit://guest:guest@127.0.0.1:${broker === 'broker-2' && plan.broker2 ? plan.broker2.amqp : plan.brokerAmqp}/`;
}

export function routerUrl(plan: PortPlan, routers: string[]): string {
  return `amqp://${routers.map((r) => `127.0.0.1:${plan.routers[r].normal}`).join(',')}/`;
}

export function renderOpenstackConf(topology: Topology, plan: PortPlan): string {
  // Across regions this file is region 1's view; each service's own region
  // (its routers, its broker) comes from etc/<service>.conf.
  const routers = topology === 'multi-region' ? REGIONS[0].routers : routersOf(topology);
  const rpc = routers.length ? routerUrl(plan, routers) : brokerUrl(plan);
  const picture = {
    'broker-only': 'RPC and notifications both on the RabbitMQ broker (the "before" picture).',
    hybrid: 'RPC through the router (AMQP 1.0), notifications on the RabbitMQ broker.',
    'hybrid-mesh': 'RPC through a mesh of three routers (AMQP 1.0), notifications on the RabbitMQ broker.',
    'multi-region': 'two regions, each in its own network namespace with its own routers and broker; RPC crosses a WAN link between the router meshes, '
      + 'notifications stay on each region\'s broker.',
  }[topology];
  const meshNote = topology === 'hybrid-mesh'
    ? `#
# Failover: transport_url lists every router. The driver attaches to one
# host and moves round-robin to the next one when its connection is lost.
# (oslo.messaging 14.0.3 picks the first host at random; the lab's services
# start at the first host of their list, to keep the picture predictable.) So that
# the services spread over the mesh, hmlab starts each service with a second
# file, etc/<service>.conf, holding this same URL with its hosts rotated so
# that the service's own router comes first (compute-1: router-a,
# compute-2: router-b, conductor: router-c). That file is rewritten from this
# one at every start: edit this file, never those.
`
    : topology === 'multi-region'
      ? `#
# Two regions. This file holds what every service shares and region 1's
# transports. A service only reaches the routers and the broker of its own
# region (its network namespace has nothing else), so hmlab writes
# etc/<service>.conf at every start: the same URLs for region 1, and for
# region 2 (compute-2, compute-3) router-c and broker-2. Edit this file,
# never those.
`
      : '';
  return `# oslo.messaging configuration of every OpenStack service in this lab.
# Written by "hmlab up --topology ${topology}": ${picture}
# Edit it, then "hmlab restart services" for the services to pick it up.
#
# Two transports:
#   RPC:           [DEFAULT] transport_url
#   Notifications: [oslo_messaging_notifications] transport_url
#                  (unset: notifications use the RPC transport)
# amqp:// selects the AMQP 1.0 driver (routers), rabbit:// the RabbitMQ driver.
# Several hosts: scheme://host1:port1,host2:port2/
${meshNote}
[DEFAULT]
transport_url = ${rpc}
control_exchange = openstack
# Threads that run incoming calls and notifications. A lab service gets a few
# messages a second; oslo.messaging's default, 64, only adds idle threads that
# each wake every second.
executor_thread_pool_size = 8

[oslo_messaging_notifications]
# No driver, no notifications: messagingv2 sends them on the transport below.
driver = messagingv2
transport_url = ${brokerUrl(plan)}
topics = notifications
retry = 2

[oslo_messaging_amqp]
# The AMQP 1.0 driver. dynamic: routable addresses when the peer's Open
# names a product other than qpid-cpp (routers), legacy ones otherwise.
addressing_mode = dynamic
rpc_address_prefix = openstack.org/om/rpc
notify_address_prefix = openstack.org/om/notify
# Failover: wait 1 s, then twice as long after each failed attempt, at most 30 s.
connection_retry_interval = 1
connection_retry_backoff = 2
connection_retry_interval_max = 30
default_reply_timeout = 30
default_send_timeout = 30
default_notify_timeout = 30

[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 60
rabbit_retry_interval = 1
amqp_durable_queues = false
`;
}

/** Address prefixes and distributions OpenStack's AMQP 1.0 driver needs (routable and legacy). */
export const OPENSTACK_ADDRESSES: { prefix: string; distribution: 'multicast' | 'closest' | 'balanced' }[] = [
  { prefix: 'openstack.org/om/rpc/multicast', distribution: 'multicast' },
  { prefix: 'openstack.org/om/rpc/unicast', distribution: 'closest' },
  { prefix: 'openstack.org/om/rpc/anycast', distribution: 'balanced' },
  { prefix: 'openstack.org/om/notify/multicast', distribution: 'multicast' },
  { prefix: 'openstack.org/om/notify/unicast', distribution: 'closest' },
  { prefix: 'openstack.org/om/notify/anycast', distribution: 'balanced' },
  { prefix: 'unicast', distribution: 'closest' },
  { prefix: 'exclusive', distribution: 'closest' },
  { prefix: 'broadcast', distribution: 'multicast' },
];

function section(name: string, entries: [string, string | number][]): string {
  return `${name} {\n${entries.map(([k, v]) => `    ${k}: ${v}`).join('\n')}\n}\n`;
}

/** qdrouterd.conf for one router of the topology (also read by the embedded router). */
export function renderRouterConf(name: string, topology: Topology, plan: PortPlan, opts: { wanCost?: number } = {}): string {
  if (topology === 'multi-region') return renderRegionRouterConf(name, plan, opts.wanCost ?? DEFAULT_WAN_COST);
  const mesh = topology === 'hybrid-mesh';
  const ports = plan.routers[name];
  const parts: string[] = [];
  parts.push(`# ${name}: ${mesh ? 'interior router of a full mesh of three' : 'a standalone router'} for oslo.messaging RPC.
# Written by "hmlab up --topology ${topology}". Clients attach on the normal
# listener${mesh ? '; routers join each other on inter-router listeners and connectors' : ''}.
`);
  parts.push(section('router', [['mode', mesh ? 'interior' : 'standalone'], ['id', name]]));
  parts.push(section('listener', [
    ['host', '127.0.0.1'], ['port', ports.normal], ['role', 'normal'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS'],
  ]));
  if (mesh) {
    // Full mesh: router-a and router-b listen; b connects to a, c to a and b.
    if (name === 'router-a' || name === 'router-b') {
      parts.push(section('listener', [
        ['host', '127.0.0.1'], ['port', ports.interRouter], ['role', 'inter-router'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS'],
      ]));
    }
    const peers = name === 'router-b' ? ['router-a'] : name === 'router-c' ? ['router-a', 'router-b'] : [];
    for (const peer of peers) {
      parts.push(section('connector', [
        ['name', `to-${peer}`], ['host', '127.0.0.1'], ['port', plan.routers[peer].interRouter],
        ['role', 'inter-router'], ['cost', 1], ['saslMechanisms', 'ANONYMOUS'],
      ]));
    }
  }
  return finishRouterConf(parts);
}

function finishRouterConf(parts: string[]): string {
  parts.push('# OpenStack address prefixes: fanout and notifications to every\n# subscriber, calls to one server by name, topic calls balanced.\n');
  for (const a of OPENSTACK_ADDRESSES) parts.push(section('address', [['prefix', a.prefix], ['distribution', a.distribution]]));
  parts.push(section('log', [['module', 'DEFAULT'], ['enable', 'info+'], ['includeSource', 'false']]));
  return parts.join('\n');
}

/** Inter-router cost of each WAN connector unless `hmlab up --wan-cost` says otherwise. */
export const DEFAULT_WAN_COST = 10;

/**
 * Region 1: router-a and router-b, joined at cost 1. Region 2: router-c,
 * which joins both of them across the WAN at `wanCost`: the mesh weighs a
 * path through the WAN as that many local hops.
 */
function renderRegionRouterConf(name: string, plan: PortPlan, wanCost: number): string {
  const ports = plan.routers[name];
  const region = REGIONS.find((r) => r.routers.includes(name))?.name ?? 'region-1';
  const parts: string[] = [`# ${name}: interior router of ${region} in a two-region mesh, for oslo.messaging RPC.
# Written by "hmlab up --topology multi-region". Region 1 has router-a and
# router-b; region 2 has router-c, which joins both across the WAN link (a
# relay the lab controls: "hmlab wan"). The connectors across the WAN carry
# cost ${wanCost}; inside a region the cost is 1.
`];
  parts.push(section('router', [['mode', 'interior'], ['id', name]]));
  parts.push(section('listener', [
    ['host', '127.0.0.1'], ['port', ports.normal], ['role', 'normal'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS'],
  ]));
  if (name === 'router-a' || name === 'router-b') {
    parts.push(section('listener', [
      ['host', '127.0.0.1'], ['port', ports.interRouter], ['role', 'inter-router'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS'],
    ]));
  }
  if (name === 'router-b') {
    parts.push(section('connector', [
      ['name', 'to-router-a'], ['host', '127.0.0.1'], ['port', plan.routers['router-a'].interRouter],
      ['role', 'inter-router'], ['cost', 1], ['saslMechanisms', 'ANONYMOUS'],
    ]));
  }
  if (name === 'router-c') {
    parts.push('# Across the WAN: in this namespace these ports are the WAN relay, which\n# carries the connection to region 1.\n');
    for (const peer of ['router-a', 'router-b']) {
      parts.push(section('connector', [
        ['name', `wan-to-${peer}`], ['host', '127.0.0.1'], ['port', plan.routers[peer].interRouter],
        ['role', 'inter-router'], ['cost', wanCost], ['saslMechanisms', 'ANONYMOUS'],
      ]));
    }
  }
  return finishRouterConf(parts);
}

/** The regions of the multi-region topology and what runs in each. */
export const REGIONS: { name: string; routers: string[]; broker: string; services: ServiceName[] }[] = [
  { name: 'region-1', routers: ['router-a', 'router-b'], broker: 'broker', services: ['conductor', 'compute-1', 'telemetry'] },
  { name: 'region-2', routers: ['router-c'], broker: 'broker-2', services: ['compute-2', 'compute-3'] },
];

export function regionOf(component: string): string | null {
  return REGIONS.find((r) => r.routers.includes(component) || r.broker === component || (r.services as string[]).includes(component))?.name ?? null;
}

export function renderRabbitConf(plan: PortPlan, broker = 'broker'): string {
  const b2 = broker === 'broker-2' && plan.broker2;
  return `# RabbitMQ node of this lab (written by "hmlab up"): loopback only.
listeners.tcp.default = 127.0.0.1:${b2 ? b2.amqp : plan.brokerAmqp}
management.tcp.port = ${b2 ? b2.management : plan.brokerManagement}
management.tcp.ip = 127.0.0.1
loopback_users = none
collect_statistics_interval = 1000
# the log goes to stdout, which the lab keeps in logs/broker.log
log.console = true
log.console.level = info
log.file = false
`;
}
