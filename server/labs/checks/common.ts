// Small readers shared by the checks: RabbitMQ queues, transport URLs,
// service events. Each returns plain numbers a hint can quote.
import type { LabStatus, ServiceEvent } from '../../../common/wire.js';
import { componentAt } from '../../../common/endpoint.js';
import { percentile } from '../../../common/stats.js';
import type { CheckContext, CheckResult } from './context.js';

export interface RabbitQueue {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete?: boolean;
  messages?: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  message_stats?: { publish?: number; deliver_get?: number; ack?: number };
}

export interface RabbitExchange { name: string; vhost: string; durable: boolean; type: string }

export const pass = (hint: string, data?: Record<string, unknown>): CheckResult => ({ pass: true, hint, ...(data ? { data } : {}) });
export const fail = (hint: string, data?: Record<string, unknown>): CheckResult => ({ pass: false, hint, ...(data ? { data } : {}) });

export async function queues(ctx: CheckContext): Promise<RabbitQueue[]> {
  return (await ctx.rabbit<RabbitQueue[]>('/api/queues')) ?? [];
}

export const NOTIFY_QUEUE = 'notifications.info';

export function scheme(url: string | null | undefined): 'amqp' | 'rabbit' | null {
  if (!url) return null;
  const m = /^([a-z0-9+]+):\/\//i.exec(url.trim());
  if (!m) return null;
  const s = m[1].toLowerCase();
  return s === 'amqp' ? 'amqp' : s === 'rabbit' ? 'rabbit' : null;
}

export const COMPUTES = ['compute-1', 'compute-2'];

/** Names of the lab's routers, whatever their state. */
export function routerNames(st: LabStatus): string[] {
  return st.components.filter((c) => c.kind === 'router').map((c) => c.name);
}

export function runningRouters(st: LabStatus): string[] {
  return st.components.filter((c) => c.kind === 'router' && c.state === 'running').map((c) => c.name);
}

export function calls(events: ServiceEvent[]): { ok: ServiceEvent[]; failed: ServiceEvent[] } {
  const c = events.filter((e) => e.kind === 'rpc.call');
  return { ok: c.filter((e) => e.ok !== false), failed: c.filter((e) => e.ok === false) };
}

/** Count, mean and percentiles (common/stats.ts's nearest rank) of latencies; zeros when there are none. */
export function stats(values: number[]): { count: number; mean: number; p50: number; p95: number; min: number; max: number } {
  const v = [...values].sort((a, b) => a - b);
  const q = (p: number) => v.length ? percentile(v, p) : 0;
  const mean = v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
  return { count: v.length, mean, p50: q(50), p95: q(95), min: v[0] ?? 0, max: v[v.length - 1] ?? 0 };
}

export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export function stoppedList(st: LabStatus, names: readonly string[]): string[] {
  return names.filter((n) => st.components.find((c) => c.name === n)?.state !== 'running');
}

/** Which kind of backend an event's transport (URL or host:port) points at, by the lab's own endpoints. */
export function transportKind(st: LabStatus, transport: string | null | undefined): 'router' | 'broker' | null {
  if (!transport) return null;
  const kind = componentAt(st.components, transport)?.kind;
  if (kind === 'router' || kind === 'broker') return kind;
  const sc = scheme(transport);
  return sc === 'rabbit' ? 'broker' : null;
}
