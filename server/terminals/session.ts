// One named terminal session: a pty running the lab's shell, and a headless
// xterm that keeps its screen so any client attaching later (a reload, a
// second tab, the speaker view) gets the current screen, then the live
// output, from the same shell. Output is bounded: the pty is paused while
// the screen model or a client lags, and a client that stays behind is
// dropped rather than let the server's memory grow.
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import pty from 'node-pty';
import type { IPty } from 'node-pty';
import { TERMINAL_CLOSE, type TerminalInfo, type TerminalServerMessage } from '../../widgets/terminal/protocol.js';
import type { ShellSpec } from './shell.js';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
type HeadlessTerminal = InstanceType<typeof Terminal>;

/** What a session needs from a connected client (a WebSocket in practice). */
export interface TerminalClient {
  send(frame: string): void;
  /** Bytes queued for this client and not yet written to its socket. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  readonly readOnly: boolean;
}

export interface SessionLimits {
  /** Pause the pty when a client has this many bytes unsent... */
  clientHighWater: number;
  /** ...resume when every client is below this. */
  clientLowWater: number;
  /** A client still above the high-water mark after this long is dropped. */
  slowClientMs: number;
  /** Pause the pty while the screen model has this many characters unparsed. */
  parseHighWater: number;
  /** Input: burst size and steady rate (characters, characters per second). */
  inputBurst: number;
  inputRate: number;
  /** Input the shell has not read yet, above which new input is refused. */
  inputQueueMax: number;
  /** Scrollback lines kept and replayed on attach. */
  scrollback: number;
}

export const DEFAULT_LIMITS: SessionLimits = {
  clientHighWater: 1024 * 1024,
  clientLowWater: 128 * 1024,
  slowClientMs: 10_000,
  parseHighWater: 2 * 1024 * 1024,
  inputBurst: 256 * 1024,
  inputRate: 128 * 1024,
  inputQueueMax: 1024 * 1024,
  scrollback: 1000,
};

export class InputRefused extends Error {}

const frame = (m: TerminalServerMessage) => JSON.stringify(m);

interface Attached {
  client: TerminalClient;
  /** Output that arrived while the snapshot was being taken; sent right after it. */
  pending: string[] | null;
  slowSince: number | null;
}

