// Deck benchmark: the JavaScript a browser must load before the first slide
// (gzipped; target under 400 KB, the live widgets load later, on the demo
// slides), and the time from navigation to the first slide drawn, on
// loopback with a cold cache (target under 1 s).
//   node --import tsx bench/slides-deck.bench.ts [--runs 5]
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, WEB_ROOT, serveStaticBuild } from '../test/helpers/browser.js';
import { percentile } from '../common/stats.js';

const TARGET_INITIAL_JS_KB = 400;
const TARGET_FIRST_SLIDE_MS = 1000;

export interface SlidesBenchResult {
  initialJsKb: number; // gzipped: the entry and every module it preloads
  initialCssKb: number; // gzipped
  liveJsKb: number; // gzipped: chunks loaded only on demo or measurement slides
  firstSlideMs: { p50: number; max: number; runs: number } | null;
  skipped?: string;
}

const gz = (file: string) => gzipSync(readFileSync(file)).length / 1024;
const round = (x: number) => Math.round(x * 10) / 10;

/** The deck page's own script and stylesheet references, as Vite wrote them. */
export function initialAssets(webRoot = WEB_ROOT): { js: string[]; css: string[] } {
  const html = readFileSync(join(webRoot, 'slides', 'index.html'), 'utf8');
  const refs = (re: RegExp) => [...html.matchAll(re)].map((m) => join(webRoot, m[1].replace(/^\//, '')));
  return {
    js: [...refs(/<script[^>]+src="([^"]+\.js)"/g), ...refs(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)],
    css: refs(/<link[^>]+rel="stylesheet"[^>]+href="([^"]+\.css)"/g),
  };
}

/** Chunks the deck imports only on demand (dynamic import() in its entry's graph). */
function lazyChunks(js: string[], webRoot = WEB_ROOT): string[] {
  const seen = new Set(js);
  const lazy = new Set<string>();
  const queue = [...js];
  while (queue.length) {
    const f = queue.shift()!;
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/import\(\s*["'`]\.?\.?\/?([^"'`]+\.js)["'`]\s*\)|["'`](\/?assets\/[^"'`]+\.js)["'`]/g)) {
      const name = (m[1] ?? m[2]).replace(/^\.?\//, '').replace(/^assets\//, '');
      const file = join(webRoot, 'assets', name.split('/').pop()!);
      if (!existsSync(file) || seen.has(file)) continue;
      seen.add(file);
      lazy.add(file);
      queue.push(file);
    }
  }
  return [...lazy];
}

export async function run(opts: { runs?: number; log?: (s: string) => void } = {}): Promise<SlidesBenchResult[]> {
  const runs = opts.runs ?? 5;
  ensureWebBuild();
  const { js, css } = initialAssets();
  const result: SlidesBenchResult = {
    initialJsKb: round(js.reduce((a, f) => a + gz(f), 0)),
    initialCssKb: round(css.reduce((a, f) => a + gz(f), 0)),
    liveJsKb: round(lazyChunks(js).reduce((a, f) => a + gz(f), 0)),
    firstSlideMs: null,
  };
  const skip = browserSkipReason();
  if (skip) {
    result.skipped = skip;
    opts.log?.(report([result]));
    return [result];
  }
  // A plain static server: the deck's first slide needs no lab.
  const site = await serveStaticBuild();
  const url = `${site.base}/slides/`;
  const browser = await launchBrowser();
  try {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { page } = await openPage(browser); // a fresh context: cold cache every run
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as { hmDeck?: { ready: boolean } }).hmDeck?.ready === true);
      // Ready means reveal.js laid the first slide out; wait for it to be painted.
      const ms = await page.evaluate(() => new Promise<number>((resolve) =>
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())))));
      times.push(ms);
      await page.context().close();
    }
    times.sort((a, b) => a - b);
    result.firstSlideMs = { p50: Math.round(percentile(times, 50)), max: Math.round(times[times.length - 1]), runs };
  } finally {
    await browser.close();
    await site.close();
  }
  opts.log?.(report([result]));
  return [result];
}

export function report(results: SlidesBenchResult[]): string {
  const machine = `${cpus()[0]?.model.replace(/\s+/g, ' ').trim()} x${cpus().length}`;
  const lines = [`deck: initial JavaScript and time to first slide, headless Chromium 1280x720 over loopback (${machine})`];
  for (const r of results) {
    const jsVerdict = r.initialJsKb < TARGET_INITIAL_JS_KB ? ' ok' : ' OVER TARGET';
    lines.push(`initial JS ${r.initialJsKb} KB gzipped (target < ${TARGET_INITIAL_JS_KB})${jsVerdict}; ` +
      `CSS ${r.initialCssKb} KB; live widgets later ${r.liveJsKb} KB`);
    if (r.skipped) lines.push(`time to first slide: skipped, ${r.skipped}`);
    else if (r.firstSlideMs) {
      const verdict = r.firstSlideMs.p50 < TARGET_FIRST_SLIDE_MS ? ' ok' : ' OVER TARGET';
      lines.push(`time to first slide: p50 ${r.firstSlideMs.p50} ms, max ${r.firstSlideMs.max} ms ` +
        `over ${r.firstSlideMs.runs} cold loads (target < ${TARGET_FIRST_SLIDE_MS})${verdict}`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--runs');
  const results = await run({ runs: i > 0 ? Number(process.argv[i + 1]) : 5 });
  process.stdout.write(report(results) + '\n');
}
