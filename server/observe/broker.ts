// Broker observer, one per broker of the lab: RabbitMQ's management HTTP API once a second (queues with
// depth, publish/deliver rates and consumers; connections). The broker being
// down is a normal state of the lab, not an error: we simply try again.
import type { BrokerSnapshot } from '../../common/wire.js';

type Json = Record<string, unknown>;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const rateOf = (stats: unknown, key: string): number => {
  const d = (stats as Json | undefined)?.[key] as Json | undefined;
  return Math.round(num(d?.rate) * 10) / 10;
};

export function buildBrokerSnapshot(broker: string, queues: unknown, connections: unknown): BrokerSnapshot {
  const qs = Array.isArray(queues) ? (queues as Json[]) : [];
  const cs = Array.isArray(connections) ? (connections as Json[]) : [];
  return {
    broker,
    queues: qs.map((q) => ({
      name: String(q.name ?? ''),
      vhost: String(q.vhost ?? '/'),
      messages: num(q.messages),
      consumers: num(q.consumers),
      publishRate: rateOf(q.message_stats, 'publish_details'),
      deliverRate: rateOf(q.message_stats, 'deliver_get_details'),
      durable: q.durable === true,
    })).sort((a, b) => a.name.localeCompare(b.name)),
    connections: cs.map((c) => {
      const props = (c.client_properties ?? {}) as Json;
      const client = typeof props.connection_name === 'string' ? props.connection_name : typeof props.product === 'string' ? props.product : null;
      return { name: String(c.name ?? ''), client, channels: num(c.channels) };
    }),
  };
}

export class BrokerPoller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private inFlight: AbortController | null = null;
  polls = 0;
  lastError: string | null = null;

  constructor(
    readonly name: string,
    readonly managementUrl: string,
    private readonly emit: (s: BrokerSnapshot) => void,
    private readonly intervalMs = 1000,
    private readonly credentials = 'guest:guest',
  ) {}

  start(): void { this.schedule(0); }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => { void this.turn(); }, ms);
  }

  private async get(path: string, signal: AbortSignal): Promise<unknown> {
    const res = await fetch(new URL(path, this.managementUrl), {
      headers: { authorization: `Basic ${Buffer.from(this.credentials).toString('base64')}` },
      signal,
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  private async turn(): Promise<void> {
    const began = Date.now();
    const ac = new AbortController();
    this.inFlight = ac;
    const timer = setTimeout(() => ac.abort(), Math.max(500, this.intervalMs - 100));
    try {
      const [queues, connections] = await Promise.all([this.get('/api/queues', ac.signal), this.get('/api/connections', ac.signal)]);
      if (!this.stopped) {
        this.polls++;
        this.lastError = null;
        this.emit(buildBrokerSnapshot(this.name, queues, connections));
      }
    } catch (err) {
      this.lastError = (err as Error)?.message ?? String(err);
    } finally {
      clearTimeout(timer);
      this.inFlight = null;
    }
    this.schedule(Math.max(100, this.intervalMs - (Date.now() - began)));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.inFlight?.abort();
  }
}
