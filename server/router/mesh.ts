// Link-state routing for the interior mesh: each router floods a small
// advertisement (its neighbours with costs, and the addresses it has
// consumers for); every router runs Dijkstra over the advertisements it
// holds to find, per router, the next hop and the total cost.

export interface LinkStateAd {
  origin: string;
  instance: number; // start time of the origin: a restarted router's ads win over stale ones
  seq: number;
  neighbors: Record<string, number>; // router id -> link cost
  addresses: Record<string, number>; // address -> local consumer count
}

export interface Route { id: string; nextHop: string; cost: number }

export function newer(a: LinkStateAd, b: LinkStateAd | undefined): boolean {
  if (!b) return true;
  if (a.instance !== b.instance) return a.instance > b.instance;
  return a.seq > b.seq;
}

export class LinkStateDb {
  readonly ads = new Map<string, LinkStateAd>();
  routes = new Map<string, Route>(); // reachable routers other than self
  lastTopoChange = Date.now();
  /** Each reachable router's index (qdrouterd's mask bit): handed out in the
   *  order routers are discovered, the lowest free one first; 0 is this router.
   *  Balanced distribution breaks ties by it, as qdrouterd does. */
  readonly index = new Map<string, number>();

  constructor(readonly self: string) {}

  /** Store an advertisement; true if it was new information. */
  offer(ad: LinkStateAd): boolean {
    if (ad.origin === this.self) return false;
    if (!newer(ad, this.ads.get(ad.origin))) return false;
    this.ads.set(ad.origin, ad);
    return true;
  }

  /** Recompute routes from our own neighbours and the stored ads. Only links
   *  both ends advertise count, so a dead router's stale ad cannot attract traffic. */
  compute(ownNeighbors: Record<string, number>): boolean {
    const neighborsOf = (id: string): Record<string, number> => (id === this.self ? ownNeighbors : this.ads.get(id)?.neighbors ?? {});
    const dist = new Map<string, number>([[this.self, 0]]);
    const first = new Map<string, string>();
    const done = new Set<string>();
    for (;;) {
      let u: string | null = null;
      let best = Infinity;
      for (const [id, d] of dist) {
        if (!done.has(id) && (d < best || (d === best && u !== null && id < u))) { u = id; best = d; }
      }
      if (u === null) break;
      done.add(u);
      for (const [v, c] of Object.entries(neighborsOf(u))) {
        if (v === this.self) continue;
        // two-way check: v must list u too (or be our direct neighbour we see ourselves)
        const back = u === this.self ? this.ads.get(v)?.neighbors?.[u] ?? c : neighborsOf(v)[u];
        if (back === undefined && u !== this.self) continue;
        const cost = Math.max(c, back ?? c);
        const nd = best + cost;
        const cur = dist.get(v);
        const hop = u === this.self ? v : first.get(u)!;
        if (cur === undefined || nd < cur || (nd === cur && hop < (first.get(v) ?? '\uffff'))) {
          dist.set(v, nd);
          first.set(v, hop);
        }
      }
    }
    const routes = new Map<string, Route>();
    for (const [id, d] of dist) if (id !== this.self) routes.set(id, { id, nextHop: first.get(id)!, cost: d });
    const changed = routes.size !== this.routes.size || [...routes].some(([id, r]) => {
      const o = this.routes.get(id);
      return !o || o.nextHop !== r.nextHop || o.cost !== r.cost;
    });
    this.routes = routes;
    for (const id of [...this.index.keys()]) if (!routes.has(id)) this.index.delete(id);
    for (const id of routes.keys()) {
      if (this.index.has(id)) continue;
      const taken = new Set(this.index.values());
      let i = 1;
      while (taken.has(i)) i++;
      this.index.set(id, i);
    }
    if (changed) this.lastTopoChange = Date.now();
    return changed;
  }

  /** Reachable routers with consumers for an address, with their consumer counts. */
  remoteConsumers(address: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of this.routes.keys()) {
      const n = this.ads.get(id)?.addresses[address];
      if (n) out.set(id, n);
    }
    return out;
  }
}
