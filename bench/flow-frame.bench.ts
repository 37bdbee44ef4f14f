// Flow view frame time: the standalone flow page in headless Chromium at
// 1280x720, fed a recording of 1,000 message events per second (a hybrid
// mesh with a router kill and failover half way), through the same replay
// path a demo uses. Reports script time per frame (target p95 under 16 ms)
// and the time between frames (dropped frames show as gaps over 16.7 ms).
//   node --import tsx bench/flow-frame.bench.ts [--seconds 10] [--rate 1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLabServer } from '../server/http/index.js';
import { syntheticRecording } from '../widgets/flow/synthetic.js';
import type { FlowViewStats } from '../widgets/flow/types.js';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, screenshot, WEB_ROOT } from '../test/helpers/browser.js';

export const TARGET_P95_MS = 16;

export interface FlowFrameResult {
  eventsPerSecond: number; // message events fed by the recording
  receivedPerSecond: number; // all events the view took in, measured
  seconds: number;
  frames: number;
  frameWorkMs: { p50: number; p95: number; max: number };
  frameIntervalMs: { p50: number; p95: number };
  particles: FlowViewStats['particles'];
  skipped?: string;
}

export async function run(opts: { seconds?: number; rate?: number; log?: (s: string) => void } = {}): Promise<FlowFrameResult[]> {
  const seconds = opts.seconds ?? 10;
  const rate = opts.rate ?? 1000;
  const skip = browserSkipReason();
  const empty = {
    eventsPerSecond: rate, receivedPerSecond: 0, seconds, frames: 0,
    frameWorkMs: { p50: NaN, p95: NaN, max: NaN }, frameIntervalMs: { p50: NaN, p95: NaN },
    particles: { active: 0, spawned: 0, aggregated: 0, pending: 0 },
  };
  if (skip) { opts.log?.(`flow frame time: skipped, ${skip}`); return [{ ...empty, skipped: skip }]; }
  ensureWebBuild();
  const home = mkdtempSync(join(tmpdir(), 'hmlab-bench-flow-'));
  const server = await startLabServer({ home, port: 0, token: 'b'.repeat(48), plugins: [], webRoot: WEB_ROOT });
  const browser = await launchBrowser();
  try {
    const { page } = await openPage(browser);
    const warmup = 3;
    const body = syntheticRecording({
      durationMs: (warmup + seconds + 2) * 1000, messagesPerSecond: rate, killRouterAt: (warmup + seconds / 2) * 1000, startT: Date.now(),
    });
    await page.route('**/recordings/bench-flow.jsonl', (r) => r.fulfill({ status: 200, contentType: 'application/x-ndjson', body }));
    await page.goto(`${server.url}/flow?replay=bench-flow`);
    await page.locator('g.router[data-name="router-a"]').waitFor({ timeout: 20_000 });
    await page.waitForTimeout(warmup * 1000);
    await page.evaluate(() => (window as unknown as { hmlabFlow: { view: { resetStats(): void } } }).hmlabFlow.view.resetStats());
    await page.waitForTimeout(seconds * 1000);
    const st = await page.evaluate(() => (window as unknown as { hmlabFlow: { view: { stats(): FlowViewStats } } }).hmlabFlow.view.stats());
    await screenshot(page, 'bench-flow-frame');
    const result: FlowFrameResult = {
      eventsPerSecond: rate,
      receivedPerSecond: Math.round(st.events / seconds),
      seconds,
      frames: st.frames,
      frameWorkMs: { p50: round(st.frameWorkMs.p50), p95: round(st.frameWorkMs.p95), max: round(st.frameWorkMs.max) },
      frameIntervalMs: { p50: round(st.frameIntervalMs.p50), p95: round(st.frameIntervalMs.p95) },
      particles: st.particles,
    };
    opts.log?.(report([result]));
    return [result];
  } finally {
    await browser.close();
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

export function report(results: FlowFrameResult[]): string {
  const machine = `${cpus()[0]?.model.replace(/\s+/g, ' ').trim()} x${cpus().length}`;
  const lines = [`flow view frame time, headless Chromium 1280x720 (${machine})`,
    `events/s fed | events/s taken in | frames | work p50 ms | work p95 ms (target < ${TARGET_P95_MS}) | work max ms | ` +
      'frame interval p50 / p95 ms | particles spawned / aggregated'];
  for (const r of results) {
    if (r.skipped) { lines.push(`skipped: ${r.skipped}`); continue; }
    const p95 = `${r.frameWorkMs.p95}${r.frameWorkMs.p95 < TARGET_P95_MS ? ' ok' : ' OVER TARGET'}`;
    lines.push(`${r.eventsPerSecond} | ${r.receivedPerSecond} | ${r.frames} | ${r.frameWorkMs.p50} | ${p95} | ${r.frameWorkMs.max} | ` +
      `${r.frameIntervalMs.p50} / ${r.frameIntervalMs.p95} | ${r.particles.spawned} / ${r.particles.aggregated}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (n: string, d: number) => { const i = process.argv.indexOf(n); return i > 0 ? Number(process.argv[i + 1]) : d; };
  const results = await run({ seconds: arg('--seconds', 10), rate: arg('--rate', 1000) });
  process.stdout.write(report(results) + '\n');
}
