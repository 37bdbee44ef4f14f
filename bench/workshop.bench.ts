// Workshop benchmark: seats per machine. Starts N isolated seats with
// traffic on, for N = 5, 10, 20, 30, ... (HMLAB_BENCH_SEATS=1,2,4 for a
// small run), and measures in every seat terminal keystroke echo through the
// workshop proxy (budget p95 < 50 ms) and a lab check (budget < 2 s); stops
// at the first N where a seat misses its budget. Prints N, memory per seat
// and CPU per idle seat (traffic paused), next to one seat alone measured
// in the same run as the reference.
//   npm run bench -- workshop        (needs root)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import type { Topology } from '../common/wire.js';
import { percentileOf } from '../common/stats.js';
import { isolationAvailable } from '../server/isolation/index.js';
import { api, joinSeat, startTestWorkshop, terminal, waitSeatLab, type TestWorkshop } from '../test/helpers/workshop.js';

const ECHO_P95_BUDGET_MS = 50;
const CHECK_BUDGET_MS = 2000;
const TICKS_PER_S = 100; // USER_HZ on Linux

/** Where a seat's cost goes: resident memory and idle CPU by part of the lab. */
type Breakdown = Record<string, { processes: number; rssMiB: number; idleCpuPct: number }>;

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

interface Round {
  seats: number;
  echoP95Ms: number; // worst seat
  checkMaxMs: number; // worst seat
  memoryPerSeatMiB: number;
  processesPerSeat: number;
  idleCpuPerSeatPct: number; // % of one core
  withinBudget: boolean;
  /** Why a seat missed its budget, if one did. */
  misses: string[];
  perSeat: Breakdown;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

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

async function measure(n: number, topology: Topology, log: (s: string) => void): Promise<Round> {
  let w: TestWorkshop | null = null;
  try {
    w = await startTestWorkshop({ seats: n, topology, trafficRate: 5 });
    const base = w.server.url;
    const cookies: string[] = [];
    for (let i = 0; i < n; i++) cookies.push((await joinSeat(base, w.code, `bench ${i + 1}`)).cookie);
    const t0 = Date.now();
    await Promise.all(cookies.map((c) => waitSeatLab(base, c, 600_000)));
    log(`  ${n} seat(s) up with traffic in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // Every seat at once: keystroke echo and a check, as a room of attendees would.
    const checkId = topology === 'broker-only' ? ['01-one-broker', 'broker-running'] : ['02-split-transports', 'router-running'];
    const perSeat = await Promise.all(cookies.map(async (c) => {
      const term = await terminal(base, c, 'bench');
      await term.run('stty -echoctl; echo ready-$((1+1))', /ready-2/, 30_000);
      // A key and its erasure, 40 times: each round trip is browser -> proxy -> seat server -> pty -> bash's echo -> back.
      const xs: number[] = [];
      for (let i = 0; i < 40; i++) {
        xs.push(await term.keystroke('x'));
        await term.keystroke('\x7f');
      }
      term.close();
      const tc = performance.now();
      const r = await api(base, c, `/api/labs/${checkId[0]}/checks/${checkId[1]}`, { method: 'POST', body: {} });
      const checkMs = performance.now() - tc;
      const answer = r.status === 200 ? '' : `check answered ${r.status}: ${JSON.stringify(r.json).slice(0, 200)}`;
      return { echoP95: percentileOf(xs, 95), checkMs, ok: r.status === 200, answer };
    }));
    const seatsUsage = Array.from({ length: n }, (_, i) => w!.seats.usage(i + 1)!);
    const memory = seatsUsage.reduce((s, u) => s + u.memoryBytes, 0) / n / 1048576;
    const procs = seatsUsage.reduce((s, u) => s + u.processes.length, 0) / n;
    // Idle: traffic paused in every seat, then 10 s of CPU across every seat process.
    await Promise.all(cookies.map((c) => api(base, c, '/api/traffic', { method: 'POST', body: { rate: 0 } })));
    await new Promise((r) => setTimeout(r, 3000));
    const pids = seatsUsage.flatMap((u) => u.processes);
    const parts = new Map(pids.map((p) => [p, partOf(p)]));
    const before = new Map(pids.map((p) => [p, cpuTicks([p])]));
    const c0 = cpuTicks(pids);
    await new Promise((r) => setTimeout(r, 10_000));
    const idleCpu = ((cpuTicks(pids) - c0) / TICKS_PER_S / 10) * 100 / n;
    const breakdown: Breakdown = {};
    for (const p of pids) {
      const part = parts.get(p)!;
      const b = (breakdown[part] ??= { processes: 0, rssMiB: 0, idleCpuPct: 0 });
      b.processes += 1 / n;
      b.rssMiB += rssMiB(p) / n;
      b.idleCpuPct += ((cpuTicks([p]) - before.get(p)!) / TICKS_PER_S / 10) * 100 / n;
    }
    for (const b of Object.values(breakdown)) { b.processes = round1(b.processes); b.rssMiB = Math.round(b.rssMiB); b.idleCpuPct = round1(b.idleCpuPct); }
    const echoP95Ms = Math.max(...perSeat.map((s) => s.echoP95));
    const checkMaxMs = Math.max(...perSeat.map((s) => s.checkMs));
    return {
      seats: n, echoP95Ms: round1(echoP95Ms), checkMaxMs: Math.round(checkMaxMs), memoryPerSeatMiB: Math.round(memory),
      processesPerSeat: round1(procs), idleCpuPerSeatPct: round1(idleCpu),
      withinBudget: perSeat.every((s) => s.ok) && echoP95Ms < ECHO_P95_BUDGET_MS && checkMaxMs < CHECK_BUDGET_MS,
      misses: perSeat.flatMap((s, i) => [
        ...(s.answer ? [`seat ${i + 1}: ${s.answer}`] : []),
        ...(s.echoP95 >= ECHO_P95_BUDGET_MS ? [`seat ${i + 1}: echo p95 ${round1(s.echoP95)} ms`] : []),
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
  log(`seats per machine: ${topology} seats, traffic 5 ops/s, on ${cpus().length} cores; `
    + `budgets: echo p95 < ${ECHO_P95_BUDGET_MS} ms, check < ${CHECK_BUDGET_MS} ms`);
  const reference = await measure(1, topology, log);
  const ref = reference;
  log(`  reference, 1 seat alone: echo p95 ${ref.echoP95Ms} ms, check ${ref.checkMaxMs} ms, ${ref.memoryPerSeatMiB} MiB, `
    + `${ref.processesPerSeat} processes, idle CPU ${ref.idleCpuPerSeatPct}% of a core`);
  log('  where a seat\'s cost goes (one seat, traffic paused):');
  for (const [part, b] of Object.entries(reference.perSeat).sort((a, b) => b[1].rssMiB - a[1].rssMiB)) {
    const [procs, rss, cpu] = [String(b.processes).padStart(4), String(b.rssMiB).padStart(5), String(b.idleCpuPct).padStart(5)];
    log(`    ${part.padEnd(17)} ${procs} processes  ${rss} MiB resident  ${cpu}% of a core`);
  }
  const rounds: Round[] = [];
  let most = reference.withinBudget ? 1 : 0;
  for (const n of series) {
    const r = await measure(n, topology, log);
    rounds.push(r);
    const [echoX, checkX] = [round1(r.echoP95Ms / reference.echoP95Ms), round1(r.checkMaxMs / Math.max(1, reference.checkMaxMs))];
    log(`  N=${n}: echo p95 ${r.echoP95Ms} ms (x${echoX} of one seat), check ${r.checkMaxMs} ms (x${checkX}), ${r.memoryPerSeatMiB} MiB/seat, `
      + `idle CPU ${r.idleCpuPerSeatPct}%/seat: ${r.withinBudget ? 'within budget' : 'MISSES the budget'}`);
    if (!r.withinBudget) { for (const m of r.misses) log(`    ${m}`); break; }
    most = n;
  }
  log(`seats per machine within budget: ${most}${rounds.every((r) => r.withinBudget) ? ' (at least: the series ended first)' : ''}`);
  return { topology, reference, rounds, seatsWithinBudget: most };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
