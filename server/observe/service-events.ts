// The services' own account of every call, cast, fanout, reply and
// notification (JSON lines under <home>/events/), turned into `message`
// events (sampled when busy), `rates` once a second, and `failover` when a
// service's RPC connection comes back on a different router.
import { z } from 'zod';
import type { ComponentStatus, LabEvent, ServiceEvent } from '../../common/wire.js';
import { endpointKey } from '../../common/endpoint.js';
import { DirectoryTail } from './tail.js';
import { MessageSampler, RateCounter } from './sampler.js';

const KINDS = ['rpc.call', 'rpc.cast', 'rpc.fanout', 'rpc.request', 'rpc.reply', 'notify.sent', 'notify.received',
  'transport.connected', 'transport.lost', 'service.started', 'service.stopping'] as const;

const optStr = z.string().nullish().transform((v) => v ?? undefined);
export const serviceEventSchema = z.object({
  t: z.number().finite(),
  service: z.string().min(1),
  kind: z.enum(KINDS),
  id: z.union([z.string(), z.number()]).nullish().transform((v) => (v === null || v === undefined ? undefined : String(v))),
  method: optStr,
  target: z.object({
    topic: optStr,
    server: z.string().nullish(),
    fanout: z.boolean().nullish().transform((v) => v ?? undefined),
    exchange: z.string().nullish(),
  }).nullish().transform((v) => v ?? undefined),
  ok: z.boolean().nullish().transform((v) => v ?? undefined),
  error: optStr,
  latencyMs: z.number().finite().nullish().transform((v) => v ?? undefined),
  answeredBy: optStr,
  transport: optStr,
  priority: optStr,
  publisher: optStr,
});

/** Parse one line; null (with the reason) when it is not a service event. */
export function parseServiceEvent(line: string): { event: ServiceEvent } | { error: string } {
  let raw: unknown;
  try { raw = JSON.parse(line); } catch { return { error: 'not JSON' }; }
  const r = serviceEventSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    return { error: `${i?.path.join('.') || 'line'}: ${i?.message ?? 'invalid'}` };
  }
  const e = r.data;
  // drop undefined keys so the wire stays compact
  return { event: JSON.parse(JSON.stringify(e)) as ServiceEvent };
}

/**
 * Which component a connection went to, and whether that differs from where
 * the service's connection of the same kind (router or broker) was before.
 */
export class FailoverTracker {
  private last = new Map<string, string>(); // service|kind -> component name or endpoint
  private byEndpoint = new Map<string, { name: string; kind: string }>();
  private lostSince = new Set<string>(); // service|kind whose connection was lost and not yet back

  setComponents(components: ComponentStatus[]): void {
    this.byEndpoint.clear();
    for (const c of components) {
      const k = endpointKey(c.endpoint);
      if (k) this.byEndpoint.set(k, { name: c.name, kind: c.kind });
    }
    // A service that is not running (stopped, or starting afresh, as after
    // "hmlab down; hmlab up") attaches anew: where it was is no failover's origin.
    for (const c of components) if (c.kind === 'service' && c.state !== 'running') this.forget(c.name);
    // Where each service's RPC connection is now, as the lab reports it: the
    // connection events that told us happened before we started watching.
    for (const c of components) {
      const at = this.byEndpoint.get(endpointKey(c.connectedTo) ?? '');
      if (c.kind !== 'service' || !at) continue;
      const key = `${c.name}|${at.kind}`;
      if (!this.last.has(key)) this.last.set(key, at.name);
    }
  }

  private where(e: ServiceEvent): { ep: string; key: string; name: string } | null {
    const ep = endpointKey(e.transport);
    if (!ep) return null;
    const comp = this.byEndpoint.get(ep);
    return { ep, key: `${e.service}|${comp?.kind ?? 'unknown'}`, name: comp?.name ?? ep };
  }

  /** Forgets every connection: after a pause in watching, where services are is read afresh. */
  clear(): void {
    this.last.clear();
    this.lostSince.clear();
  }

