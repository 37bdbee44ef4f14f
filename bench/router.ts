// npm run bench:router: the router benchmark on its own (see router.bench.ts).
import { run } from './router.bench.js';

const i = process.argv.indexOf('--count');
await run({ count: i >= 0 ? Number(process.argv[i + 1]) : undefined });
process.exit(0);