export class TerminalSession {
  readonly startedAt = Date.now();
  lastActivity = Date.now();
  cols = 80;
  rows = 24;
  private proc: IPty | null = null;
  private readonly screen: HeadlessTerminal;
  private readonly serializer: InstanceType<typeof SerializeAddon>;
  private readonly attached = new Map<TerminalClient, Attached>();
  private unparsed = 0;
  private pausedFor = new Set<'parse' | 'clients'>();
  private drainTimer: NodeJS.Timeout | null = null;
  private bucket: number;
  private bucketAt = Date.now();
  private ended = false;
  /** Set by close(): a shell being ended takes no new client, whatever its pid still does. */
  private closing: { reason: { code: number; text: string }; done: Promise<void> } | null = null;
  private exitWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly spec: ShellSpec,
    private readonly limits: SessionLimits,
    private readonly onEnd: (s: TerminalSession) => void,
    size?: { cols?: number; rows?: number },
  ) {
    if (size?.cols) this.cols = size.cols;
    if (size?.rows) this.rows = size.rows;
    this.bucket = limits.inputBurst;
    this.screen = new Terminal({ cols: this.cols, rows: this.rows, scrollback: limits.scrollback, allowProposedApi: true });
    this.serializer = new SerializeAddon();
    // The addon's typings name the browser Terminal; the headless one has the same API.
    this.screen.loadAddon(this.serializer as unknown as Parameters<HeadlessTerminal['loadAddon']>[0]);
    this.spawn();
  }

  get pid(): number | null { return this.proc?.pid ?? null; }
  get clientCount(): number { return this.attached.size; }
  get alive(): boolean { return !this.ended && !this.closing; }

  info(): TerminalInfo {
    return {
      name: this.name, pid: this.pid, clients: this.attached.size, cols: this.cols, rows: this.rows,
      startedAt: this.startedAt, lastActivity: this.lastActivity,
    };
  }

  private spawn(): void {
    const p = pty.spawn(this.spec.file, this.spec.args, {
      name: 'xterm-256color',
      cols: this.cols,
      rows: this.rows,
      cwd: this.spec.cwd,
      env: this.spec.env,
    });
    this.proc = p;
    p.onData((data) => this.output(data));
    p.onExit(({ exitCode, signal }) => this.exited(exitCode, signal ?? null));
  }

  private output(data: string): void {
    if (this.ended) return; // trailing output after exit: nobody is attached, the screen is gone
    this.unparsed += data.length;
    this.screen.write(data, () => {
      this.unparsed -= data.length;
      if (this.unparsed < this.limits.parseHighWater / 4) this.unpause('parse');
    });
    if (this.unparsed > this.limits.parseHighWater) this.pause('parse');
    const f = frame({ type: 'output', data });
    let behind = false;
    for (const a of this.attached.values()) {
      if (a.pending) { a.pending.push(data); continue; }
      a.client.send(f);
      if (a.client.bufferedAmount > this.limits.clientHighWater) behind = true;
    }
    if (behind) this.pause('clients');
  }

  private pause(why: 'parse' | 'clients'): void {
    if (this.ended) return;
    if (this.pausedFor.size === 0) this.proc?.pause();
    this.pausedFor.add(why);
    if (why === 'clients' && !this.drainTimer) {
      this.drainTimer = setInterval(() => this.checkDrain(), 25);
    }
  }

  private unpause(why: 'parse' | 'clients'): void {
    if (!this.pausedFor.delete(why)) return;
    if (this.pausedFor.size === 0 && !this.ended) this.proc?.resume();
  }

  /** While paused for clients: resume once all have drained, drop any that stay behind. */
  private checkDrain(): void {
    const now = Date.now();
    let waiting = false;
    for (const a of [...this.attached.values()]) {
      const queued = a.client.bufferedAmount;
      if (queued > this.limits.clientLowWater) {
        a.slowSince ??= now;
        if (now - a.slowSince > this.limits.slowClientMs) {
          this.detach(a.client);
          a.client.close(TERMINAL_CLOSE.tooSlow, 'client too slow to read terminal output');
          continue;
        }
        waiting = true;
      } else {
        a.slowSince = null;
      }
    }
    if (!waiting) {
      if (this.drainTimer) clearInterval(this.drainTimer);
      this.drainTimer = null;
      this.unpause('clients');
    }
  }

  /**
   * Attach a client: it gets the current screen, then every output that
   * follows, in order. The screen is serialized once the headless terminal
   * has parsed everything received so far; output arriving meanwhile is held
   * for this client and sent right after the snapshot.
   */
  attach(client: TerminalClient): void {
    if (this.ended) { client.close(TERMINAL_CLOSE.exited, 'shell exited'); return; }
    if (this.closing) { client.close(this.closing.reason.code, this.closing.reason.text); return; }
    const a: Attached = { client, pending: [], slowSince: null };
    this.attached.set(client, a);
    this.lastActivity = Date.now();
    this.screen.write('', () => {
      if (this.attached.get(client) !== a) return;
      client.send(frame({ type: 'snapshot', data: this.serializer.serialize({ scrollback: this.limits.scrollback }), cols: this.cols, rows: this.rows }));
      const held = a.pending ?? [];
      a.pending = null;
      for (const d of held) client.send(frame({ type: 'output', data: d }));
    });
  }

  detach(client: TerminalClient): void {
    if (this.attached.delete(client)) this.lastActivity = Date.now();
    if (this.drainTimer) this.checkDrain();
  }

  /** Type into the shell. Throws InputRefused when the input would exceed the bounds. */
  input(data: string): void {
    if (this.ended || !this.proc) throw new InputRefused('the shell has exited');
    const now = Date.now();
    this.bucket = Math.min(this.limits.inputBurst, this.bucket + ((now - this.bucketAt) / 1000) * this.limits.inputRate);
    this.bucketAt = now;
    if (data.length > this.bucket) {
      const kibPerS = Math.round(this.limits.inputRate / 1024);
      throw new InputRefused(
        `input arrives faster than the terminal takes it (over ${kibPerS} KiB/s): ${data.length} characters dropped, send less at once`,
      );
    }
    if (this.queuedInput() > this.limits.inputQueueMax) {
      throw new InputRefused('the shell is not reading its input: input dropped until it catches up');
    }
    this.bucket -= data.length;
    this.lastActivity = now;
    this.proc.write(data);
  }

  /**
   * Input written but not yet taken by the kernel. node-pty keeps this queue
   * privately; read it defensively and count 0 if its shape ever changes.
   */
  private queuedInput(): number {
    const q = (this.proc as unknown as { _writeStream?: { _writeQueue?: { buffer?: { length?: number }; offset?: number }[] } })?._writeStream?._writeQueue;
    if (!Array.isArray(q)) return 0;
    let n = 0;
    for (const t of q) n += (t?.buffer?.length ?? 0) - (t?.offset ?? 0);
    return n;
  }

  resize(cols: number, rows: number): void {
    if (this.ended || (cols === this.cols && rows === this.rows)) return;
    this.cols = cols;
    this.rows = rows;
    this.screen.resize(cols, rows);
    try { this.proc?.resize(cols, rows); } catch { /* the pty closed under us: exit follows */ }
  }

  private exited(code: number | null, signal: number | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = null;
    const f = frame({ type: 'exit', code, signal: signal || null });
    for (const a of this.attached.values()) {
      a.client.send(f);
      a.client.close(TERMINAL_CLOSE.exited, 'shell exited');
    }
    this.attached.clear();
    this.screen.dispose();
    this.onEnd(this);
    for (const w of this.exitWaiters.splice(0)) w();
  }

  /**
   * End the session: SIGHUP as when a terminal window closes (bash passes it
   * to its jobs), SIGKILL after a grace period if the shell lingers.
   */
  close(reason: { code: number; text: string } = { code: TERMINAL_CLOSE.closed, text: 'terminal closed' }, graceMs = 1500): Promise<void> {
    if (this.ended) return Promise.resolve();
    if (this.closing) return this.closing.done;
    for (const a of this.attached.values()) a.client.close(reason.code, reason.text);
    this.attached.clear();
    const done = new Promise<void>((r) => this.exitWaiters.push(r));
    const pid = this.pid;
    try { this.proc?.kill('SIGHUP'); } catch { /* already gone */ }
    const t = setTimeout(() => {
      if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      // If the exit event never comes (pty torn down oddly), end anyway.
      setTimeout(() => this.exited(null, 9), 500).unref();
    }, graceMs);
    t.unref();
    this.closing = { reason, done: done.then(() => clearTimeout(t)) };
    return this.closing.done;
  }

  /** Last resort at process exit: synchronous, no waiting. */
  killNow(): void {
    const pid = this.pid;
    if (!this.ended && pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
}
