// Workshop benchmark: seats per machine. Starts N isolated seats with
// traffic on (2 operations/s, a workshop seat's default; HMLAB_BENCH_RATE=N
// for another, 5 for a lab's own), for N = 5, 10, 20, 30, ... (HMLAB_BENCH_SEATS=1,2,4 for a
// small run), and measures, in every seat at once as a room led by its host,
// terminal keystroke echo through the workshop proxy, typed at five keys a
// second (budget p95 < 50 ms), then a lab check (budget < 2 s); stops at the
// first N where a seat misses its budget. Prints N, memory per seat and CPU
// per seat with traffic on and paused, next to one seat alone measured in
// the same run.
//   npm run bench -- workshop        (needs root)
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import type { Topology, TrafficCounters } from '../common/wire.js';
import { percentileOf } from '../common/stats.js';
import { isolationAvailable } from '../server/isolation/index.js';
import { DEFAULT_POLL_MS, WORKSHOP_TRAFFIC_RATE } from '../server/workshop/index.js';
import { api, joinSeat, startTestWorkshop, terminal, waitSeatLab, type TestWorkshop } from '../test/helpers/workshop.js';

const ECHO_P95_BUDGET_MS = 50;
/** One key every 200 ms in each seat: five keys a second, a fast typist. */
const KEY_INTERVAL_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHECK_BUDGET_MS = 2000;
const TICKS_PER_S = 100; // USER_HZ on Linux

/** Where a seat's cost goes: resident memory, and CPU with traffic on and paused, by part of the lab. */
type Breakdown = Record<string, { processes: number; rssMiB: number; cpuPct: number; busyCpuPct: number }>;
const UP_TIMEOUT_MS = 600_000;
const CPU_WINDOW_MS = 10_000;

function partOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    if (/beam\.smp|rabbitmq|epmd|erl_child_setup|inet_gethost/.test(cmd)) return 'broker';
    if (/ router -c /.test(cmd) || /qdrouterd/.test(cmd)) return 'routers';
    if (/hmlab_openstack/.test(cmd)) return 'services';
    if (/ serve --socket /.test(cmd)) return 'seat server';
    return 'shells and tools';
  } catch { return 'ended'; }
}

function rssMiB(pid: number): number {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024; } catch { return 0; }
}

/** CPU (% of one core) per seat over CPU_WINDOW_MS, in all and by part; memory by part. */
type PartUse = Record<string, { processes: number; rssMiB: number; cpuPct: number }>;
async function cpuByPart(pids: number[], n: number): Promise<{ perSeatPct: number; parts: PartUse }> {
  const before = new Map(pids.map((p) => [p, cpuTicks([p])]));
  await sleep(CPU_WINDOW_MS);
  const pct = (ticks: number) => (ticks / TICKS_PER_S / (CPU_WINDOW_MS / 1000)) * 100 / n;
  const parts: PartUse = {};
  let all = 0;
  for (const p of pids) {
    const b = (parts[partOf(p)] ??= { processes: 0, rssMiB: 0, cpuPct: 0 });
    const used = Math.max(0, cpuTicks([p]) - before.get(p)!);
    all += used;
    b.processes += 1 / n;
    b.rssMiB += rssMiB(p) / n;
    b.cpuPct += pct(used);
  }
  for (const b of Object.values(parts)) { b.processes = round1(b.processes); b.rssMiB = Math.round(b.rssMiB); b.cpuPct = round1(b.cpuPct); }
  return { perSeatPct: round1(pct(all)), parts };
}

