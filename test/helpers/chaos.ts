// Chaos under load, shared by the reliability test (about a minute) and the
// benchmark (longer): kill a random router of a running mesh every few
// seconds and start it again, then judge the conductor's calls from the
// services' own event files.
import type { ServiceEvent } from '../../common/wire.js';
import { percentile } from '../../common/stats.js';
import { readEvents } from './lab-env.js';

export const ROUTERS = ['router-a', 'router-b', 'router-c'];

export interface Kill { name: string; t: number }

/**
 * For durationMs: wait 2-4 s, kill a router (each once per round, in a random
 * order), start it again 1.5 s later. Returns when the kills were made.
 */
export async function killRoutersInTurn(opts: {
  durationMs: number;
  kill(name: string): Promise<void>;
  start(name: string): Promise<void>;
  seed?: number;
}): Promise<Kill[]> {
  let seed = opts.seed ?? Date.now() % 9973;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const began = Date.now();
  const kills: Kill[] = [];
  let round: string[] = [];
  for (;;) {
    const pause = 2000 + rnd() * 2000;
    if (Date.now() - began + pause + 1500 > opts.durationMs) break; // the last kill and start end within the duration
    await new Promise((r) => setTimeout(r, pause));
    if (!round.length) round = [...ROUTERS].sort(() => rnd() - 0.5);
    const name = round.pop()!;
    kills.push({ name, t: Date.now() });
    await opts.kill(name);
    await new Promise((r) => setTimeout(r, 1500));
    await opts.start(name);
  }
  return kills;
}

export interface ChaosResult {
  seconds: number;
  kills: Kill[];
  started: number;
  ok: number;
  failed: number;
  failureKinds: Record<string, number>;
  /** Failed calls a kill fell into, between their start and their end. */
  inFlight: number;
  /** Failed calls sent within NOTICE_MS after a kill, on a connection the client had not yet seen die. */
  beforeNoticed: number;
  /** Failed calls no kill explains. */
  unexplained: { event: ServiceEvent; sinceKillMs: number }[];
  /** Calls a compute server received whose end the conductor never reported. */
  neverReturned: number;
  requests: number;
  /** Per kill: ms until a call started after it succeeded (Infinity: none did). */
  recoverMs: number[];
  medianRecoverMs: number;
  maxRecoverMs: number;
  /** Median latency of the successful calls. */
  p50CallMs: number;
}

const startOf = (e: { t: number; latencyMs?: number }) => e.t - (e.latencyMs ?? 0);
/**
 * How long after its router dies a client may still send on the dead
 * connection: it learns of the death from the socket, then reconnects to the
 * next host of its URL (about 1.3 s on this machine, FACTS.md).
 */
export const NOTICE_MS = 2000;

/** Judge the calls started between began and ended (read after they all had their timeout to end). */
export function analyzeChaos(home: string, kills: Kill[], began: number, ended: number): ChaosResult {
  const calls = readEvents(home, 'conductor').filter((e) => e.kind === 'rpc.call' && e.t >= began);
  const inWindow = calls.filter((e) => startOf(e) >= began && startOf(e) <= ended);
  const ok = inWindow.filter((e) => e.ok);
  const failed = inWindow.filter((e) => !e.ok);
  // hit by a kill: it fell between the call's start and its end (the request
  // or the reply address died with the router)
  const hit = (e: ServiceEvent) => kills.some((k) => k.t >= startOf(e) - 250 && k.t <= e.t);
  const sinceKill = (e: ServiceEvent) => Math.min(...kills.filter((k) => k.t <= startOf(e)).map((k) => startOf(e) - k.t), Infinity);
  const notHit = failed.filter((e) => !hit(e));
  const failureKinds: Record<string, number> = {};
  for (const e of failed) { const k = String(e.error ?? 'unknown').split(':')[0]!; failureKinds[k] = (failureKinds[k] ?? 0) + 1; }
  const endedIds = new Set(calls.map((e) => e.id));
  const requests = ['compute-1', 'compute-2'].flatMap((s) => readEvents(home, s))
    .filter((e) => e.kind === 'rpc.request' && e.t >= began && e.t <= ended && (e.method === 'ping' || e.method === 'get_console_output'));
  const recoverMs = kills.map((k) => {
    const next = ok.filter((e) => startOf(e) >= k.t).sort((a, b) => a.t - b.t)[0];
    return next ? next.t - k.t : Infinity;
  });
  const finite = recoverMs.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    seconds: (ended - began) / 1000,
    kills,
    started: inWindow.length,
    ok: ok.length,
    failed: failed.length,
    failureKinds,
    inFlight: failed.length - notHit.length,
    beforeNoticed: notHit.filter((e) => sinceKill(e) <= NOTICE_MS).length,
    unexplained: notHit.filter((e) => sinceKill(e) > NOTICE_MS).map((event) => ({ event, sinceKillMs: sinceKill(event) })),
    neverReturned: requests.filter((e) => e.id && !endedIds.has(e.id)).length,
    requests: requests.length,
    recoverMs,
    medianRecoverMs: percentile(finite, 50),
    maxRecoverMs: finite.length ? finite[finite.length - 1]! : NaN,
    p50CallMs: percentile(ok.map((e) => e.latencyMs ?? 0).sort((a, b) => a - b), 50),
  };
}

/** What the chaos tried and what survived, one line each. */
export function describeChaos(r: ChaosResult, rate: number): string[] {
  const kinds = Object.entries(r.failureKinds).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const never = r.recoverMs.filter((x) => !Number.isFinite(x)).length;
  const lines = [
    `chaos: ${r.seconds.toFixed(0)} s at ${rate} ops/s, ${r.kills.length} router kills `
      + `(${ROUTERS.map((n) => `${n} ×${r.kills.filter((k) => k.name === n).length}`).join(', ')}), each started again 1.5 s later`,
    `  calls started: ${r.started}; succeeded ${r.ok}; failed ${r.failed} (${kinds}): ${r.inFlight} in flight at a kill, ${r.beforeNoticed} sent on a dead `
      + `router's connection within ${NOTICE_MS / 1000} s of its kill, before the client noticed; ${r.unexplained.length} otherwise`,
    `  calls a compute server received that never ended at the conductor: ${r.neverReturned} of ${r.requests}`,
    `  kill to next successful call: median ${Math.round(r.medianRecoverMs)} ms, max ${Math.round(r.maxRecoverMs)} ms`
      + `${never ? `, ${never} kills never followed by a success` : ''}; successful call p50 ${r.p50CallMs.toFixed(1)} ms`,
  ];
  if (r.unexplained.length) {
    const some = r.unexplained.slice(0, 5).map(({ event: e, sinceKillMs }) => `${Math.round(sinceKillMs)} ms after a kill, ${e.latencyMs} ms: ${e.error}`);
    lines.push(`  failures not explained by a kill: ${some.join(' | ')}`);
  }
  return lines;
}
