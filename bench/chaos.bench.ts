// Chaos under load, longer than the reliability test: a hybrid-mesh lab with
// the conductor at 50 ops/s, first undisturbed (the reference, same run),
// then with a random router killed every few seconds and started again.
// Prints the time from a kill to the next successful call as a ratio to the
// undisturbed call latency, and the share of calls that succeeded in both.
//   node --import tsx bench/chaos.bench.ts [--seconds 180]
import { fileURLToPath } from 'node:url';
import { analyzeChaos, describeChaos, killRoutersInTurn } from '../test/helpers/chaos.js';
import { tempLab, waitFor, readEvents } from '../test/helpers/lab-env.js';

const RATE = 50;
const REFERENCE_MS = 30_000;
const CALL_TIMEOUT_S = 10;

export async function run(
  { log = console.log, seconds = Number(process.env.HMLAB_CHAOS_SECONDS ?? 180) }: { log?: (s: string) => void; seconds?: number } = {},
) {
  const t = await tempLab('hmlab-bench-chaos-');
  try {
    await t.lab.up({ topology: 'hybrid-mesh', basePort: t.basePort, trafficRate: RATE });
    const warm = Date.now();
    await waitFor('calls at the bench rate',
      () => readEvents(t.home, 'conductor').filter((e) => e.kind === 'rpc.call' && e.ok && e.t > warm).length >= 20, 60_000);

    const refBegan = Date.now();
    await new Promise((r) => setTimeout(r, REFERENCE_MS));
    const refEnded = Date.now();
    const chaosBegan = Date.now();
    const kills = await killRoutersInTurn({
      durationMs: seconds * 1000,
      kill: async (n) => { await t.lab.kill(n); },
      start: async (n) => { await t.lab.start(n); },
    });
    const chaosEnded = Date.now();
    await t.lab.setTrafficRate(0);
    await new Promise((r) => setTimeout(r, (CALL_TIMEOUT_S + 3) * 1000));

    const ref = analyzeChaos(t.home, [], refBegan, refEnded);
    const chaos = analyzeChaos(t.home, kills, chaosBegan, chaosEnded);
    log(`reference, no kills: ${ref.seconds.toFixed(0)} s, ${ref.started} calls, ${ref.ok} succeeded, p50 ${ref.p50CallMs.toFixed(1)} ms`);
    for (const line of describeChaos(chaos, RATE)) log(line);
    const result = {
      seconds: chaos.seconds,
      kills: chaos.kills.length,
      referenceP50CallMs: ref.p50CallMs,
      medianKillToSuccessMs: chaos.medianRecoverMs,
      ratioKillToSuccessVsCall: chaos.medianRecoverMs / ref.p50CallMs,
      successShareReference: ref.ok / Math.max(1, ref.started),
      successShareChaos: chaos.ok / Math.max(1, chaos.started),
      neverReturned: chaos.neverReturned,
      unexplainedFailures: chaos.unexplained.length,
    };
    const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
    log(`kill to next success: ${result.ratioKillToSuccessVsCall.toFixed(1)}x an undisturbed call; ` +
      `calls succeeding: ${pct(result.successShareChaos)} under chaos vs ${pct(result.successShareReference)} undisturbed`);
    return result;
  } finally {
    await t.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--seconds');
  await run({ seconds: i > 0 ? Number(process.argv[i + 1]) : undefined });
}
