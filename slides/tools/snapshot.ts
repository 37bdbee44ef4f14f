// Pictures of the live demos for the print export and the speaker
// view: each recording is replayed in the deck's own demo slide, and the
// flow view and backend panel are photographed at the moment that tells the
// story (failover: a few seconds after the router died; dual backends:
// notifications flowing into their queue and telemetry consuming them, as
// the caption says, or the middle of the run; regions: a few seconds into
// the WAN cut).
//   node --import tsx slides/tools/snapshot.ts [dual-backends|failover|regions ...]
// Writes slides/snapshots/NAME.png; run "npm run build" afterwards.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWebBuild, launchBrowser, openPage, ROOT, serveStaticBuild } from '../../test/helpers/browser.js';

const DEMOS = { 'dual-backends': 'demo-dual', failover: 'demo-failover', regions: 'demo-regions' } as const;
type Demo = keyof typeof DEMOS;

interface Line {
  type: string;
  t: number;
  name?: string;
  state?: string;
  snapshot?: { queues?: { messages?: number; consumers?: number; deliverRate?: number }[] };
  status?: { wan?: { state: string } | null };
}

/** Milliseconds into the recording worth showing. */
export function momentOf(name: Demo, text: string): number {
  const events = text.split('\n').slice(1).filter((l) => l.trim()).map((l) => JSON.parse(l) as Line);
  if (!events.length) throw new Error(`recording ${name} holds no events`);
  const t0 = events[0].t;
  const end = events[events.length - 1].t - t0;
  if (name === 'regions') {
    // The partition: a few seconds after the WAN was cut.
    const cut = events.find((e) => e.status?.wan?.state === 'cut');
    if (cut) return Math.min(end, cut.t - t0 + 5000);
  } else if (name === 'failover') {
    const routerBDown = (e: Line) => e.type === 'component' && e.name === 'router-b' && (e.state === 'failed' || e.state === 'stopped');
    const died = events.find((e) => routerBDown(e) || e.type === 'failover');
    if (died) return Math.min(end, died.t - t0 + 4000);
  } else {
    // A few seconds into notifications being delivered to their consumer.
    const flowing = events.find((e) => e.type === 'broker' && (e.snapshot?.queues ?? []).some((q) => (q.consumers ?? 0) > 0 && (q.deliverRate ?? 0) > 0));
    if (flowing) return Math.min(end, flowing.t - t0 + 6000);
  }
  return Math.round(end * 0.6);
}

const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(DEMOS)) as Demo[];
for (const w of wanted) if (!(w in DEMOS)) { process.stderr.write(`snapshot: unknown demo "${w}": use ${Object.keys(DEMOS).join(' or ')}\n`); process.exit(2); }

ensureWebBuild();
const site = await serveStaticBuild();
const base = site.base;
const outDir = join(ROOT, 'slides', 'snapshots');
mkdirSync(outDir, { recursive: true });
const browser = await launchBrowser();
try {
  for (const name of wanted) {
    const file = join(ROOT, 'public', 'recordings', `${name}.jsonl`);
    if (!existsSync(file)) { process.stderr.write(`snapshot: ${file} is missing; record it first ("hmlab record")\n`); continue; }
    const at = momentOf(name, readFileSync(file, 'utf8'));
    const { page } = await openPage(browser);
    await page.goto(`${base}/slides/?replay&transition=none#/${DEMOS[name]}`);
    await page.locator('section.present [data-testid="live-source"]').filter({ hasText: /^recorded run/ }).waitFor({ timeout: 20_000 });
    await page.waitForTimeout(at);
    const flow = await page.locator('section.present .live-flow').boundingBox();
    const panel = await page.locator('section.present .live-panel').boundingBox();
    if (!flow || !panel) throw new Error(`the ${name} demo slide shows no flow view or panel`);
    const x = Math.min(flow.x, panel.x);
    const y = Math.min(flow.y, panel.y);
    const clip = { x, y, width: Math.max(flow.x + flow.width, panel.x + panel.width) - x, height: Math.max(flow.y + flow.height, panel.y + panel.height) - y };
    const out = join(outDir, `${name}.png`);
    await page.screenshot({ path: out, clip });
    process.stdout.write(`${out}: ${Math.round(at / 1000)} s into the recording\n`);
    await page.context().close();
  }
} finally {
  await browser.close();
  await site.close();
}
