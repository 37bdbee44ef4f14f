import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

function findPackageJson(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try { return readFileSync(join(d, 'package.json'), 'utf8'); } catch { d = dirname(d); }
  }
  return '{"version":"0.0.0"}';
}
export const VERSION: string = JSON.parse(findPackageJson()).version;
