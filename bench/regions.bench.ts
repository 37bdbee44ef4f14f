// Across regions: RPC p50 to a server in the caller's region and to one
// across the WAN, for WAN delays of 0, 40 and 80 ms each way, printed next to
// the WAN round trip set (twice the delay) as a ratio; then the time from a
// heal of the WAN to the first call across that succeeds. Real processes:
// the multi-region lab (namespaces, relays, routers, brokers, oslo.messaging)
// and an oslo.messaging client inside region 1. Needs root.
//   node --import tsx bench/regions.bench.ts   (or: npm run bench -- regions)
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePortBlock, openLab, processesOfHome } from '../server/backends/index.js';
import { isolationAvailable } from '../server/isolation/index.js';
import { OsloProc } from '../test/helpers/router-procs.js';
import { median } from '../common/stats.js';

export interface RegionsResult {
  router: string | null;
  rows: { delayMs: number; localP50Ms: number; remoteP50Ms: number; addedMs: number; ratioToRoundTrip: number | null }[];
  healToFirstSuccessMs: number | null;
  machine: string;
}


export async function run(opts: { log?: (s: string) => void } = {}): Promise<RegionsResult | { skipped: string }> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const iso = isolationAvailable();
  if (!iso.ok) { log(`skipped: the multi-region lab needs network namespaces: ${iso.why}`); return { skipped: iso.why }; }
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-mr-'));
  const lab = openLab(home);
  const cleanups: (() => unknown)[] = [];
  const t = { after: (fn: () => unknown) => { cleanups.push(fn); } };
  try {
    const st = await lab.up({ topology: 'multi-region', basePort: await findFreePortBlock(), trafficRate: 0 });
    const wan = lab.wanStatus()!;
    const r1ns = wan.regions.find((r) => r.name === 'region-1')!.namespace;
    const routerA = st.components.find((c) => c.name === 'router-a')!.endpoint!.replace(/^amqp:\/\//, '');
    const client = await OsloProc.start(t, 'client', `amqp://${routerA}/`, { namespace: r1ns, sendTimeout: 5 });
    let id = 0;
    const p50 = async (server: string, n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = await client.op({ id: `b${id++}`, op: 'call', topic: 'compute', server, method: 'ping', args: {}, timeout: 10 }, 20_000);
        if (r.ok) ms.push(r.ms as number);
      }
      return median(ms.slice(2));
    };
    const rows: RegionsResult['rows'] = [];
    log('WAN each way | p50 region 1 (local) | p50 region 2 (across) | added | added / WAN round trip');
    for (const delayMs of [0, 40, 80]) {
      await lab.setWan({ delayMs });
      await new Promise((r) => setTimeout(r, 500));
      const localP50Ms = await p50('compute-1', 22);
      const remoteP50Ms = await p50('compute-2', 22);
      const addedMs = remoteP50Ms - localP50Ms;
      const ratioToRoundTrip = delayMs ? addedMs / (2 * delayMs) : null;
      rows.push({ delayMs, localP50Ms, remoteP50Ms, addedMs, ratioToRoundTrip });
      const ratio = ratioToRoundTrip === null ? '-' : ratioToRoundTrip.toFixed(2);
      log(`${String(delayMs).padStart(6)} ms    | ${localP50Ms.toFixed(1).padStart(8)} ms | ${remoteP50Ms.toFixed(1).padStart(8)} ms | ` +
        `${addedMs.toFixed(1).padStart(6)} ms | ${ratio}`);
    }
    // Cut, let the mesh drop the WAN routers, heal, and time the first call across that succeeds.
    await lab.setWan({ state: 'cut', delayMs: 40 });
    await new Promise((r) => setTimeout(r, 6000));
    const healed = await lab.setWan({ state: 'up' });
    let healToFirstSuccessMs: number | null = null;
    while (healToFirstSuccessMs === null && Date.now() - healed.changedAt < 60_000) {
      const r = await client.op({ id: `h${id++}`, op: 'call', topic: 'compute', server: 'compute-2', method: 'ping', args: {}, timeout: 5 }, 20_000);
      if (r.ok) healToFirstSuccessMs = Date.now() - healed.changedAt;
    }
    const heal = healToFirstSuccessMs === null ? 'none within 60 s' : `${(healToFirstSuccessMs / 1000).toFixed(2)} s`;
    log(`heal to first cross-region success: ${heal} (${st.router} router)`);
    return { router: st.router, rows, healToFirstSuccessMs, machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'cpu'}` };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await lab.down().catch(() => {});
    for (const p of processesOfHome(home)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
  process.exit(0);
}
