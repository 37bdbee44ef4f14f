// The router's addresses: one entry per address in use, with its local
// consumers and producers, deliveries waiting for credit, and counters.
// Distribution comes from the configured prefixes (address-table.ts);
// consumers on other routers come from the link-state database.
import { parseTopoAddress, type AddressTable } from './address-table.js';
import type { LinkStateDb } from './mesh.js';
import type { AddressEntry } from './types.js';

export class Addresses {
  readonly entries = new Map<string, AddressEntry>();

  constructor(private readonly routerId: string, private readonly table: AddressTable, private readonly db: LinkStateDb) {}

  entry(key: string): AddressEntry {
    let e = this.entries.get(key);
    if (!e) {
      e = this.blankEntry(key);
      this.entries.set(key, e);
    }
    return e;
  }

  get(key: string): AddressEntry | undefined {
    return this.entries.get(key);
  }

  blankEntry(key: string): AddressEntry {
    return {
      key, distribution: this.table.distribution(key), consumers: [], producers: new Set(), queue: [], rr: 0,
      deliveriesIngress: 0, deliveriesEgress: 0, deliveriesTransit: 0, deliveriesToContainer: 0, deliveriesFromContainer: 0,
    };
  }

  /** Forget an entry nothing refers to any more. */
  gc(key: string | null): void {
    if (!key || key === '$management') return; // the agent's address keeps its counters, as in qdrouterd
    const e = this.entries.get(key);
    if (e && e.consumers.length === 0 && e.producers.size === 0 && e.queue.length === 0 && !this.db.remoteConsumers(key).size) this.entries.delete(key);
  }

  /** Is there a consumer anywhere in the mesh for this address? */
  reachable(key: string | null): boolean {
    if (key === null || key === '$management') return true;
    const topo = parseTopoAddress(key);
    if (topo) {
      if (topo.router !== this.routerId) return this.db.routes.has(topo.router);
      return topo.local === '$management' || (this.entries.get(key)?.consumers.length ?? 0) > 0;
    }
    if ((this.entries.get(key)?.consumers.length ?? 0) > 0) return true;
    return this.db.remoteConsumers(key).size > 0;
  }

  /** Addresses with local consumers, for this router's link-state advertisement. */
  advertised(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries.values()) {
      if (e.consumers.length && !parseTopoAddress(e.key) && e.key !== '$management') out[e.key] = e.consumers.length;
    }
    return out;
  }
}
