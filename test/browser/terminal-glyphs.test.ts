// Terminals on a projector: every glyph of the bundled monospace font drawn
// whole in every row (underscores and descenders used to vanish in every
// other row of the deck at 1440x900), and the presenter terminal showing
// whole rows, its prompt included, at every size the deck is shown at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureWebBuild, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { serveLab, type ServedLab } from '../helpers/serve.js';

const skip = browserSkipReason();
const SAMPLE = 'transport_url _ g y p q |';
const CHECKED = ['_', 'g', 'y', 'p', 'q', '|'];
const SIZES = [{ width: 1440, height: 900 }, { width: 1280, height: 720 }, { width: 1920, height: 1080 }];
let lab: ServedLab | null = null;
let browser: Browser | null = null;

before(async () => {
  if (skip) return;
  ensureWebBuild();
  lab = await serveLab({ prefix: 'hmlab-glyphs-' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await lab?.close();
});

interface Box { x: number; y: number; width: number; height: number }
/** Ink of one glyph cell: how many pixel rows hold a bright pixel, and the widest such row. */
interface Ink { rows: number; widest: number; width: number }

/** Screen boxes of the characters of `SAMPLE` in an element's text, one per checked glyph. */
async function glyphBoxes(page: Page, selector: string, nth: number): Promise<{ ch: string; box: Box }[]> {
  return page.evaluate(({ selector, nth, sample, checked }) => {
    const el = document.querySelectorAll(selector)[nth] as HTMLElement;
    const row = el.getBoundingClientRect();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const out: { ch: string; box: { x: number; y: number; width: number; height: number } }[] = [];
    let pos = 0; // position in the element's whole text
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent ?? '';
      for (let i = 0; i < text.length; i++, pos++) {
        if (pos >= sample.length || !checked.includes(text[i])) continue;
        const r = document.createRange();
        r.setStart(n, i);
        r.setEnd(n, i + 1);
        const b = r.getBoundingClientRect();
        // The whole row's height: a glyph may reach anywhere in its cell.
        out.push({ ch: text[i], box: { x: b.x, y: row.y, width: b.width, height: row.height } });
      }
    }
    return out;
  }, { selector, nth, sample: SAMPLE, checked: CHECKED });
}

/** Measure the ink in boxes of the page as rendered (one screenshot, decoded in the page). */
async function ink(page: Page, boxes: Box[]): Promise<Ink[]> {
  const png = (await page.screenshot()).toString('base64');
  const clips = boxes.map((b) => ({ x: Math.floor(b.x) + 1, y: Math.floor(b.y), width: Math.max(1, Math.floor(b.width) - 2), height: Math.ceil(b.height) }));
  return page.evaluate(async ({ b64, clips }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const c = document.createElement('canvas');
    c.width = bmp.width; c.height = bmp.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    return clips.map((clip) => {
      const d = ctx.getImageData(clip.x, clip.y, clip.width, clip.height).data;
      let rows = 0, widest = 0;
      for (let y = 0; y < clip.height; y++) {
        let lit = 0;
        for (let x = 0; x < clip.width; x++) {
          const i = (y * clip.width + x) * 4;
          if (0.3 * d[i] + 0.59 * d[i + 1] + 0.11 * d[i + 2] > 90) lit++;
        }
        if (lit > 0) rows++;
        widest = Math.max(widest, lit);
      }
      return { rows, widest, width: clip.width };
    });
  }, { b64: png, clips });
}

/**
 * The reference: the same text in the terminal's own font, size and scale,
 * in a plain element with room above and below, where nothing can clip it.
 */
async function referenceInk(page: Page): Promise<Map<string, Ink>> {
  await page.evaluate((sample) => {
    const term = document.querySelector('.hm-terminal') as HTMLElement;
    const rows = getComputedStyle(document.querySelector('.xterm-rows')!);
    const ref = document.createElement('div');
    ref.id = 'glyph-reference';
    Object.assign(ref.style, {
      position: 'absolute', left: '8px', top: '0', zIndex: '50', whiteSpace: 'pre', lineHeight: '3',
      fontFamily: rows.fontFamily, fontSize: rows.fontSize, color: rows.color, background: getComputedStyle(term).backgroundColor,
    });
    ref.textContent = sample;
    term.append(ref);
  }, SAMPLE);
  const out = new Map<string, Ink>();
  const glyphs = await glyphBoxes(page, '#glyph-reference', 0);
  const inks = await ink(page, glyphs.map((g) => g.box));
  glyphs.forEach((g, i) => { if (!out.has(g.ch)) out.set(g.ch, inks[i]); });
  await page.evaluate(() => document.getElementById('glyph-reference')?.remove());
  return out;
}

/** Fill the terminal with the sample in every row and wait for the prompt after it. */
async function fillRows(page: Page): Promise<void> {
  await page.locator('.hm-terminal .xterm').click();
  await page.keyboard.type(`clear; for i in $(seq 60); do echo "${SAMPLE} $i"; done\n`);
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent ?? '');
    let last = rows.length - 1;
    while (last > 0 && rows[last].trim() === '') last--;
    return last > 0 && /\| 60\s*$/.test(rows[last - 1]) && /\$\s*$/.test(rows[last]);
  }, null, { timeout: 20_000 });
  await page.waitForTimeout(300);
}

