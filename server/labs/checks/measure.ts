// Checks of lab 7: the conductor's own RPC calls, measured through the
// router and through the broker, on this machine. Only numbers measured
// here are shown, labelled with the machine they came from.
import { cpus, totalmem } from 'node:os';
import type { CheckContext, CheckResult } from './context.js';
import type { CheckDef } from './registry.js';
import { calls, fail, pass, round, stats, transportKind } from './common.js';
import type { MeasureChart } from '../../../common/wire.js';
import { defaultTrafficRate } from '../../backends/index.js';

export interface Measurement {
  transport: 'router' | 'broker';
  at: number;
  windowS: number;
  calls: number;
  failed: number;
  callsPerS: number;
  latencyMs: { mean: number; p50: number; p95: number; min: number; max: number };
}

/** The machine, described without its host name. */
export function machine(): string {
  const c = cpus();
  const model = (c[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  return `${c.length} × ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

const WINDOW_MS = 30_000;
const MIN_CALLS = 50;

async function measure(ctx: CheckContext, want: 'router' | 'broker'): Promise<CheckResult> {
  const since = Date.now() - WINDOW_MS;
  const ev = await ctx.events('conductor', since);
  const c = calls(ev);
  const st = await ctx.status();
  const on = (e: { transport?: string }) => transportKind(st, e.transport) === want;
  const ok = c.ok.filter(on);
  const failed = c.failed.filter(on);
  const other = want === 'router' ? 'broker' : 'router';
  // The lab's own background traffic is not a measurement: the learner sets the load first.
  const rate = st.trafficRate ?? defaultTrafficRate();
  if (rate <= defaultTrafficRate()) {
    return fail(
      `The conductor still runs at the lab's starting rate (${rate} operations per second): ` +
      `raise it as this step does ("hmlab traffic 100"), wait ${WINDOW_MS / 1000} s, then check again.`,
    );
  }
  if (ok.length < MIN_CALLS) {
    const windowS = WINDOW_MS / 1000;
    const hint = ok.length
      ? `Only ${ok.length} calls through the ${want} in the last ${windowS} s; ` +
        `raise the rate ("hmlab traffic 50") and check again after ${windowS} s.`
      : `No call went through the ${want} in the last ${windowS} s: RPC is on the ${other}. ` +
        `Point [DEFAULT] transport_url at the ${want} and restart the services, then wait ${windowS} s.`;
    return fail(hint);
  }
  const first = Math.min(...ok.map((e) => e.t));
  const spanS = Math.max(1, (Date.now() - first) / 1000);
  const s = stats(ok.map((e) => e.latencyMs ?? 0));
  const m: Measurement = {
    transport: want, at: Date.now(), windowS: round(spanS), calls: ok.length, failed: failed.length,
    callsPerS: round(ok.length / spanS),
    latencyMs: { mean: round(s.mean, 2), p50: round(s.p50, 2), p95: round(s.p95, 2), min: round(s.min, 2), max: round(s.max, 2) },
  };
  const all = (ctx.memory.get('measure') as Record<string, Measurement> | undefined) ?? {};
  all[want] = m;
  ctx.memory.set('measure', all);
  const latency = `round trip mean ${m.latencyMs.mean} ms, p50 ${m.latencyMs.p50} ms, p95 ${m.latencyMs.p95} ms`;
  const failedNote = m.failed ? `, ${m.failed} failed` : '';
  return pass(`Through the ${want}: ${m.calls} calls in ${m.windowS} s (${m.callsPerS} calls/s), ${latency}${failedNote}. Measured on ${machine()}.`, {
    chart: { machine: machine(), measurements: Object.values(all) } satisfies MeasureChart,
  });
}

export const measureChecks: CheckDef[] = [
  { id: 'measured-router', title: 'RPC round trip and throughput through the router', run: (ctx) => measure(ctx, 'router') },
  { id: 'measured-broker', title: 'RPC round trip and throughput through the broker', run: (ctx) => measure(ctx, 'broker') },
];
