// The deck as a PDF, one page per slide, from a running lab server or any
// static copy of the build. Chromium's own --print-to-pdf prints before the
// deck has laid out its print view, so this waits for it first.
//   node --import tsx slides/tools/pdf.ts [DECK_URL] [OUT.pdf]
// DECK_URL (http...) defaults to a static server on dist/web started here;
// OUT.pdf defaults to hybrid-messaging-talk.pdf.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensureWebBuild, launchBrowser, openPage, serveStaticBuild } from '../../test/helpers/browser.js';

const args = process.argv.slice(2);
const urlArg = args.find((a) => /^https?:\/\//.test(a));
const outArg = args.find((a) => a !== urlArg);
const out = resolve(outArg ?? 'hybrid-messaging-talk.pdf');
if (!out.endsWith('.pdf')) {
  process.stderr.write(`pdf: the output file must end in .pdf (got "${outArg}"); usage: pdf.ts [http://HOST:PORT/slides/] [OUT.pdf]\n`);
  process.exit(2);
}

let site: Awaited<ReturnType<typeof serveStaticBuild>> | null = null;
let url = urlArg;
if (!url) {
  ensureWebBuild();
  site = await serveStaticBuild();
  url = `${site.base}/slides/`;
}
const target = new URL(url);
target.search = '?print-pdf';
target.hash = '';

const browser = await launchBrowser();
try {
  const { page, errors } = await openPage(browser);
  await page.goto(target.toString());
  await page.waitForFunction(() => (window as unknown as { hmDeck?: { ready: boolean } }).hmDeck?.ready === true);
  await page.waitForSelector('.pdf-page');
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  await page.emulateMedia({ media: 'print' });
  const pdf = await page.pdf({ width: '1280px', height: '720px', printBackground: true, preferCSSPageSize: true });
  writeFileSync(out, pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
  process.stdout.write(`${out}: ${pages} pages${errors.length ? `\nconsole errors:\n${errors.join('\n')}` : ''}\n`);
} finally {
  await browser.close();
  await site?.close();
}
