// `hmlab up --topology broker-only` to ready, next to a bare RabbitMQ start
// measured in the same run with the same configuration, printed as a ratio.
// Target: up within 1.2x of the bare broker start.
//   node --import tsx bench/lab-up.bench.ts [--runs 3]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePortBlock, labPaths, planPorts, processesOfHome, renderRabbitConf } from '../server/backends/index.js';
import { PACKAGE_ROOT } from '../server/paths.js';
import { median } from '../common/stats.js';
import { brokerEnv, RABBITMQ_SERVER } from '../server/backends/components.js';
import { COMPONENT_MARK, stopGroup, waitExit } from '../server/backends/processes.js';

export const TARGET_RATIO = 1.2;

export interface LabUpResult {
  runs: number;
  bareBrokerMs: number[];
  labUpMs: number[];
  medianBareMs: number;
  medianUpMs: number;
  ratio: number;
  target: number;
  machine: string;
}


/** A bare RabbitMQ node with the lab's own configuration, timed to its management API answering. */
async function bareBroker(): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-bare-'));
  const paths = labPaths(home);
  const plan = planPorts(await findFreePortBlock());
  for (const d of [paths.etc, paths.logs, paths.run, join(home, 'data', 'broker')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(paths.etc, 'rabbitmq.conf'), renderRabbitConf(plan));
  writeFileSync(join(paths.etc, 'enabled_plugins'), '[rabbitmq_management].\n');
  writeFileSync(join(paths.etc, 'rabbitmq-env.conf'), '');
  const env = { ...brokerEnv(paths, plan), [COMPONENT_MARK]: paths.home };
  const auth = 'Basic ' + Buffer.from('guest:guest').toString('base64');
  const t0 = performance.now();
  const p = spawn(RABBITMQ_SERVER(), [], { env, detached: true, stdio: 'ignore' });
  try {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${plan.brokerManagement}/api/overview`, {
          headers: { authorization: auth }, signal: AbortSignal.timeout(1000),
        });
        if (r.ok) { await r.arrayBuffer(); break; }
      } catch { /* not yet */ }
      if (performance.now() - t0 > 120_000) throw new Error('the bare broker did not start within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    return performance.now() - t0;
  } finally {
    if (p.pid) { await stopGroup(p.pid, 10_000); await waitExit(p.pid, 5000); }
    for (const q of processesOfHome(home)) { try { process.kill(q.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(home, { recursive: true, force: true });
  }
}

/** The real command a user types, timed until it returns (all components ready). */
async function labUp(): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-up-'));
  const base = await findFreePortBlock();
  const bin = join(PACKAGE_ROOT, 'bin', 'hmlab.js');
  const built = existsSync(join(PACKAGE_ROOT, 'dist', 'server', 'cli', 'main.js'));
  const args = built ? [bin] : ['--import', 'tsx', join(PACKAGE_ROOT, 'server', 'cli', 'main.ts')];
  const run = (extra: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    const p = spawn(process.execPath, [...args, ...extra, '--home', home], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => resolve({ code, out }));
  });
  const t0 = performance.now();
  try {
    const r = await run(['up', '--topology', 'broker-only', '--base-port', String(base)]);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`hmlab up failed:\n${r.out}`);
    return ms;
  } finally {
    await run(['down']);
    for (const q of processesOfHome(home)) { try { process.kill(q.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(home, { recursive: true, force: true });
  }
}

export async function run(opts: { runs?: number; log?: (s: string) => void } = {}): Promise<LabUpResult[]> {
  const runs = opts.runs ?? 3;
  const log = opts.log ?? (() => {});
  const machine = `${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`;
  const bare: number[] = [];
  const up: number[] = [];
  // Alternate, so both see the same machine conditions.
  // A busy shared machine can disturb one sample: one retry, said out loud.
  const sample = async (what: string, fn: () => Promise<number>): Promise<number> => {
    try {
      return await fn();
    } catch (err) {
      log(`${what} failed, measuring again: ${(err as Error).message.split('\n').slice(-3).join(' | ')}`);
      return fn();
    }
  };
  for (let i = 0; i < runs; i++) {
    bare.push(await sample('bare RabbitMQ start', bareBroker));
    log(`bare RabbitMQ start #${i + 1}: ${(bare[i] / 1000).toFixed(2)} s`);
    up.push(await sample('hmlab up', labUp));
    log(`hmlab up --topology broker-only #${i + 1}: ${(up[i] / 1000).toFixed(2)} s`);
  }
  const result: LabUpResult = {
    runs, bareBrokerMs: bare.map(Math.round), labUpMs: up.map(Math.round),
    medianBareMs: Math.round(median(bare)), medianUpMs: Math.round(median(up)), ratio: 0, target: TARGET_RATIO, machine,
  };
  result.ratio = Number((result.medianUpMs / result.medianBareMs).toFixed(2));
  log(`lab up ${(result.medianUpMs / 1000).toFixed(2)} s vs bare broker ${(result.medianBareMs / 1000).toFixed(2)} s (medians of ${runs}): ratio `
    + `${result.ratio}x, target <= ${TARGET_RATIO}x ${result.ratio <= TARGET_RATIO ? 'met' : 'NOT met'} (${machine})`);
  return [result];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const r = await run({ runs, log: (s) => console.log(s) });
  console.log(JSON.stringify(r, null, 2));
}
