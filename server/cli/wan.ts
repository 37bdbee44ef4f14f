// hmlab wan [cut [--silent] | heal] [--delay 80ms] [--jitter 5ms] [--rate 10mbit]:
// show or change the WAN link between the regions of a multi-region lab. The
// relay in region 2 applies the change within 100 ms.
import type { Command } from 'commander';
import type { WanStatus } from '../../common/wire.js';
import { LabError, firstCrossRegionSuccess, openLab, type WanChange } from '../backends/index.js';
import { formatRate, parseDuration, parseRate } from '../isolation/index.js';
import { CliError } from './errors.js';

/** One line for `hmlab status` and `hmlab wan`. */
export function formatWan(w: WanStatus): string {
  const jitter = w.jitterMs ? ` +- ${w.jitterMs} ms` : '';
  const shape = `delay ${w.delayMs} ms each way${jitter}, rate cap ${formatRate(w.rateBitsPerS)}, inter-router cost ${w.cost}`;
  const since = Math.round((Date.now() - w.changedAt) / 1000);
  const relaysDown = w.relays.filter((r) => !r.running).map((r) => r.name);
  const state = w.state === 'up' ? 'UP' : w.cutMode === 'silent' ? 'CUT SILENTLY' : 'CUT';
  return [
    `WAN ${w.regions.map((r) => r.name).join(' <-> ')}: ${state} (for ${since} s); ${shape}`,
    ...(w.state === 'cut' && w.cutMode === 'silent'
      ? ['  silent cut: no byte crosses either way and the connections stay open; the routers drop them when their idle timeout or heartbeats run out']
      : []),
    ...w.regions.map((r) => `  ${r.name} (namespace ${r.namespace}): ${r.components.join(', ')}`),
    ...(relaysDown.length ? [`  relay not running: ${relaysDown.join(', ')}: run "hmlab down" and "hmlab up --topology multi-region"`] : []),
  ].join('\n');
}

const HEAL_WAIT_MS = 60_000;

export function registerWanCommands(program: Command): void {
  program.command('wan [action]')
    .description('show the WAN link between the regions (multi-region), change its delay, jitter and rate cap, or "cut" / "heal" it')
    .option('--home <dir>', 'lab home folder (default: $HMLAB_HOME or ~/.hmlab/lab)')
    .option('--delay <time>', 'added delay each way, e.g. 80ms')
    .option('--jitter <time>', 'random variation around the delay, each way, e.g. 5ms')
    .option('--rate <rate>', 'bandwidth cap each way, as tc writes it: 10mbit, 512kbit, or none')
    .option('--silent', 'cut: black-hole the link (no byte either way, connections left open) instead of closing its connections')
    .option('--no-wait', 'heal: do not wait for the first cross-region call to succeed')
    .action(async (action: string | undefined, opts: { home?: string; delay?: string; jitter?: string; rate?: string; silent?: boolean; wait: boolean }) => {
      if (action !== undefined && action !== 'cut' && action !== 'heal') {
        throw new CliError(`wan: unknown action "${action}": use "hmlab wan" (show), "hmlab wan cut", "hmlab wan heal", or --delay/--jitter/--rate`, 2);
      }
      const change: WanChange = {};
      try {
        if (opts.delay !== undefined) change.delayMs = parseDuration(opts.delay, '--delay');
        if (opts.jitter !== undefined) change.jitterMs = parseDuration(opts.jitter, '--jitter');
        if (opts.rate !== undefined) change.rateBitsPerS = parseRate(opts.rate);
      } catch (err) {
        throw new CliError(`wan: ${(err as Error).message}`, 2);
      }
      if (opts.silent && action !== 'cut') throw new CliError('wan: --silent says how to cut: "hmlab wan cut --silent"', 2);
      if (action) change.state = action === 'cut' ? 'cut' : 'up';
      if (action === 'cut') change.cutMode = opts.silent ? 'silent' : 'close';
      const env = openLab(opts.home);
      let w: WanStatus | null;
      try {
        w = Object.keys(change).length ? await env.setWan(change) : env.wanStatus();
      } catch (err) {
        if (err instanceof LabError) throw new CliError(`wan: ${err.message}`, err.code === 'bad-input' ? 2 : 1);
        throw err;
      }
      if (!w) throw new CliError(`wan: this lab (${env.state()?.topology ?? 'not running'}) has no WAN: "hmlab up --topology multi-region" makes one`);
      process.stdout.write(formatWan(w) + '\n');
      if (action === 'heal' && opts.wait) {
        // The clock starts at the heal; the conductor's next call answered by a
        // server in region 2 (by name or to the topic) stops it.
        const healedAt = w.changedAt;
        const rate = env.state()?.trafficRate ?? 0;
        if (rate <= 0) { process.stdout.write('conductor traffic is paused ("hmlab traffic 5" resumes it): not waiting for a cross-region call\n'); return; }
        process.stdout.write('waiting for the first cross-region call to succeed...\n');
        const deadline = Date.now() + HEAL_WAIT_MS;
        while (Date.now() < deadline) {
          const first = firstCrossRegionSuccess(env.paths, healedAt);
          if (first) {
            const who = `${first.answeredBy ?? first.target?.server}${first.target?.server ? '' : ', a call to the topic'}`;
            process.stdout.write(`heal to first success: ${((first.t - healedAt) / 1000).toFixed(2)} s (conductor -> ${who}, ${first.latencyMs} ms)\n`);
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new CliError(`wan: no call to region 2 succeeded within ${HEAL_WAIT_MS / 1000} s of the heal: see "hmlab status" and "hmlab logs router-c"`);
      }
    });
}