  /** A service stopping on purpose: its next connection is a fresh start, not a failover. */
  forget(service: string): void {
    for (const k of [...this.last.keys()]) if (k.startsWith(`${service}|`)) this.last.delete(k);
    for (const k of [...this.lostSince]) if (k.startsWith(`${service}|`)) this.lostSince.delete(k);
  }

  /** A connection went away: the next connection of the same kind elsewhere is a failover. */
  lost(e: ServiceEvent): void {
    const w = this.where(e);
    if (w) this.lostSince.add(w.key);
  }

  /**
   * The failover this connection means, if any: only after a lost connection,
   * so a service restarted onto another router is not mistaken for one.
   */
  connected(e: ServiceEvent): { from: string; to: string; endpoint: string } | null {
    const w = this.where(e);
    if (!w) return null;
    const from = this.last.get(w.key);
    const wasLost = this.lostSince.delete(w.key);
    this.last.set(w.key, w.name);
    return wasLost && from !== undefined && from !== w.name ? { from, to: w.name, endpoint: w.ep } : null;
  }
}

export interface ServiceEventObserverOptions {
  maxMessagesPerSecond?: number;
  ratesIntervalMs?: number; // default 1000
  pollMs?: number;
  fromStart?: boolean;
}

export class ServiceEventObserver {
  private tail: DirectoryTail;
  private sampler: MessageSampler;
  private rates = new RateCounter();
  readonly failovers = new FailoverTracker();
  private ratesTimer: NodeJS.Timeout | null = null;
  private lastRates = Date.now();
  private badLines = 0;
  private lastBadReport = 0;
  received = 0;

  constructor(eventsDir: string, private readonly emit: (e: LabEvent) => void, private readonly opts: ServiceEventObserverOptions = {}) {
    this.sampler = new MessageSampler({ maxPerSecond: opts.maxMessagesPerSecond ?? 200 });
    this.tail = new DirectoryTail(eventsDir, (file, line) => this.onLine(file, line), { pollMs: opts.pollMs, fromStart: opts.fromStart });
  }

  start(): void {
    this.tail.start();
    this.lastRates = Date.now();
    this.ratesTimer = setInterval(() => this.flushRates(), this.opts.ratesIntervalMs ?? 1000);
    this.ratesTimer.unref?.();
  }

  stop(): void {
    this.tail.stop();
    if (this.ratesTimer) clearInterval(this.ratesTimer);
    this.ratesTimer = null;
  }

  /** Read what is new right away (tests). */
  scan(): void { this.tail.scan(); }

  flushRates(): void {
    const now = Date.now();
    const r = this.rates.flush(now - this.lastRates);
    this.lastRates = now;
    this.emit({ type: 'rates', t: now, perSecond: r.perSecond, perService: r.perService, latencyMs: r.latencyMs });
  }

  private onLine(file: string, line: string): void {
    const parsed = parseServiceEvent(line);
    if ('error' in parsed) {
      this.badLines++;
      const now = Date.now();
      // say it once in a while, not once per line
      if (now - this.lastBadReport > 10000) {
        this.lastBadReport = now;
        this.emit({ type: 'error', t: now, message: `events/${file}: skipped a line that is not a service event (${parsed.error}); ${this.badLines} so far` });
      }
      return;
    }
    const e = parsed.event;
    this.received++;
    this.rates.add(e);
    const now = Date.now();
    if (e.kind === 'transport.lost') this.failovers.lost(e);
    if (e.kind === 'service.stopping') this.failovers.forget(e.service);
    if (e.kind === 'transport.connected') {
      const f = this.failovers.connected(e);
      if (f) this.emit({ type: 'failover', t: now, service: e.service, from: f.from, to: f.to, endpoint: f.endpoint });
    }
    const weight = this.sampler.offer(e, now);
    if (weight === null) return;
    this.emit(weight > 1 ? { type: 'message', t: now, event: e, sampled: weight } : { type: 'message', t: now, event: e });
  }
}
