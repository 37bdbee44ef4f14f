#!/usr/bin/env node
// Entry of the `hmlab` command: runs the compiled CLI (npm run build).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, 'dist', 'server', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error('hmlab: the project is not built yet. Run "npm run build" in ' + root + ' first.');
  process.exit(2);
}
await import(pathToFileURL(main).href);
