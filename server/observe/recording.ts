// Recording the event stream to a JSON-lines file (a header, then one LabEvent
// per line) so a demo can be replayed in the same widgets with no backends.
// Recordings are thinned to stay small: message events down to a budget
// (their `sampled` weights keep the counts honest), router and broker
// snapshots to one per interval each.
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { cpus, totalmem, type as osType, release, arch, hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { LabEvent, LabStatus, RecordingHeader, RecordingInfo } from '../../common/wire.js';
import { isRecordingName, recordingHeaderSchema } from '../../common/recording.js';
import type { EventBus } from './bus.js';

/** The distribution's name ("Debian GNU/Linux 12 (bookworm)"), else the kernel's. */
function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1];
  } catch { /* not Linux, or no os-release */ }
  return `${osType()} ${release()}`;
}

export function describeMachine(): RecordingHeader['machine'] {
  const c = cpus();
  return {
    os: osName(),
    arch: arch(),
    cpu: (c[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export interface RecorderOptions {
  maxMessagesPerSecond?: number; // default 40
  snapshotIntervalMs?: number; // per router / broker, default 1000
  scenario?: string;
  /** What the lab home is called in the file (default "~/.hmlab"): a recording is shared, this machine's paths are not. */
  homeAlias?: string;
  /** A recording stops by itself at this size (default 64 MiB)... */
  maxBytes?: number;
  /** ...or after this long (default 1 hour): a forgotten recording must not fill the disk. */
  maxDurationMs?: number;
}

export const RECORDING_LIMITS = { maxBytes: 64 * 2 ** 20, maxDurationMs: 60 * 60_000 };

export class Recorder {
  private out: WriteStream | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastSnapshot = new Map<string, number>();
  private windowStart = 0;
  private used = 0;
  private pending = new Map<string, number>();
  private kept = new Map<string, boolean>();
  private redactions: [string, string][] = [];
  private lastStatus = { t: 0, key: '' };
  private cap: NodeJS.Timeout | null = null;
  events = 0;
  bytes = 0;
  startedAt = 0;
  file: string | null = null;
  /** Why the last recording stopped by itself (a cap), or null. */
  stoppedBy: string | null = null;

  constructor(private readonly bus: EventBus, private readonly opts: RecorderOptions = {}) {}

  get active(): boolean { return this.out !== null; }

  /** Starts recording into FILE, which must not exist yet (throws RecordingExists). */
  start(file: string, status: LabStatus | null, scenario = this.opts.scenario): void {
    if (this.out) throw new Error(`already recording to ${this.file}`);
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) throw new RecordingExists(file);
    this.file = file;
    this.startedAt = Date.now();
    this.events = 0; this.bytes = 0;
    this.lastStatus = { t: 0, key: '' };
    // the lab home's path and this host's name (inside AMQP container ids) stay on this machine
    this.redactions = [];
    if (status?.home) this.redactions.push([JSON.stringify(status.home).slice(1, -1), this.opts.homeAlias ?? '~/.hmlab']);
    const host = hostname();
    if (host) this.redactions.push([`/container/${host}/`, '/container/host/']);
    this.stoppedBy = null;
    // 'wx': never replace a recording, even one created since the check above
    this.out = createWriteStream(file, { flags: 'wx' });
    this.out.on('error', () => { void this.stop(); });
    const maxDurationMs = this.opts.maxDurationMs ?? RECORDING_LIMITS.maxDurationMs;
    this.cap = setTimeout(() => this.stopBy(`it reached the ${Math.round(maxDurationMs / 1000)} s limit`), maxDurationMs);
    this.cap.unref?.();
    const header: RecordingHeader = {
      type: 'recording', version: 1, machine: describeMachine(),
      topology: status?.topology ?? null, router: status?.router ?? null, startedAt: this.startedAt,
      ...(scenario ? { scenario } : {}),
    };
    this.write(header);
    // the replay starts from the picture as it is now
    if (status) this.write({ type: 'hello', t: this.startedAt, status, replay: true } satisfies LabEvent);
    for (const e of this.bus.snapshot(this.startedAt)) this.offer(e);
    this.unsubscribe = this.bus.subscribe((e) => this.offer(e));
  }

  private write(o: unknown): void {
    if (!this.out) return;
    let line = JSON.stringify(o) + '\n';
    for (const [from, to] of this.redactions) if (line.includes(from)) line = line.split(from).join(to);
    const maxBytes = this.opts.maxBytes ?? RECORDING_LIMITS.maxBytes;
    if (this.bytes + Buffer.byteLength(line) > maxBytes) {
      this.stopBy(`it reached the ${maxBytes >= 2 ** 20 ? `${Math.round(maxBytes / 2 ** 20)} MiB` : `${Math.round(maxBytes / 1024)} KiB`} limit`);
      return;
    }
    this.bytes += Buffer.byteLength(line);
    this.events++;
    this.out.write(line);
  }

  private stopBy(reason: string): void {
    if (!this.out) return;
    this.stoppedBy = reason;
    void this.stop();
  }

  private offer(e: LabEvent): void {
    if (e.type === 'hello') return;
    if (e.type === 'router' || e.type === 'broker') {
      const key = e.type === 'router' ? `router:${e.snapshot.router}` : 'broker';
      const last = this.lastSnapshot.get(key) ?? 0;
      if (e.t - last < (this.opts.snapshotIntervalMs ?? 1000)) return;
      this.lastSnapshot.set(key, e.t);
    }
    if (e.type === 'status') {
      // the counters in a status change every second; keep one every few seconds unless the picture changed
      const key = JSON.stringify(e.status.components.map((c) => [c.name, c.state, c.pid, c.connectedTo ?? null]));
      if (key === this.lastStatus.key && e.t - this.lastStatus.t < 5000) return;
      this.lastStatus = { t: e.t, key };
    }
    if (e.type === 'message') {
      const ev = e.event;
      const weight = e.sampled ?? 1;
      const rare = ev.kind.startsWith('transport.') || ev.kind.startsWith('service.') || ev.ok === false;
      if (!rare) {
        if (e.t - this.windowStart >= 1000) { this.windowStart = e.t; this.used = 0; }
        let keep = ev.id !== undefined ? this.kept.get(ev.id) : undefined;
        if (keep === undefined) {
          keep = this.used < (this.opts.maxMessagesPerSecond ?? 40);
          if (ev.id !== undefined) {
            this.kept.set(ev.id, keep);
            if (this.kept.size > 20000) this.kept.clear();
          }
        }
        if (!keep) { this.pending.set(ev.kind, (this.pending.get(ev.kind) ?? 0) + weight); return; }
        this.used++;
        const extra = this.pending.get(ev.kind) ?? 0;
        this.pending.delete(ev.kind);
        if (extra) { this.write({ ...e, sampled: weight + extra }); return; }
      }
    }
    this.write(e);
  }

  async stop(): Promise<{ file: string | null; events: number; bytes: number; durationMs: number }> {
    if (this.cap) { clearTimeout(this.cap); this.cap = null; }
    this.unsubscribe?.();
    this.unsubscribe = null;
    const out = this.out;
    this.out = null;
    if (out) await new Promise<void>((r) => out.end(() => r()));
    return { file: this.file, events: this.events, bytes: this.bytes, durationMs: this.startedAt ? Date.now() - this.startedAt : 0 };
  }
}

export class RecordingExists extends Error {
  constructor(readonly file: string) {
    super(`a recording named "${basename(file).replace(/\.jsonl$/, '')}" already exists: choose another name, or delete ${basename(file)} first`);
  }
}

/** Read a recording back: its header and its events (validated shape of the header, events as they are). */
export function readRecording(file: string): { header: RecordingHeader; events: LabEvent[] } {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  if (!lines.length) throw new Error(`${basename(file)} is empty: a recording starts with a header line`);
  const h = recordingHeaderSchema.safeParse(JSON.parse(lines[0]));
  if (!h.success) {
    const issue = h.error.issues[0];
    throw new Error(`${basename(file)}: the first line is not a recording header (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return { header: h.data as RecordingHeader, events: lines.slice(1).map((l) => JSON.parse(l) as LabEvent) };
}

/** Recordings shipped under public/recordings and made in this home's recordings/ folder. */
export function listRecordings(publicDir: string, homeDir: string): RecordingInfo[] {
  const out: RecordingInfo[] = [];
  const scan = (dir: string, source: RecordingInfo['source'], url: (n: string) => string) => {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.jsonl')) continue;
      const name = f.slice(0, -'.jsonl'.length);
      if (!isRecordingName(name)) continue;
      try {
        const st = statSync(join(dir, f));
        out.push({ name, source, url: url(name), bytes: st.size, modifiedAt: st.mtimeMs });
      } catch { /* vanished */ }
    }
  };
  scan(publicDir, 'public', (n) => `/recordings/${n}.jsonl`);
  scan(homeDir, 'home', (n) => `/api/recordings/${n}.jsonl`);
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.name.localeCompare(b.name));
}
