// Build step: every lab file must parse, so a broken lab fails `npm run build`
// with file and line instead of failing in front of a learner.
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { loadLabs } from './catalog.js';

const dir = process.argv[2] ?? join(PACKAGE_ROOT, 'labs');
const { labs, errors } = loadLabs(dir, process.argv[2] ? process.cwd() : PACKAGE_ROOT);
if (errors.length) {
  for (const e of errors) process.stderr.write(`${e.message}\n`);
  process.stderr.write(`lab files: ${errors.length} error(s)\n`);
  process.exit(1);
}
process.stdout.write(`lab files: ${labs.length} labs valid (${labs.reduce((n, l) => n + l.actions.filter((a) => a.kind === 'check').length, 0)} checks)\n`);
