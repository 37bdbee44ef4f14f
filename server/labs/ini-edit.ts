// Apply a lab's edit block to an oslo.config file the way a person would:
// change the line in place, keep comments and order, add what is missing at
// the end of its section. Plus a small line diff to show the change first.
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

export interface DiffLine { op: ' ' | '-' | '+'; text: string; oldLine?: number; newLine?: number }

/** Line diff (LCS; config files are small), with `context` unchanged lines around each change. */
export function lineDiff(before: string, after: string, context = 2): DiffLine[] {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  const n = a.length, m = b.length;
  const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const all: DiffLine[] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { all.push({ op: ' ', text: a[i], oldLine: i + 1, newLine: j + 1 }); i++; j++; }
    else if (i < n && (j >= m || dp[i + 1][j] >= dp[i][j + 1])) { all.push({ op: '-', text: a[i], oldLine: i + 1 }); i++; }
    else { all.push({ op: '+', text: b[j], newLine: j + 1 }); j++; }
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
