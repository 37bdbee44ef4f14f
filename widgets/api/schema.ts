// Schemas for what the browser receives: WebSocket frames from the lab server
// and recording files (which may come from anywhere; their header's schema is
// common/recording.ts). Validated at the edge so
// a malformed event is reported by field and dropped, never drawn half-way.
// Objects are loose: a newer server may add fields, an older widget ignores them.
import { z } from 'zod';
import type { LabEvent, LabStatus } from '../../common/wire.js';
import { topologySchema } from '../../common/rules.js';

const num = z.number();
const str = z.string();
const nstr = z.string().nullable();

const componentState = z.enum(['starting', 'running', 'stopped', 'failed']);

const componentStatus = z.looseObject({
  name: str,
  kind: z.enum(['broker', 'router', 'service']),
  state: componentState,
  pid: num.nullable(),
  endpoint: nstr,
  management: nstr.optional(),
  product: nstr,
  startedAt: num.nullable().optional(),
  detail: nstr.optional(),
  transport: z.looseObject({ rpc: nstr.optional(), notify: nstr.optional() }).nullable().optional(),
  connectedTo: nstr.optional(),
  region: nstr.optional(),
});

const wanStatus = z.looseObject({
  delayMs: num, jitterMs: num, rateBitsPerS: num.nullable(), state: z.enum(['up', 'cut']), changedAt: num, cost: num,
  cutMode: z.enum(['close', 'silent']).optional(),
  regions: z.array(z.looseObject({ name: str, namespace: str, components: z.array(str) })),
  relays: z.array(z.looseObject({ name: str, pid: num.nullable(), running: z.boolean() })),
  lastPartition: z.looseObject({
    cutAt: num, healedAt: num.nullable(),
    firstSuccess: z.looseObject({ t: num, server: str, latencyMs: num, topic: z.boolean() }).nullable(),
  }).nullable().optional(),
});

const counters = z.looseObject({
  rpcCalls: z.looseObject({ ok: num, failed: num }),
  rpcCasts: z.looseObject({ sent: num }),
  fanouts: z.looseObject({ sent: num }),
  notifications: z.looseObject({ sent: num, received: num }),
});

export const labStatusSchema = z.looseObject({
  home: str,
  topology: topologySchema().nullable(),
  router: z.enum(['embedded', 'qdrouterd']).nullable(),
  transports: z.looseObject({ rpc: nstr, notify: nstr }),
  components: z.array(componentStatus),
  traffic: counters,
  trafficRate: num.optional(),
  wan: wanStatus.nullable().optional(),
});

const serviceEvent = z.looseObject({
  t: num,
  service: str,
  kind: z.enum([
    'rpc.call', 'rpc.cast', 'rpc.fanout', 'rpc.request', 'rpc.reply',
    'notify.sent', 'notify.received', 'transport.connected', 'transport.lost',
    'service.started', 'service.stopping',
  ]),
  id: str.optional(),
  method: str.optional(),
  target: z.looseObject({
    topic: str.optional(),
    server: nstr.optional(),
    fanout: z.boolean().optional(),
    exchange: nstr.optional(),
  }).optional(),
  ok: z.boolean().optional(),
  error: str.optional(),
  latencyMs: num.optional(),
  answeredBy: str.optional(),
  transport: str.optional(),
  priority: str.optional(),
  publisher: str.optional(),
});

const routerSnapshot = z.looseObject({
  router: str,
  id: str,
  product: str,
  nodes: z.array(z.looseObject({ id: str, nextHop: nstr, cost: num.nullable() })),
  connections: z.array(z.looseObject({ container: str, host: str, role: str, dir: str })),
  addresses: z.array(z.looseObject({
    address: str, distribution: str, subscribers: num, remotes: num,
    deliveriesIn: num, deliveriesOut: num, rate: num,
  })),
  links: z.array(z.looseObject({
    address: nstr, dir: z.enum(['in', 'out']), deliveries: num, unsettled: num,
    undelivered: num, connection: str, rate: num,
  })),
  deliveries: z.looseObject({ in: num, out: num, transit: num }),
});

const brokerSnapshot = z.looseObject({
  broker: str.optional(),
  queues: z.array(z.looseObject({
    name: str, vhost: str, messages: num, consumers: num,
    publishRate: num, deliverRate: num, durable: z.boolean(),
  })),
  connections: z.array(z.looseObject({ name: str, client: nstr, channels: num })),
});

export const labEventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('hello'), t: num, status: labStatusSchema, replay: z.boolean().optional() }),
  z.looseObject({ type: z.literal('status'), t: num, status: labStatusSchema }),
  z.looseObject({ type: z.literal('component'), t: num, name: str, state: componentState, pid: num.nullable(), detail: nstr.optional() }),
  z.looseObject({ type: z.literal('router'), t: num, snapshot: routerSnapshot }),
  z.looseObject({ type: z.literal('broker'), t: num, snapshot: brokerSnapshot }),
  z.looseObject({ type: z.literal('message'), t: num, event: serviceEvent, sampled: num.optional() }),
  z.looseObject({ type: z.literal('rates'), t: num, perSecond: z.record(str, num) }),
  z.looseObject({ type: z.literal('failover'), t: num, service: str, from: nstr, to: str }),
  z.looseObject({ type: z.literal('progress'), t: num, component: str, message: str, elapsedMs: num }),
  z.looseObject({ type: z.literal('error'), t: num, message: str }),
]);

// Compile-time guard: what the schemas accept is what wire.ts promises.
const _statusFits = (x: z.infer<typeof labStatusSchema>): LabStatus => x;
const _eventFits = (x: z.infer<typeof labEventSchema>): LabEvent => x;
void _statusFits; void _eventFits;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validate one event; the error names the offending field. */
export function parseLabEvent(raw: unknown): ParseResult<LabEvent> {
  const r = labEventSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data as LabEvent };
  return { ok: false, error: describeIssue(r.error) };
}

export function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid value';
  const field = issue.path.length ? issue.path.join('.') : '(root)';
  return `"${field}": ${issue.message}`;
}
