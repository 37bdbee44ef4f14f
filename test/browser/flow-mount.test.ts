// The flow view and backend panel mounted by hand, as the deck mounts them:
// on a stream that has already delivered events (a second demo slide on the
// same stream), and in containers of slide size, where nothing may be cut
// off or drawn over a node. The widgets are built into a small page of their
// own for this, so the test needs no lab server plugins and no backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { syntheticRecording } from '../../widgets/flow/synthetic.js';
import { browserSkipReason, launchBrowser, openPage, ROOT, screenshot } from '../helpers/browser.js';

const skip = browserSkipReason();
let server: LabServer;
let browser: Browser;
let dir: string;

/** Build a page that only exposes the widgets and the replay stream, for the test to mount. */
async function buildHarness(into: string): Promise<string> {
  const src = join(into, 'src');
  const out = join(into, 'web');
  const rel = (p: string) => relative(src, join(ROOT, p)).replace(/\\/g, '/');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'index.html'), `<!doctype html><html><head><meta charset="utf-8"><title>widgets</title>
<style>html,body{margin:0;background:#0d1117} .box{position:absolute;left:0;top:0;overflow:hidden}</style></head>
<body class="hm-page"><script type="module" src="./main.ts"></script></body></html>`);
  writeFileSync(join(src, 'main.ts'), `
import { mountFlowView } from '${rel('widgets/flow/index.js')}';
import { mountBackendPanel } from '${rel('widgets/panel/index.js')}';
import { LabClient, ReplayStream } from '${rel('widgets/api/index.js')}';
(window as any).hm = { mountFlowView, mountBackendPanel, LabClient, ReplayStream };
document.body.dataset.ready = '1';
`);
  const { build } = await import('vite');
  await build({ root: src, configFile: false, logLevel: 'warn', base: '/', build: { outDir: out, emptyOutDir: true, target: 'es2022' } });
  return out;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'hmlab-flow-mount-'));
  const web = await buildHarness(dir);
  server = await startLabServer({ home: join(dir, 'home'), port: 0, token: 'm'.repeat(48), plugins: [], webRoot: web });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function harness(size = { width: 1280, height: 720 }): Promise<{ page: Page; errors: string[] }> {
  const r = await openPage(browser, size);
  await r.page.route('**/recordings/synthetic.jsonl', (route) => route.fulfill({
    status: 200, contentType: 'application/x-ndjson',
    body: syntheticRecording({ durationMs: 20_000, messagesPerSecond: 60, killRouterAt: 2_000, startT: Date.now() }),
  }));
  // The test runner keeps function names with a helper that does not exist in the page.
  await r.page.addInitScript({ content: 'window.__name = (f) => f;' });
  await r.page.goto(`${server.url}/`);
  await r.page.locator('body[data-ready="1"]').waitFor({ state: 'attached' });
  return r;
}

/** Start the synthetic replay in the page, as window.stream; wait until it has played for `ms`. */
async function playFor(page: Page, ms: number): Promise<void> {
  await page.evaluate(async (wait) => {
    const w = window as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    w.stream = new w.hm.ReplayStream({ name: 'synthetic' });
    await w.stream.ready;
    await new Promise((r) => setTimeout(r, wait));
  }, ms);
}

