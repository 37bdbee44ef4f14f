// Checks of labs 4 and 5: a mesh of routers, its distributions, moving a
// service, and failover when a router dies.
import type { LabStatus, ServiceEvent } from '../../../common/wire.js';
import type { CheckContext } from './context.js';
import type { CheckDef } from './registry.js';
import { component, running } from './context.js';
import { componentAt } from '../../../common/endpoint.js';
import { calls, fail, pass, round, routerNames, runningRouters } from './common.js';

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0) || 0;
}

/** The router a service's RPC connection is on now, from its status or its last connect event. */
async function routerOfService(ctx: CheckContext, st: LabStatus, service: string): Promise<string | null> {
  const c = component(st, service);
  const where = c?.connectedTo ?? null;
  if (where) return componentAt(st.components, where)?.name ?? null;
  const ev = (await ctx.events(service, c?.startedAt ?? 0)).filter((e) => e.kind === 'transport.connected' && e.transport);
  const last = ev[ev.length - 1];
  if (!last?.transport) return null;
  return componentAt(st.components, last.transport)?.name ?? null;
}

export const meshChecks: CheckDef[] = [
  {
    id: 'mesh-formed',
    title: 'Three interior routers know each other',
    async run(ctx) {
      const st = await ctx.status();
      const up = runningRouters(st);
      if (up.length < 3) return fail(`${up.length} of 3 routers run (${routerNames(st).join(', ') || 'none in this lab'}): run `
        + `"hmlab up --topology hybrid-mesh".`);
      const nodes = await ctx.routerQuery(up[0], 'router.node', []);
      const ids = new Set(nodes.map((n) => String(n.id ?? n.name ?? '')).filter(Boolean));
      if (ids.size < 3) return fail(`${up[0]} knows ${ids.size} router(s) (${[...ids].join(', ')}): the inter-router links are still forming, or a connector `
        + `is wrong. Run "qdstat -n" and check again.`);
      return pass(`${up[0]} sees ${ids.size} routers in the mesh: ${[...ids].join(', ')} (the same table "qdstat -n" prints).`);
    },
  },
  {
    id: 'distribution-counters',
    title: 'Closest, balanced and multicast addresses carry traffic',
    async run(ctx) {
      const st = await ctx.status();
      const up = runningRouters(st);
      if (!up.length) return fail('No router runs: run "hmlab up --topology hybrid-mesh".');
      const byDist: Record<string, number> = {};
      const seen: Record<string, string> = {};
      for (const r of up) {
        for (const a of await ctx.routerQuery(r, 'router.address', [])) {
          const key = String(a.key ?? a.name ?? '');
          if (!/openstack\.org\/om\/rpc|(^|[^a-z])(exclusive|unicast|broadcast)\//.test(key)) continue;
          const dist = String(a.distribution ?? '');
          const n = num(a.deliveriesEgress) + num(a.deliveriesTransit);
          byDist[dist] = (byDist[dist] ?? 0) + n;
          if (n > 0 && !seen[dist]) seen[dist] = key.replace(/^[A-Z0-9]{1,2}(?=[a-z])/, '');
        }
      }
      const missing = ['closest', 'balanced', 'multicast'].filter((d) => !byDist[d]);
      if (missing.length) return fail(`No delivery yet on ${missing.join(', ')} addresses (counted: ${JSON.stringify(byDist)}). The conductor issues calls, `
        + `casts to a named server and fanouts at its traffic rate: wait a few seconds, and run "qdstat -a" to watch the counters.`);
      return pass(`Deliveries by distribution across the mesh: balanced ${byDist.balanced} (e.g. ${seen.balanced}), closest ${byDist.closest} (e.g. `
        + `${seen.closest}), multicast ${byDist.multicast} (e.g. ${seen.multicast}).`, { byDistribution: byDist });
    },
  },
  {
    id: 'service-moved',
    title: 'compute-1 now attaches to router-c and still serves',
    async run(ctx) {
      const st = await ctx.status();
      if (!running(st, 'compute-1')) return fail('compute-1 does not run: "hmlab start compute-1".');
      const at = await routerOfService(ctx, st, 'compute-1');
      if (at !== 'router-c') return fail(`compute-1 is attached to ${at ?? 'no router yet'}. Put router-c first in its transport_url (etc/compute-1.conf) and `
        + `run "hmlab restart compute-1".`);
      const since = component(st, 'compute-1')?.startedAt ?? 0;
      const served = (await ctx.events('compute-1', since)).filter((e) => e.kind === 'rpc.request').length;
      if (!served) return fail('compute-1 is on router-c but has not received a request yet: wait a few seconds (the mesh must learn the new '
        + 'address location).');
      return pass(`compute-1 attaches to router-c and has served ${served} requests since; the mesh routed them from the conductor's router.`);
    },
  },
  // ---- lab 5 ---------------------------------------------------------------
  {
    id: 'failover-measured',
    title: 'The conductor failed over to another router',
    async run(ctx) {
      const st = await ctx.status();
      const dead = routerNames(st).filter((r) => !running(st, r));
      if (!dead.length) return fail('Every router still runs. Find the conductor\'s router with "hmlab status" and kill it: "hmlab kill ROUTER".');
      const ev: ServiceEvent[] = await ctx.events('conductor', Date.now() - 15 * 60_000);
      const lost = ev.filter((e) => e.kind === 'transport.lost');
      const lastLost = lost[lost.length - 1];
      if (!lastLost) return fail(`${dead.join(', ')} is down, but the conductor never lost its connection: it is on another router. Start ${dead[0]} again, `
        + `kill the conductor's router instead.`);
      const after = ev.filter((e) => e.t >= lastLost.t);
      const reconnect = after.find((e) => e.kind === 'transport.connected');
      const c = calls(after);
      const firstOk = c.ok.find((e) => e.t > (reconnect?.t ?? lastLost.t));
      if (!reconnect || !firstOk) return fail('The conductor lost its router and has not completed a call on another one yet: it retries its URL\'s hosts in '
        + 'turn. Check again in a few seconds.');
      // Calls that were waiting when the router died finish with an error later.
      const failedAround = calls(ev.filter((e) => e.t >= lastLost.t - 15_000 && e.t <= firstOk.t + 15_000)).failed;
      const errors = [...new Set(failedAround.map((e) => (e.error ?? 'error').split(':')[0]))];
      const recoverMs = firstOk.t - lastLost.t;
      ctx.memory.set('failover.at', lastLost.t);
      const why = errors.length ? ` (${errors.join(', ')}): calls in flight lose their reply address with the router` : '';
      return pass(`Failover: connection lost at ${new Date(lastLost.t).toISOString().slice(11, 23)}, reconnected to `
        + `${reconnect.transport ?? 'the next router'} after ${round((reconnect.t - lastLost.t) / 1000, 2)} s, first call answered after `
        + `${round(recoverMs / 1000, 2)} s. ${failedAround.length} call(s) failed around it${why}.`, { recoverMs, failedCalls: failedAround.length });
    },
  },
  {
    id: 'router-restored',
    title: 'The killed router is back in the mesh',
    async run(ctx) {
      const st = await ctx.status();
      const routers = routerNames(st);
      const down = routers.filter((r) => !running(st, r));
      if (down.length) return fail(`${down.join(', ')} is still down: "hmlab start ${down[0]}".`);
      const starts = routers.map((r) => component(st, r)?.startedAt ?? 0);
      if (routers.length < 2 || Math.max(...starts) - Math.min(...starts) < 3000) return fail('No router has been restarted since the lab came up: kill one '
        + '("hmlab kill ROUTER") and start it again.');
      const nodes = await ctx.routerQuery(routers[0], 'router.node', []);
      if (nodes.length < routers.length) return fail(`${routers[0]} sees ${nodes.length} of ${routers.length} routers: the restarted router is still joining. `
        + `Check again in a few seconds.`);
      const ok = calls(await ctx.events('conductor', Date.now() - 15_000)).ok.length;
      if (!ok) return fail('No RPC call succeeded in the last 15 s; see "hmlab status".');
      return pass(`All ${routers.length} routers run and see each other again; ${ok} calls succeeded in the last 15 s.`);
    },
  },
];
