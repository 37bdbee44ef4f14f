// The event bus: every observer publishes LabEvents here; the WebSocket
// stream, the recorder and the CLI subscribe. It also keeps the latest state
// (status, one snapshot per router and per broker) so a client that joins late
// can draw the whole picture at once instead of waiting for the next poll.
import type { BrokerSnapshot, LabEvent, LabStatus, RouterSnapshot } from '../../common/wire.js';

export type LabEventListener = (e: LabEvent) => void;

export class EventBus {
  private listeners = new Set<LabEventListener>();
  status: LabStatus | null = null;
  readonly routers = new Map<string, RouterSnapshot>();
  /** Keyed by broker name ('' for a snapshot that names none). */
  readonly brokers = new Map<string, BrokerSnapshot>();

  private watchedListeners = new Set<(watched: boolean) => void>();

  subscribe(fn: LabEventListener): () => void {
    this.listeners.add(fn);
    if (this.listeners.size === 1) for (const w of this.watchedListeners) w(true);
    return () => {
      if (this.listeners.delete(fn) && this.listeners.size === 0) for (const w of this.watchedListeners) w(false);
    };
  }

  /** Told true when the first subscriber comes and false when the last one leaves: observers run only while someone watches. */
  onWatched(fn: (watched: boolean) => void): () => void {
    this.watchedListeners.add(fn);
    return () => { this.watchedListeners.delete(fn); };
  }

  /** Drops the latest state: once nobody watches it goes stale, and a newcomer must not be shown it. */
  forget(): void {
    this.status = null;
    this.routers.clear();
    this.brokers.clear();
  }

  publish(e: LabEvent): void {
    switch (e.type) {
      case 'hello':
      case 'status':
        this.status = e.status;
        // a router that left the lab must not linger in the late-joiner state
        for (const name of this.routers.keys()) {
          if (!e.status.components.some((c) => c.name === name && c.kind === 'router')) this.routers.delete(name);
        }
        for (const name of this.brokers.keys()) {
          if (!e.status.components.some((c) => c.name === name && c.kind === 'broker')) this.brokers.delete(name);
        }
        break;
      case 'router': this.routers.set(e.snapshot.router, e.snapshot); break;
      case 'broker': this.brokers.set(e.snapshot.broker ?? '', e.snapshot); break;
      case 'component':
        if (e.state !== 'running') this.routers.delete(e.name);
        break;
    }
    for (const fn of this.listeners) {
      // one misbehaving subscriber (a closed socket, a full disk) must not starve the others
      try { fn(e); } catch { /* subscriber's problem */ }
    }
  }

  /** What a newcomer needs first: the latest status and snapshots, as events. */
  snapshot(t = Date.now()): LabEvent[] {
    const out: LabEvent[] = [];
    for (const s of this.routers.values()) out.push({ type: 'router', t, snapshot: s });
    for (const s of this.brokers.values()) out.push({ type: 'broker', t, snapshot: s });
    return out;
  }

  get size(): number { return this.listeners.size; }
}
