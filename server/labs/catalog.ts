// The lab catalog: every labs/<nn-name>/lab.md of the package, parsed and
// validated once. A broken lab file is an error that names file and line.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CHECK_IDS } from './checks/index.js';
import { LabFileError, parseLab, type LabFile } from './format.js';

export const LAB_ID = /^[0-9]{2}-[a-z0-9-]+$/;

export interface LoadResult {
  labs: LabFile[];
  errors: LabFileError[];
}

/** Parse every lab under dir; collect all errors rather than stopping at the first. */
export function loadLabs(dir: string, root = dir): LoadResult {
  const labs: LabFile[] = [];
  const errors: LabFileError[] = [];
  if (!existsSync(dir)) return { labs, errors: [new LabFileError(relative(root, dir) || dir, 1, 'the labs folder does not exist')] };
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || !/^[0-9]{2}-/.test(entry.name)) continue;
    const file = join(dir, entry.name, 'lab.md');
    const shown = relative(root, file);
    if (!LAB_ID.test(entry.name)) {
      errors.push(new LabFileError(shown, 1, `lab folder "${entry.name}" must be named NN-words (digits, then lowercase words joined by -)`));
      continue;
    }
    if (!existsSync(file)) { errors.push(new LabFileError(shown, 1, 'lab folder without lab.md')); continue; }
    try {
      labs.push(parseLab(entry.name, shown, readFileSync(file, 'utf8'), { checkIds: CHECK_IDS }));
    } catch (err) {
      if (err instanceof LabFileError) errors.push(err);
      else errors.push(new LabFileError(shown, 1, (err as Error).message));
    }
  }
  return { labs, errors };
}
