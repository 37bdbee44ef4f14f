// Address table: longest configured prefix decides an address's
// distribution, as in qdrouterd (prefixes match whole path segments).
import type { AddressConfig, Distribution } from './config.js';

export const DEFAULT_DISTRIBUTION: Distribution = 'balanced';

/** Addresses owned by one router: amqp:/_topo/0/<router-id>/<rest>. */
export interface TopoAddress { router: string; local: string }

export function parseTopoAddress(address: string): TopoAddress | null {
  const a = address.startsWith('amqp:/') ? address.slice(6) : address;
  const m = /^_topo\/0\/([^/]+)\/(.+)$/.exec(a);
  return m ? { router: m[1], local: m[2] } : null;
}

/** Drop the scheme qdrouterd also ignores when matching prefixes. */
export function normalizeAddress(address: string): string {
  if (address.startsWith('amqp:/')) return address.slice(6).replace(/^\/+/, '');
  return address;
}

export class AddressTable {
  private readonly prefixes: { prefix: string; distribution: Distribution }[];
  private readonly cache = new Map<string, Distribution>();

  constructor(entries: Pick<AddressConfig, 'prefix' | 'distribution'>[]) {
    this.prefixes = entries
      .map((e) => ({ prefix: normalizeAddress(e.prefix).replace(/\/+$/, ''), distribution: e.distribution }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  distribution(address: string): Distribution {
    const hit = this.cache.get(address);
    if (hit) return hit;
    const a = normalizeAddress(address);
    let d = DEFAULT_DISTRIBUTION;
    for (const p of this.prefixes) {
      if (a === p.prefix || a.startsWith(p.prefix + '/') || a.startsWith(p.prefix + '.')) { d = p.distribution; break; }
    }
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(address, d);
    return d;
  }

  get entries(): readonly { prefix: string; distribution: Distribution }[] { return this.prefixes; }
}
