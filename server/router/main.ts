// Process entry of one router without the rest of the CLI:
// `node dist/server/router/main.js -c FILE` equals `hmlab router -c FILE`.
import { runRouter } from './process.js';

const i = process.argv.findIndex((a) => a === '-c' || a === '--config');
const file = i >= 0 ? process.argv[i + 1] : undefined;
if (!file) {
  process.stderr.write('usage: router -c FILE.conf\n');
  process.exit(2);
}
try {
  await runRouter(file);
} catch (err) {
  process.stderr.write(`hmlab router: ${(err as Error).message}\n`);
  process.exit(1);
}
