// The named terminal sessions of one lab: created on first attach or first
// input, ended when closed, when their shell exits, or when nobody has used
// them for the idle limit; all of them ended when the lab server stops.
import { TERMINAL_CLOSE, type TerminalInfo } from '../../widgets/terminal/protocol.js';
import { DEFAULT_LIMITS, TerminalSession, type SessionLimits } from './session.js';
import { prepareShell, type ShellOptions } from './shell.js';

export interface TerminalManagerOptions extends ShellOptions {
  home: string;
  /** A session with no client attached and no input for this long is ended. Default 30 minutes; 0 = never. */
  idleTimeoutMs?: number;
  /** Most sessions at once. Default 8. */
  maxSessions?: number;
  limits?: Partial<SessionLimits>;
}

export class TooManySessions extends Error {}
/** The lab server is stopping: no shell starts, so none outlives it. */
export class TerminalsStopping extends Error {}

export class TerminalManager {
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly idleTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly limits: SessionLimits;
  private readonly sweep: NodeJS.Timeout | null;
  private stopping = false;
  private readonly onProcessExit = () => { for (const s of this.sessions.values()) s.killNow(); };

  constructor(private readonly opts: TerminalManagerOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30 * 60_000;
    this.maxSessions = opts.maxSessions ?? 8;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.sweep = this.idleTimeoutMs > 0
      ? setInterval(() => this.endIdle(), Math.max(50, Math.min(this.idleTimeoutMs / 4, 30_000)))
      : null;
    this.sweep?.unref();
    // Whatever way the server process ends, no shell of ours outlives it.
    process.on('exit', this.onProcessExit);
  }

  get(name: string): TerminalSession | undefined {
    return this.sessions.get(name);
  }

  /** The session of that name, started now if there is none. */
  open(name: string, size?: { cols?: number; rows?: number }): TerminalSession {
    if (this.stopping) throw new TerminalsStopping('the lab server is stopping: the terminal reconnects when it is back');
    const existing = this.sessions.get(name);
    if (existing?.alive) return existing;
    if (this.sessions.size >= this.maxSessions) {
      throw new TooManySessions(`too many terminals (${this.maxSessions}): close one first (DELETE /api/terminals/NAME) or reuse a name`);
    }
    const spec = prepareShell(this.opts.home, this.opts);
    const s = new TerminalSession(name, spec, this.limits, (ended) => {
      if (this.sessions.get(ended.name) === ended) this.sessions.delete(ended.name);
    }, size);
    this.sessions.set(name, s);
    return s;
  }

  list(): TerminalInfo[] {
    return [...this.sessions.values()].map((s) => s.info()).sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(name: string): Promise<boolean> {
    const s = this.sessions.get(name);
    if (!s) return false;
    await s.close();
    return true;
  }

  private endIdle(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (s.clientCount === 0 && now - s.lastActivity > this.idleTimeoutMs) {
        void s.close({ code: TERMINAL_CLOSE.closed, text: 'terminal idle' });
      }
    }
  }

  async dispose(): Promise<void> {
    this.stopping = true;
    if (this.sweep) clearInterval(this.sweep);
    await Promise.all([...this.sessions.values()].map((s) => s.close({ code: TERMINAL_CLOSE.shutdown, text: 'lab server stopping' })));
    this.sessions.clear();
    process.off('exit', this.onProcessExit);
  }
}