/** Mount a flow view (and optionally the panel) in a new box of the given size at (x, y). */
async function mount(page: Page, id: string, box: { x: number; y: number; w: number; h: number }, withPanel = false): Promise<void> {
  await page.evaluate(({ id, box, withPanel }) => {
    const w = window as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const el = document.createElement('div');
    el.id = id;
    el.className = 'box';
    Object.assign(el.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${box.w}px`, height: `${box.h}px` });
    document.body.append(el);
    w.hm.mountFlowView(el, w.stream, { charts: false });
    if (withPanel) {
      const p = document.createElement('div');
      p.id = `${id}-panel`;
      p.className = 'box';
      Object.assign(p.style, { left: `${box.x + box.w + 10}px`, top: `${box.y}px`, width: '440px', height: `${box.h}px` });
      document.body.append(p);
      w.hm.mountBackendPanel(p, new w.hm.LabClient(), w.stream);
    }
  }, { id, box, withPanel });
}

test('a flow view mounted on a stream that already delivered events draws the lab at once, without errors', {
  skip: skip ?? false, timeout: 60_000,
}, async () => {
  const { page, errors } = await harness();
  await playFor(page, 3500); // past the kill of router-b at 2 s
  await mount(page, 'first', { x: 0, y: 0, w: 780, h: 560 }, true);
  const first = page.locator('#first');
  // The catch-up alone draws the lab as it is now: router-b already dead.
  for (const r of ['router-a', 'router-c']) await first.locator(`g.router[data-name="${r}"]:not(.dead)`).waitFor({ timeout: 3000 });
  await first.locator('g.router.dead[data-name="router-b"]').waitFor({ timeout: 3000 });
  await page.locator('#first-panel tr[data-component="router-b"][data-state="failed"]').waitFor({ timeout: 3000 });
  // A second view on the same stream (the other demo slide) works as well.
  await mount(page, 'second', { x: 0, y: 570, w: 500, h: 140 });
  await page.locator('#second g.router[data-name="router-a"]').waitFor({ timeout: 3000 });
  const calls = () => first.locator('[data-testid="flow-totals"] .row[data-kind="rpc.call"]').getAttribute('data-total').then(Number);
  const c1 = await calls();
  await page.waitForTimeout(1500);
  assert.ok((await calls()) > c1, 'counters keep rising after a late mount');
  await screenshot(page, 'flow-mount-late');
  assert.deepEqual(errors, [], 'no page or console errors');
  await page.context().close();
});

/** What would look broken in a box of this size: cut-off header or counters, side column over a node, tiny text, a panel wider than its column. */
function inspect(page: Page, id: string): Promise<{ problems: string[]; minDiagramPx: number; minSidePx: number }> {
  return page.evaluate((id) => {
    const problems: string[] = [];
    const box = document.getElementById(id)!;
    const within = (inner: DOMRect, outer: DOMRect) =>
      inner.left >= outer.left - 1 && inner.right <= outer.right + 1 && inner.top >= outer.top - 1 && inner.bottom <= outer.bottom + 1;
    const overlap = (a: DOMRect, b: DOMRect) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const clipped = (el: Element) => el.scrollWidth > el.clientWidth + 1;
    const bar = box.querySelector('.hm-flow-bar')!;
    const barBox = bar.getBoundingClientRect();
    for (const c of bar.children) {
      if (!(c instanceof HTMLElement) || getComputedStyle(c).display === 'none' || !c.textContent) continue;
      if (!within(c.getBoundingClientRect(), barBox) || clipped(c)) problems.push(`header "${c.textContent}" is cut off`);
    }
    const side = box.querySelector('[data-testid="flow-side"]')!.getBoundingClientRect();
    const nodes = [...box.querySelectorAll('g.router, g.service, g.broker')];
    for (const n of nodes) if (overlap(n.getBoundingClientRect(), side)) problems.push(`the side column covers ${n.getAttribute('data-name')}`);
    const totals = box.querySelector('[data-testid="flow-totals"]')!;
    for (const row of totals.querySelectorAll('.row')) {
      for (const c of row.children) {
        if (!within(c.getBoundingClientRect(), totals.getBoundingClientRect())) problems.push(`counter "${row.textContent}" is cut off`);
      }
    }
    const stage = box.querySelector('.hm-flow-stage')!.getBoundingClientRect();
    for (const n of nodes) if (!within(n.getBoundingClientRect(), stage)) problems.push(`${n.getAttribute('data-name')} leaves the diagram`);
    let minDiagramPx = Infinity;
    for (const t of box.querySelectorAll('svg text')) {
      if (!t.textContent?.trim()) continue;
      const m = (t as SVGGraphicsElement).getScreenCTM();
      minDiagramPx = Math.min(minDiagramPx, parseFloat(getComputedStyle(t).fontSize) * (m ? Math.hypot(m.a, m.b) : 1));
    }
    let minSidePx = Infinity;
    for (const t of box.querySelectorAll('.hm-flow-bar *, [data-testid="flow-totals"] *')) {
      if (t.children.length || !t.textContent?.trim() || getComputedStyle(t).display === 'none') continue;
      minSidePx = Math.min(minSidePx, parseFloat(getComputedStyle(t).fontSize));
    }
    const panel = document.getElementById(`${id}-panel`);
    if (panel) {
      const root = panel.querySelector('[data-testid="backend-panel"]')!;
      const pb = panel.getBoundingClientRect();
      if (clipped(root)) problems.push('the panel is wider than its column');
      for (const b of root.querySelectorAll('tr[data-component] button')) {
        if (b.getBoundingClientRect().right > pb.right + 1) problems.push(`button "${b.getAttribute('title')}" is cut off`);
      }
    }
    return { problems, minDiagramPx, minSidePx };
  }, id);
}

for (const [label, size] of [['slide', { w: 774, h: 420 }], ['small window', { w: 780, h: 560 }], ['wide', { w: 1240, h: 640 }]] as const) {
  const title = `at ${label} size (${size.w}x${size.h}) the header and counters are whole and nothing covers a node`;
  test(title, { skip: skip ?? false, timeout: 60_000 }, async () => {
    const { page, errors } = await harness({ width: 1800, height: 900 });
    await playFor(page, 3500); // router-b dead: a notice in the side column
    await mount(page, 'view', { x: 0, y: 0, w: size.w, h: size.h }, true);
    await page.locator('#view g.router.dead[data-name="router-b"]').waitFor();
    await page.getByTestId('flow-banner').getByText(/router-b is down/).waitFor();
    await page.waitForTimeout(600);
    const r = await inspect(page, 'view');
    await page.screenshot({ path: await screenshot(page, `flow-mount-${size.w}x${size.h}`), clip: { x: 0, y: 0, width: size.w + 460, height: size.h } });
    assert.deepEqual(r.problems, []);
    // Readable from a room: the diagram scales down, but not below these.
    assert.ok(r.minDiagramPx >= 11, `smallest diagram text ${r.minDiagramPx.toFixed(1)} px`);
    assert.ok(r.minSidePx >= 13, `smallest header or counter text ${r.minSidePx.toFixed(1)} px`);
    const compact = await page.locator('#view [data-testid="flow-view"]').getAttribute('data-size');
    assert.equal(compact, size.w < 1000 ? 'compact' : 'wide');
    assert.match(await page.locator('#view [data-testid="flow-router-product"]').innerText(), /embedded router/, 'the header still says which router runs');
    assert.deepEqual(errors, []);
    await page.context().close();
  });
}
