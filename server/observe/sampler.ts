// Keeping the stream readable at 1,000 messages per second: forward at most a
// budget of message events, keep every event of a kept message together (so a
// request and its reply animate as a pair), never drop the rare events that
// tell a story (failures, connections, service start/stop), and let each kept
// event say how many it stands for.
import type { ServiceEvent } from '../../common/wire.js';
import { percentile } from '../../common/stats.js';

export interface SamplerOptions {
  maxPerSecond?: number; // default 200
  windowMs?: number; // budget granularity, default 100
}

const ALWAYS = new Set(['transport.connected', 'transport.lost', 'service.started', 'service.stopping']);

export function alwaysForward(e: ServiceEvent): boolean {
  return ALWAYS.has(e.kind) || e.ok === false;
}

export class MessageSampler {
  private readonly perWindow: number;
  private readonly windowMs: number;
  private windowStart = 0;
  private used = 0;
  private pending = new Map<string, number>(); // kind -> events dropped since the last kept one
  private decisions = new Map<string, boolean>(); // message id -> kept?
  dropped = 0;

  constructor(opts: SamplerOptions = {}) {
    this.windowMs = opts.windowMs ?? 100;
    this.perWindow = Math.max(1, Math.round(((opts.maxPerSecond ?? 200) * this.windowMs) / 1000));
  }

  /** Dropped events not yet accounted for by a later kept one. */
  get pendingCount(): number {
    let n = 0;
    for (const v of this.pending.values()) n += v;
    return n;
  }

  /** null: drop it; a number: forward it, standing for that many events (1 = itself only). */
  offer(e: ServiceEvent, now = Date.now()): number | null {
    if (now - this.windowStart >= this.windowMs) { this.windowStart = now; this.used = 0; }
    let keep: boolean;
    if (alwaysForward(e)) keep = true;
    else if (e.id !== undefined && this.decisions.has(e.id)) keep = this.decisions.get(e.id)!;
    else {
      keep = this.used < this.perWindow;
      if (e.id !== undefined) this.remember(e.id, keep);
    }
    if (!keep) {
      this.pending.set(e.kind, (this.pending.get(e.kind) ?? 0) + 1);
      this.dropped++;
      return null;
    }
    this.used++;
    const extra = this.pending.get(e.kind) ?? 0;
    if (extra) this.pending.delete(e.kind);
    return 1 + extra;
  }

  private remember(id: string, keep: boolean): void {
    this.decisions.set(id, keep);
    // a bounded memory: ids older than a few thousand messages have finished long ago
    if (this.decisions.size > 20000) {
      const it = this.decisions.keys();
      for (let i = 0; i < 10000; i++) this.decisions.delete(it.next().value as string);
    }
  }
}

/** Per-second counts of every event (sampled or not), by kind and by service, plus RPC call latency. */
export class RateCounter {
  private byKind = new Map<string, number>();
  private byService = new Map<string, number>();
  private latencies: number[] = [];
  private total = 0;

  add(e: ServiceEvent): void {
    this.total++;
    this.byKind.set(e.kind, (this.byKind.get(e.kind) ?? 0) + 1);
    if (e.kind === 'rpc.call' && e.ok === false) this.byKind.set('rpc.call.failed', (this.byKind.get('rpc.call.failed') ?? 0) + 1);
    this.byService.set(e.service, (this.byService.get(e.service) ?? 0) + 1);
    if (e.kind === 'rpc.call' && e.ok !== false && typeof e.latencyMs === 'number' && Number.isFinite(e.latencyMs)) {
      if (this.latencies.length < 100000) this.latencies.push(e.latencyMs);
    }
  }

  /** Counts since the last flush, scaled to per second over elapsedMs; resets. */
  flush(elapsedMs: number): {
    perSecond: Record<string, number>; perService: Record<string, number>; latencyMs: { p50: number; p95: number; max: number; n: number } | null;
  } {
    const scale = elapsedMs > 0 ? 1000 / elapsedMs : 1;
    const round = (n: number) => Math.round(n * scale * 10) / 10;
    const perSecond: Record<string, number> = { total: round(this.total) };
    for (const [k, v] of this.byKind) perSecond[k] = round(v);
    const perService: Record<string, number> = {};
    for (const [k, v] of this.byService) perService[k] = round(v);
    const latencyMs = this.latencies.length ? summarize(this.latencies) : null;
    this.byKind.clear(); this.byService.clear(); this.latencies = []; this.total = 0;
    return { perSecond, perService, latencyMs };
  }
}

export function summarize(values: number[]): { p50: number; p95: number; max: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 100) / 100;
  return { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), max: r(s[s.length - 1]), n: s.length };
}