interface Round {
  seats: number;
  echoP95Ms: number; // worst seat
  checkMaxMs: number; // worst seat
  memoryPerSeatMiB: number;
  processesPerSeat: number;
  idleCpuPerSeatPct: number; // % of one core, traffic paused
  busyCpuPerSeatPct: number; // % of one core, traffic on
  /** Conductor operations per second the seats achieved while CPU was measured: slowest seat and median, against the rate asked. */
  achievedOps: { slowest: number; median: number };
  /** How late the workshop server's event loop ran while the room typed (it runs in this process): p99 and worst, ms. */
  serverLoopDelayMs: { p99: number; max: number };
  withinBudget: boolean;
  /** Why a seat missed its budget, if one did. */
  misses: string[];
  perSeat: Breakdown;
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const NOT_MEASURED: Round = {
  seats: 0, echoP95Ms: NaN, checkMaxMs: NaN, memoryPerSeatMiB: NaN, processesPerSeat: NaN, idleCpuPerSeatPct: NaN, busyCpuPerSeatPct: NaN,
  achievedOps: { slowest: NaN, median: NaN }, serverLoopDelayMs: { p99: NaN, max: NaN }, withinBudget: false, misses: [], perSeat: {},
};

function cpuTicks(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      t += Number(rest[11]) + Number(rest[12]); // utime, stime
    } catch { /* ended */ }
  }
  return t;
}

/** Operations the seat's conductor has done so far: calls (answered or not), casts and fanouts. */
async function operationsDone(base: string, cookie: string): Promise<number> {
  const st = (await api(base, cookie, '/api/status')).json as { traffic: TrafficCounters };
  const t = st.traffic;
  return t.rpcCalls.ok + t.rpcCalls.failed + t.rpcCasts.sent + t.fanouts.sent;
}

/** One keystroke: when it was sent (performance.now()) and its echo's round trip in ms. */
type Key = { at: number; ms: number };

/**
 * Whether a seat's slow keys (over the echo budget) were slow alone or with the room: for each,
 * how many other seats had a slow key at the same moment (one stall for all, or this seat's own).
 */
function slowKeysShared(keys: Key[][], seat: number): string {
  const slow = (k: Key) => k.ms >= ECHO_P95_BUDGET_MS;
  const overlaps = (a: Key, b: Key) => a.at < b.at + b.ms && b.at < a.at + a.ms;
  const shared = keys[seat]!.filter(slow).map((k) =>
    keys.filter((other, j) => j !== seat && other.some((o) => slow(o) && overlaps(k, o))).length);
  return `its ${shared.length} slow key(s) shared with ${shared.join(', ')} other seat(s)' slow keys`;
}

