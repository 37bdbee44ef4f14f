// The configuration files `hmlab up` writes into etc/: openstack.conf for the
// services, one qdrouterd.conf per router, rabbitmq.conf for the broker.
// Written once per `up`; the labs teach editing them afterwards.
import type { Topology } from '../../widgets/api/wire.js';
import type { PortPlan } from './types.js';

export const SERVICES = ['compute-1', 'compute-2', 'conductor', 'telemetry'] as const;
export type ServiceName = (typeof SERVICES)[number];
export const SERVICE_ROLE: Record<ServiceName, 'compute' | 'conductor' | 'telemetry'> = {
  'compute-1': 'compute', 'compute-2': 'compute', conductor: 'conductor', telemetry: 'telemetry',
};

export function routersOf(topology: Topology): string[] {
  if (topology === 'hybrid') return ['router-a'];
  if (topology === 'hybrid-mesh') return ['router-a', 'router-b', 'router-c'];
  return [];
}

/** In the mesh each service attaches to its own router first. */
export const HOME_ROUTER: Record<ServiceName, string> = {
  'compute-1': 'router-a', 'compute-2': 'router-b', conductor: 'router-c', telemetry: 'router-a',
};

export function brokerUrl(plan: PortPlan): string {
  return `rabbit://guest:guest@127.0.0.1:${plan.brokerAmqp}/`;
}

export function routerUrl(plan: PortPlan, routers: string[]): string {
  return `amqp://${routers.map((r) => `127.0.0.1:${plan.routers[r].normal}`).join(',')}/`;
}

export function renderOpenstackConf(topology: Topology, plan: PortPlan): string {
  const routers = routersOf(topology);
  const rpc = routers.length ? routerUrl(plan, routers) : brokerUrl(plan);
  const picture = {
    'broker-only': 'RPC and notifications both on the RabbitMQ broker (the "before" picture).',
    hybrid: 'RPC through the router (AMQP 1.0), notifications on the RabbitMQ broker.',
    'hybrid-mesh': 'RPC through a mesh of three routers (AMQP 1.0), notifications on the RabbitMQ broker.',
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
export function renderRouterConf(name: string, topology: Topology, plan: PortPlan): string {
  const mesh = topology === 'hybrid-mesh';
  const ports = plan.routers[name];
  const parts: string[] = [];
  parts.push(`# ${name}: ${mesh ? 'interior router of a full mesh of three' : 'a standalone router'} for oslo.messaging RPC.
# Written by "hmlab up --topology ${topology}". Clients attach on the normal
# listener${mesh ? '; routers join each other on inter-router listeners and connectors' : ''}.
`);
  parts.push(section('router', [['mode', mesh ? 'interior' : 'standalone'], ['id', name]]));
  parts.push(section('listener', [['host', '127.0.0.1'], ['port', ports.normal], ['role', 'normal'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS']]));
  if (mesh) {
    // Full mesh: router-a and router-b listen; b connects to a, c to a and b.
    if (name === 'router-a' || name === 'router-b') {
      parts.push(section('listener', [['host', '127.0.0.1'], ['port', ports.interRouter], ['role', 'inter-router'], ['authenticatePeer', 'no'], ['saslMechanisms', 'ANONYMOUS']]));
    }
    const peers = name === 'router-b' ? ['router-a'] : name === 'router-c' ? ['router-a', 'router-b'] : [];
    for (const peer of peers) {
      parts.push(section('connector', [['name', `to-${peer}`], ['host', '127.0.0.1'], ['port', plan.routers[peer].interRouter], ['role', 'inter-router'], ['cost', 1], ['saslMechanisms', 'ANONYMOUS']]));
    }
  }
  parts.push('# OpenStack address prefixes: fanout and notifications to every\n# subscriber, calls to one server by name, topic calls balanced.\n');
  for (const a of OPENSTACK_ADDRESSES) parts.push(section('address', [['prefix', a.prefix], ['distribution', a.distribution]]));
  parts.push(section('log', [['module', 'DEFAULT'], ['enable', 'info+'], ['includeSource', 'false']]));
  return parts.join('\n');
}

export function renderRabbitConf(plan: PortPlan): string {
  return `# RabbitMQ node of this lab (written by "hmlab up"): loopback only.
listeners.tcp.default = 127.0.0.1:${plan.brokerAmqp}
management.tcp.port = ${plan.brokerManagement}
management.tcp.ip = 127.0.0.1
loopback_users = none
collect_statistics_interval = 1000
# the log goes to stdout, which the lab keeps in logs/broker.log
log.console = true
log.console.level = info
log.file = false
`;
}
