// Issue 13: no source line over 160 characters, so code reads without side
// scrolling in a review or on a projector. Checks the tracked files only, so
// generated and vendored files (public/, node_modules) never count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX = 160;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PATTERNS = ['*.ts', '*.js', '*.mjs', '*.py'];

/** The tracked source files, or why they cannot be listed. */
function trackedSources(): { files: string[] } | { reason: string } {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '-z', '--', ...PATTERNS], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') return { reason: 'git is not installed' };
    return { reason: `${ROOT} is not a git checkout (${String(err.stderr ?? err.message).trim().split('\n')[0]})` };
  }
  const files = out.split('\0').filter((f) => f && !f.startsWith('public/') && !f.split('/').includes('node_modules'));
  return { files };
}

test(`no tracked source line is over ${MAX} characters`, (t) => {
  const listed = trackedSources();
  if ('reason' in listed) {
    t.skip(`cannot list the tracked source files: ${listed.reason}`);
    return;
  }
  assert.ok(listed.files.length > 0, 'git ls-files listed no source file');
  const long: string[] = [];
  for (const file of listed.files) {
    let text: string;
    try {
      text = readFileSync(join(ROOT, file), 'utf8');
    } catch {
      continue; // tracked but deleted in the work tree: nothing to read
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const length = [...line].length; // characters, not UTF-16 units
      if (length > MAX) long.push(`${file}:${i + 1} (${length} characters)`);
    });
  }
  assert.deepEqual(long, [], `lines over ${MAX} characters; wrap them:\n${long.join('\n')}`);
});