async function measure(n: number, topology: Topology, rate: number, log: (s: string) => void): Promise<Round> {
  let w: TestWorkshop | null = null;
  try {
    // The dashboard reads every seat as often as a host's does (the tests read them every second).
    w = await startTestWorkshop({ seats: n, topology, trafficRate: rate, pollMs: DEFAULT_POLL_MS });
    const base = w.server.url;
    const cookies: string[] = [];
    for (let i = 0; i < n; i++) cookies.push((await joinSeat(base, w.code, `bench ${i + 1}`)).cookie);
    const t0 = Date.now();
    const ups = await Promise.allSettled(cookies.map((c) => waitSeatLab(base, c, UP_TIMEOUT_MS)));
    const notUp = ups.flatMap((u, i) => (u.status === 'rejected' ? [`seat ${i + 1} not up: ${(u.reason as Error).message}`] : []));
    if (notUp.length) return { ...NOT_MEASURED, seats: n, misses: notUp };
    log(`  ${n} seat(s) up with traffic in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // The room as the host leads it, each phase in every seat at once: everyone
    // opens a terminal, everyone types, everyone runs a check.
    const checkId = topology === 'broker-only' ? ['01-one-broker', 'broker-running'] : ['02-split-transports', 'router-running'];
    const terms = await Promise.all(cookies.map(async (c) => {
      const term = await terminal(base, c, 'bench');
      await term.run('stty -echoctl; echo ready-$((1+1))', /ready-2/, 30_000);
      return term;
    }));
    // A stall of the workshop server (the proxy every keystroke crosses) delays every seat's echo at once.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const keys = await Promise.all(terms.map(async (term) => {
      // A key and its erasure, 40 times, at a fast typist's pace: each round trip is
      // browser -> proxy -> seat server -> pty -> bash's echo -> back. (Keys sent the
      // moment the last echo came back made each seat a robot typing 50 keys a second.)
      const xs: Key[] = [];
      await sleep(Math.random() * KEY_INTERVAL_MS); // the room does not type in step
      for (let i = 0; i < 40; i++) {
        for (const key of ['x', '\x7f']) {
          const at = performance.now();
          const ms = await term.keystroke(key);
          if (key === 'x') xs.push({ at, ms });
          await sleep(Math.max(0, KEY_INTERVAL_MS - ms));
        }
      }
      term.close();
      return xs;
    }));
    const echoes = keys.map((xs) => percentileOf(xs.map((k) => k.ms), 95));
    loop.disable();
    const serverLoopDelayMs = { p99: round1(loop.percentile(99) / 1e6), max: round1(loop.max / 1e6) };
    const perSeat = await Promise.all(cookies.map(async (c, i) => {
      const tc = performance.now();
      const r = await api(base, c, `/api/labs/${checkId[0]}/checks/${checkId[1]}`, { method: 'POST', body: {} });
      const checkMs = performance.now() - tc;
      const answer = r.status === 200 ? '' : `check answered ${r.status}: ${JSON.stringify(r.json).slice(0, 200)}`;
      return { echoP95: echoes[i]!, checkMs, ok: r.status === 200, answer };
    }));
    const seatsUsage = Array.from({ length: n }, (_, i) => w!.seats.usage(i + 1)!);
    const memory = seatsUsage.reduce((s, u) => s + u.memoryBytes, 0) / n / 1048576;
    const procs = seatsUsage.reduce((s, u) => s + u.processes.length, 0) / n;
    // The conductor's operations done in each seat while CPU is measured: a saturated machine slows the labs' traffic (it runs at nice 10).
    const opsBefore = await Promise.all(cookies.map((c) => operationsDone(base, c)));
    const opsT0 = performance.now();
    const busy = await cpuByPart(seatsUsage.flatMap((u) => u.processes), n);
    const opsAfter = await Promise.all(cookies.map((c) => operationsDone(base, c)));
    const opsRates = opsAfter.map((a, i) => (a - opsBefore[i]!) / ((performance.now() - opsT0) / 1000)).sort((a, b) => a - b);
    // Idle: traffic paused in every seat, then 10 s of CPU across every seat process.
    await Promise.all(cookies.map((c) => api(base, c, '/api/traffic', { method: 'POST', body: { rate: 0 } })));
    await sleep(3000);
    const idle = await cpuByPart(seatsUsage.flatMap((u) => u.processes), n);
    const breakdown: Breakdown = {};
    for (const [part, b] of Object.entries(idle.parts)) breakdown[part] = { ...b, busyCpuPct: busy.parts[part]?.cpuPct ?? 0 };
    const echoP95Ms = Math.max(...perSeat.map((s) => s.echoP95));
    const checkMaxMs = Math.max(...perSeat.map((s) => s.checkMs));
    return {
      seats: n, echoP95Ms: round1(echoP95Ms), checkMaxMs: Math.round(checkMaxMs), memoryPerSeatMiB: Math.round(memory),
      processesPerSeat: round1(procs), idleCpuPerSeatPct: idle.perSeatPct, busyCpuPerSeatPct: busy.perSeatPct,
      achievedOps: { slowest: round1(opsRates[0]!), median: round1(percentileOf(opsRates, 50)) }, serverLoopDelayMs,
      withinBudget: perSeat.every((s) => s.ok) && echoP95Ms < ECHO_P95_BUDGET_MS && checkMaxMs < CHECK_BUDGET_MS,
      misses: perSeat.flatMap((s, i) => [
        ...(s.answer ? [`seat ${i + 1}: ${s.answer}`] : []),
        ...(s.echoP95 >= ECHO_P95_BUDGET_MS ? [`seat ${i + 1}: echo p95 ${round1(s.echoP95)} ms; ${slowKeysShared(keys, i)}`] : []),
        ...(s.checkMs >= CHECK_BUDGET_MS ? [`seat ${i + 1}: check ${Math.round(s.checkMs)} ms`] : []),
      ]),
      perSeat: breakdown,
    };
  } finally {
    if (w) await w.cleanup();
  }
}

export async function run({ log = console.log }: { log?: (s: string) => void } = {}) {
  const iso = isolationAvailable();
  if (!iso.ok) { log(`workshop bench skipped: ${iso.why}`); return { skipped: iso.why }; }
  const topology = (process.env.HMLAB_BENCH_TOPOLOGY ?? 'hybrid-mesh') as Topology;
  const series = (process.env.HMLAB_BENCH_SEATS ?? '5,10,20,30,40,50,60').split(',').map(Number).filter((x) => x > 0);
  const rate = Number(process.env.HMLAB_BENCH_RATE ?? WORKSHOP_TRAFFIC_RATE);
  if (!(rate > 0 && rate <= 1000)) {
    throw new Error(`HMLAB_BENCH_RATE must be operations per second, more than 0 and at most 1000 (got "${process.env.HMLAB_BENCH_RATE}")`);
  }
  log(`seats per machine: ${topology} seats, traffic ${rate} ops/s, on ${cpus().length} cores; `
    + `budgets: echo p95 < ${ECHO_P95_BUDGET_MS} ms, check < ${CHECK_BUDGET_MS} ms`);
  const reference = await measure(1, topology, rate, log);
  const ref = reference;
  log(`  reference, 1 seat alone: echo p95 ${ref.echoP95Ms} ms, check ${ref.checkMaxMs} ms, ${ref.memoryPerSeatMiB} MiB, `
    + `${ref.processesPerSeat} processes, CPU ${ref.busyCpuPerSeatPct}% of a core with traffic, ${ref.idleCpuPerSeatPct}% paused, `
    + `${ref.achievedOps.median} of ${rate} ops/s done`);
  if (ref.misses.length) for (const m of ref.misses) log(`    ${m}`);
  log('  where a seat\'s cost goes (one seat; CPU in % of one core):');
  for (const [part, b] of Object.entries(reference.perSeat).sort((a, b) => b[1].rssMiB - a[1].rssMiB)) {
    const [procs, rss] = [String(b.processes).padStart(4), String(b.rssMiB).padStart(5)];
    const [busy, paused] = [String(b.busyCpuPct).padStart(5), String(b.cpuPct).padStart(5)];
    log(`    ${part.padEnd(17)} ${procs} processes  ${rss} MiB resident  CPU ${busy}% with traffic, ${paused}% paused`);
  }
  const rounds: Round[] = [];
  let most = reference.withinBudget ? 1 : 0;
  for (const n of series) {
    const r = await measure(n, topology, rate, log);
    rounds.push(r);
    const [echoX, checkX] = [round1(r.echoP95Ms / reference.echoP95Ms), round1(r.checkMaxMs / Math.max(1, reference.checkMaxMs))];
    if (Number.isNaN(r.echoP95Ms)) log(`  N=${n}: not every seat came up with traffic within ${UP_TIMEOUT_MS / 60_000} minutes: MISSES the budget`);
    else log(`  N=${n}: echo p95 ${r.echoP95Ms} ms (x${echoX} of one seat), check ${r.checkMaxMs} ms (x${checkX}), ${r.memoryPerSeatMiB} MiB/seat, `
      + `CPU ${r.busyCpuPerSeatPct}%/seat with traffic, ${r.idleCpuPerSeatPct}% paused, traffic done ${r.achievedOps.median} ops/s median `
      + `(slowest seat ${r.achievedOps.slowest}) of ${rate} asked, workshop server late by ${r.serverLoopDelayMs.p99} ms p99 `
      + `(${r.serverLoopDelayMs.max} ms worst) while the room typed: ${r.withinBudget ? 'within budget' : 'MISSES the budget'}`);
    if (!r.withinBudget) { for (const m of r.misses) log(`    ${m}`); break; }
    most = n;
  }
  log(`seats per machine within budget: ${most}${rounds.every((r) => r.withinBudget) ? ' (at least: the series ended first)' : ''}`);
  return { topology, rate, reference, rounds, seatsWithinBudget: most };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
