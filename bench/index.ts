// npm run bench [-- NAME ...]: runs every bench/*.bench.ts one after another
// (or only those whose file name contains one of the NAMEs). A bench module
// exports `run({ log })`, logs its own readable lines and returns its
// results, which are printed together as JSON at the end.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule { run(opts: { log?: (s: string) => void }): Promise<unknown> }

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !wanted.length || wanted.some((w) => f.includes(w)))
  .sort();

if (!files.length) {
  console.error(`no bench module matches ${wanted.join(', ')}: the modules are ${readdirSync(here).filter((f) => f.endsWith('.bench.ts')).join(', ')}`);
  process.exit(2);
}

const results: Record<string, unknown> = {};
let failed = 0;
for (const f of files) {
  const name = f.replace(/\.bench\.ts$/, '');
  console.log(`\n== ${name}`);
  const t0 = Date.now();
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') throw new Error(`${f} exports no run() function`);
    results[name] = await mod.run({ log: (s) => console.log(s) });
  } catch (err) {
    failed++;
    results[name] = { error: (err as Error).message };
    console.log(`${name} failed: ${(err as Error).stack ?? err}`);
  }
  console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log('\n' + JSON.stringify(results, null, 2));
process.exit(failed ? 1 : 0);
