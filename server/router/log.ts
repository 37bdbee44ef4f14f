// Router log in qdrouterd's shape: "<time> MODULE (level) text", so the
// lab's log views and a reader used to qdrouterd see the same lines.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { LogConfig } from './config.js';

const LEVELS = ['trace', 'debug', 'info', 'notice', 'warning', 'error', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

function enabledSet(spec: string): Set<Level> {
  const out = new Set<Level>();
  for (const part of spec.split(/[\s,]+/).filter(Boolean)) {
    const p = part.toLowerCase();
    if (p === 'none') continue;
    const plus = p.endsWith('+');
    const name = (plus ? p.slice(0, -1) : p) as Level;
    const i = LEVELS.indexOf(name);
    if (i < 0) continue;
    if (plus) for (const l of LEVELS.slice(i)) out.add(l); else out.add(name);
  }
  return out;
}

export class RouterLog {
  private defaults = enabledSet('info+');
  private modules = new Map<string, Set<Level>>();
  private out: NodeJS.WritableStream | WriteStream = process.stdout;
  private timestamps = true;

  configure(logs: LogConfig[]): void {
    for (const l of logs) {
      const set = enabledSet(l.enable);
      if (l.module.toUpperCase() === 'DEFAULT') {
        this.defaults = set;
        this.timestamps = l.includeTimestamp;
        if (l.output && l.output !== 'stdout') this.out = l.output === 'stderr' ? process.stderr : createWriteStream(l.output, { flags: 'a' });
      } else this.modules.set(l.module.toUpperCase(), set);
    }
  }

  log(module: string, level: Level, text: string): void {
    const set = this.modules.get(module) ?? this.defaults;
    if (!set.has(level)) return;
    const ts = this.timestamps ? new Date().toISOString().replace('T', ' ').replace('Z', ' +0000') + ' ' : '';
    this.out.write(`${ts}${module} (${level}) ${text}\n`);
  }

  info(module: string, text: string): void { this.log(module, 'info', text); }
  notice(module: string, text: string): void { this.log(module, 'notice', text); }
  warning(module: string, text: string): void { this.log(module, 'warning', text); }
  error(module: string, text: string): void { this.log(module, 'error', text); }
  debug(module: string, text: string): void { this.log(module, 'debug', text); }
}
