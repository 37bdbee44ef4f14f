// Following the services' JSON-line event files as they grow: inotify
// (fs.watch) for speed, a slow poll as the safety net (watchers miss events on
// some filesystems, and the folder may not exist until the lab is up). A file
// that shrinks or is replaced (the lab brought up again) is read from its start.
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

interface FileState { ino: number; offset: number; partial: string }

export interface TailOptions {
  pollMs?: number; // default 250
  fromStart?: boolean; // read files that exist at start from their beginning (default: from their end)
  filter?: (file: string) => boolean; // default: *.jsonl
  maxChunk?: number; // bytes read per file per turn, default 1 MiB
}

export class DirectoryTail {
  private files = new Map<string, FileState>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = new Set<string>();
  private flushQueued = false;
  private first = true;
  private ran = false;
  private stopped = false;
  private readonly pollMs: number;
  private readonly filter: (f: string) => boolean;
  private readonly maxChunk: number;

  constructor(readonly dir: string, private readonly onLine: (file: string, line: string) => void, private readonly opts: TailOptions = {}) {
    this.pollMs = opts.pollMs ?? 250;
    this.filter = opts.filter ?? ((f) => f.endsWith('.jsonl'));
    this.maxChunk = opts.maxChunk ?? 1024 * 1024;
  }

  start(): void {
    this.stopped = false;
    // Started again after a pause: what was written meanwhile is skipped, the follower sees from now on.
    if (this.ran) this.files.clear();
    this.first = true;
    this.scan();
    this.first = false;
    this.ran = true;
    this.timer = setInterval(() => this.scan(), this.pollMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private ensureWatcher(): void {
    if (this.watcher || !existsSync(this.dir)) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_ev, name) => {
        if (!name) return;
        const f = name.toString();
        if (!this.filter(f)) return;
        this.scheduled.add(f);
        if (!this.flushQueued) {
          this.flushQueued = true;
          // coalesce a burst of writes into one read per file
          setImmediate(() => {
            this.flushQueued = false;
            const names = [...this.scheduled];
            this.scheduled.clear();
            for (const n of names) this.readFile(n);
          });
        }
      });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = null; });
    } catch {
      this.watcher = null; // the poll keeps us going
    }
  }

  /** Read everything new now (also used by tests to avoid waiting). */
  scan(): void {
    if (this.stopped) return;
    if (!existsSync(this.dir)) {
      // the folder went away (lab down): forget offsets, watch again when it is back
      this.watcher?.close(); this.watcher = null; this.files.clear();
      return;
    }
    this.ensureWatcher();
    let names: string[];
    try { names = readdirSync(this.dir).filter(this.filter); } catch { return; }
    for (const n of names) this.readFile(n);
  }

  private readFile(name: string): void {
    if (this.stopped) return;
    const path = join(this.dir, name);
    let fd: number;
    try { fd = openSync(path, 'r'); } catch { this.files.delete(name); return; }
    try {
      const st = fstatSync(fd);
      let s = this.files.get(name);
      if (!s || s.ino !== st.ino || st.size < s.offset) {
        // new file, replaced file, or truncated: start over (or at the end when we just started)
        const atEnd = !s && this.first && (!this.opts.fromStart || this.ran);
        s = { ino: st.ino, offset: atEnd ? st.size : 0, partial: '' };
        this.files.set(name, s);
      }
      while (s.offset < st.size) {
        const len = Math.min(this.maxChunk, st.size - s.offset);
        const buf = Buffer.allocUnsafe(len);
        const n = readSync(fd, buf, 0, len, s.offset);
        if (n <= 0) break;
        s.offset += n;
        const text = s.partial + buf.toString('utf8', 0, n);
        const lines = text.split('\n');
        s.partial = lines.pop() ?? ''; // an unfinished last line waits for its newline
        for (const l of lines) if (l.trim()) this.onLine(name, l);
        if (len === this.maxChunk) break; // let the loop breathe; the next turn reads on
      }
    } catch {
      /* the file vanished mid-read: the next scan sorts it out */
    } finally {
      closeSync(fd);
    }
  }
}

export function fileExists(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}
