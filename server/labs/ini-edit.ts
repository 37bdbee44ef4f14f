// Apply a lab's edit block to an oslo.config file the way a person would:
// change the line in place, keep comments and order, add what is missing at
// the end of its section. Plus a small line diff to show the change first.
import { diffLines } from 'diff';
import type { IniSetting } from './format.js';

const HEADER = /^\s*\[([^\]]+)\]\s*$/;

export function applySettings(text: string, settings: readonly Pick<IniSetting, 'section' | 'key' | 'value'>[]): string {
  const lines = text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  for (const s of settings) {
    const start = lines.findIndex((l) => HEADER.exec(l)?.[1] === s.section);
    const entry = `${s.key} = ${s.value}`;
    if (start < 0) {
      if (lines.length && lines[lines.length - 1].trim() !== '') lines.push('');
      lines.push(`[${s.section}]`, entry);
      continue;
    }
    let end = lines.length;
    for (let i = start + 1; i < lines.length; i++) if (HEADER.test(lines[i])) { end = i; break; }
    const keyRe = new RegExp(`^\\s*${s.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);
    const at = lines.slice(start + 1, end).findIndex((l) => keyRe.test(l));
    if (at >= 0) { lines[start + 1 + at] = entry; continue; }
    // After the last non-blank line of the section, so blank separators stay.
    let last = end - 1;
    while (last > start && lines[last].trim() === '') last--;
    lines.splice(last + 1, 0, entry);
  }
  return lines.join('\n') + (trailingNewline || !text ? '\n' : '');
}

import type { DiffLine } from '../../common/wire.js';
export type { DiffLine };

/** Line diff (jsdiff), with `context` unchanged lines around each change. */
export function lineDiff(before: string, after: string, context = 2): DiffLine[] {
  const all: DiffLine[] = [];
  let oldLine = 1, newLine = 1;
  for (const part of diffLines(before.replace(/\n$/, '') + '\n', after.replace(/\n$/, '') + '\n')) {
    for (const text of part.value.replace(/\n$/, '').split('\n')) {
      if (part.added) all.push({ op: '+', text, newLine: newLine++ });
      else if (part.removed) all.push({ op: '-', text, oldLine: oldLine++ });
      else all.push({ op: ' ', text, oldLine: oldLine++, newLine: newLine++ });
    }
  }
  const keep = all.map((l, k) => l.op !== ' ' || all.slice(Math.max(0, k - context), k + context + 1).some((x) => x.op !== ' '));
  const out: DiffLine[] = [];
  all.forEach((l, k) => {
    if (keep[k]) out.push(l);
    else if (out.length && out[out.length - 1].text !== '…' ) out.push({ op: ' ', text: '…' });
  });
  while (out.length && out[out.length - 1].text === '…' && out[out.length - 1].oldLine === undefined) out.pop();
  return out;
}