/** Every row showing the sample draws each checked glyph as whole as the reference does. */
async function assertGlyphsWhole(page: Page, where: string): Promise<number> {
  const ref = await referenceInk(page);
  for (const ch of CHECKED) assert.ok((ref.get(ch)?.rows ?? 0) > 0, `${where}: the reference draws "${ch}"`);
  const texts = await page.locator('.xterm-rows > div').allTextContents();
  const glyphs: { row: number; ch: string; box: Box }[] = [];
  for (let r = 0; r < texts.length; r++) {
    if (texts[r].startsWith(SAMPLE)) for (const g of await glyphBoxes(page, '.xterm-rows > div', r)) glyphs.push({ row: r, ...g });
  }
  const inks = await ink(page, glyphs.map((g) => g.box));
  let checked = 0;
  for (const [i, g] of glyphs.entries()) {
    const got = inks[i];
    const want = ref.get(g.ch)!;
    assert.ok(got.rows >= want.rows - 1,
      `${where}, row ${g.row + 1}: "${g.ch}" has ${got.rows} px of ink in height, the unclipped reference ${want.rows}: the row clips it`);
    if (g.ch === '_') {
      assert.ok(got.widest >= want.widest - 2, `${where}, row ${g.row + 1}: the underscore is ${got.widest} px wide, the reference ${want.widest}`);
    }
    checked++;
  }
  assert.ok(checked >= CHECKED.length * 3, `${where}: checked ${checked} glyphs (want the sample in at least 3 rows)`);
  return checked;
}

/** The terminal's rows all lie inside its box (none cut), the prompt row included. */
async function assertWholeRows(page: Page, box: string, where: string): Promise<void> {
  const m = await page.evaluate((box) => {
    const outer = document.querySelector(box)!.getBoundingClientRect();
    const rows = [...document.querySelectorAll('.xterm-rows > div')];
    const texts = rows.map((r) => r.textContent ?? '');
    let last = texts.length - 1;
    while (last > 0 && texts[last].trim() === '') last--;
    const rects = rows.map((r) => r.getBoundingClientRect());
    return {
      outerTop: outer.top, outerBottom: outer.bottom, lastBottom: rects[rects.length - 1].bottom, firstTop: rects[0].top,
      prompt: texts[last], promptBottom: rects[last].bottom, n: rows.length,
    };
  }, box);
  assert.ok(m.n >= 4, `${where}: at least 4 rows (has ${m.n})`);
  const span = `rows span ${m.firstTop.toFixed(1)}–${m.lastBottom.toFixed(1)} px, ` +
    `the terminal's box ${m.outerTop.toFixed(1)}–${m.outerBottom.toFixed(1)} px`;
  assert.ok(m.firstTop >= m.outerTop - 0.5 && m.lastBottom <= m.outerBottom + 0.5, `${where}: ${span}: the last row is cut`);
  assert.match(m.prompt, /\$\s*$/, `${where}: the prompt shows after the output`);
}

test('the presenter terminal on the demo slide: whole glyphs in every row and whole rows, at 1440x900, 1280x720 and 1920x1080',
  { skip: skip ?? false, timeout: 120_000 }, async () => {
  for (const size of SIZES) {
    const where = `demo slide at ${size.width}x${size.height}`;
    const { page, errors } = await openPage(browser!, size);
    await page.goto(lab!.openUrl);
    await page.goto(new URL('/slides/#/demo-dual', lab!.openUrl).href);
    await page.locator('.live-term .hm-terminal[data-state="open"]').waitFor({ timeout: 20_000 });
    await fillRows(page);
    await screenshot(page, `terminal-glyphs-demo-${size.width}x${size.height}`);
    if (size.width !== 1920) await assertGlyphsWhole(page, where);
    await assertWholeRows(page, '.live-term', where);
    assert.deepEqual(errors, []);
    await page.context().close();
  }
});

test('the lab terminal page: whole glyphs in every row', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const { page, errors } = await openPage(browser!, { width: 1280, height: 720 });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  await page.goto(lab!.openUrl);
  await page.goto(new URL('/terminal?name=glyphs', lab!.openUrl).href);
  await page.locator('.hm-terminal[data-state="open"]').waitFor({ timeout: 20_000 });
  await fillRows(page);
  await screenshot(page, 'terminal-glyphs-page-1280x720');
  await assertWholeRows(page, '.hm-terminal', 'terminal page');
  await assertGlyphsWhole(page, 'terminal page');
  assert.deepEqual(errors, []);
  await page.context().close();
});
