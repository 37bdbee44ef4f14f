// The terminal widget: xterm.js attached over WebSocket to a named session
// on the lab server. The server keeps the session and its screen, so a
// reload, another tab or the speaker view shows the same shell. The widget
// fits its container, reconnects with backoff after a drop, and shows why
// it is not live when it is not.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import '@xterm/xterm/css/xterm.css';
// The bundled monospace font: the same glyphs on every machine, offline too.
import '@fontsource-variable/source-code-pro';
import './terminal.css';
import { Disposable, observeSize } from '../common/disposable.js';
import { TerminalConnection, type ConnectionOwner } from './connection.js';
import { MAX_FRAME_BYTES, TERMINAL_CLOSE, TERMINAL_NAME_HINT, TERMINAL_NAME_PATTERN, type TerminalServerMessage } from './protocol.js';

export type TerminalState = 'connecting' | 'open' | 'reconnecting' | 'exited' | 'failed';

export interface MountTerminalOptions {
  /** The session to attach to: the same name shares one shell. */
  name: string;
  /**
   * Watch only: no typing, no resizing the shared session. Default: true
   * inside the reveal.js speaker view's slide previews (their URL has
   * "receiver"), so the previews never resize or type into the presenter's shell.
   */
  readOnly?: boolean;
  /** Server base URL; default: this page's origin. */
  base?: string;
  fontSize?: number;
  onState?: (state: TerminalState, detail: string) => void;
}

export interface TerminalHandle {
  /** Type a command and Enter; queued until connected. */
  run(command: string): void;
  /** Type raw text (no Enter). */
  type(data: string): void;
  focus(): void;
  dispose(): void;
  readonly state: TerminalState;
  readonly terminal: Terminal;
}

export const TERMINAL_FONT = '"Source Code Pro Variable"';
/**
 * Rows a little taller than the font's own box: xterm clips each row to its
 * cell, and at a fractional scale (the deck at 1440x900) a cell exactly one
 * font box high cut the underscores and descenders of every other row.
 */
export const TERMINAL_LINE_HEIGHT = 1.1;

/**
 * Wait (briefly) for the terminal's web font: xterm measures its cell once,
 * and a cell measured on a fallback font clips the real one's glyphs.
 */
function fontReady(size: number): Promise<unknown> {
  const load = document.fonts?.load(`${size}px ${TERMINAL_FONT}`) ?? Promise.resolve();
  return Promise.race([load.catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
}

/** xterm.js with the lab's font, colours and keys: the screen of one terminal. */
function createScreen(opts: MountTerminalOptions, fontSize: number): { term: Terminal; fit: FitAddon } {
  const styles = getComputedStyle(document.documentElement);
  const cssVar = (n: string, d: string) => styles.getPropertyValue(n).trim() || d;
  const term = new Terminal({
    fontFamily: `${TERMINAL_FONT}, ${cssVar('--hm-mono', 'monospace')}`,
    fontSize,
    lineHeight: TERMINAL_LINE_HEIGHT,
    cursorBlink: !opts.readOnly,
    disableStdin: !!opts.readOnly,
    scrollback: 1000,
    allowProposedApi: false,
    theme: { background: cssVar('--hm-bg-inset', '#0a0d12'), foreground: cssVar('--hm-fg', '#e6edf3'), cursor: cssVar('--hm-accent', '#58a6ff') },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.loadAddon(new WebLinksAddon((event, uri) => {
    event.preventDefault();
    window.open(uri, '_blank', 'noopener');
  }));
  // Copy and paste as in desktop terminals: Ctrl+Shift+C copies the
  // selection (Ctrl+C stays interrupt); Ctrl+Shift+V and the context menu
  // paste through xterm's own paste handling.
  term.attachCustomKeyEventHandler((e) => {
    if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && (e.key === 'C' || e.key === 'c')) {
      const sel = term.getSelection();
      if (sel) void navigator.clipboard?.writeText(sel).catch(() => undefined);
      return false;
    }
    return true;
  });
  return { term, fit };
}

/**
 * One terminal widget: its screen, its connection to the session, and the
 * state it shows (connecting, open, reconnecting, exited, failed).
 */
class TerminalController extends Disposable implements TerminalHandle, ConnectionOwner {
  readonly terminal: Terminal;
  private readonly fit: FitAddon;
  private readonly root = document.createElement('div');
  private readonly screen = document.createElement('div');
  private readonly overlay = document.createElement('div');
  private readonly conn: TerminalConnection;
  private current: TerminalState = 'connecting';
  private mounted = false;
  private queued: string[] = [];
  private sentSize = '';

  constructor(el: HTMLElement, private readonly opts: MountTerminalOptions) {
    super();
    this.root.className = 'hm-terminal';
    this.root.dataset.terminal = opts.name;
    this.screen.className = 'hm-terminal-screen';
    this.overlay.className = 'hm-terminal-overlay';
    this.overlay.setAttribute('role', 'status');
    this.root.append(this.screen, this.overlay);
    el.append(this.root);
    this.register(() => this.root.remove()); // registered first: undone last

    const fontSize = opts.fontSize ?? 16;
    ({ term: this.terminal, fit: this.fit } = createScreen(opts, fontSize));
    this.register(this.terminal);
    this.terminal.onData((d) => {
      if (this.current === 'exited') { this.connect(); return; } // any key starts a new shell
      this.sendInput(d);
    });
    this.conn = this.register(new TerminalConnection(this, opts.base ?? location.origin));
    this.register(observeSize(() => this.refit(), this.screen));
    // Open (and size the session) only once the font is there, so the cell fits its glyphs.
    void fontReady(fontSize).then(() => {
      if (this.isDisposed) return;
      this.terminal.open(this.screen);
      this.mounted = true;
      this.connect();
    });
  }

  get state(): TerminalState { return this.current; }

  run(command: string): void {
    if (this.current === 'exited' || this.current === 'failed') this.connect();
    this.sendInput(command.endsWith('\r') ? command : command + '\r');
  }

  type(data: string): void { this.sendInput(data); }

  focus(): void { this.terminal.focus(); }

  private setState(s: TerminalState, detail: string): void {
    this.current = s;
    this.root.dataset.state = s;
    this.overlay.textContent = detail;
    this.opts.onState?.(s, detail);
  }

  private sendInput(data: string): void {
    if (this.opts.readOnly) return;
    // Split large pastes into frames the server accepts.
    for (let i = 0; i < data.length; i += MAX_FRAME_BYTES / 4) {
      const part = data.slice(i, i + MAX_FRAME_BYTES / 4);
      if (this.current !== 'open' || !this.conn.send({ type: 'input', data: part })) this.queued.push(part);
    }
  }

  private sendSize(): void {
    if (this.opts.readOnly) return;
    const { cols, rows } = this.terminal;
    const key = `${cols}x${rows}`;
    if (key !== this.sentSize && this.conn.send({ type: 'resize', cols, rows })) this.sentSize = key;
  }

  private refit(): void {
    if (this.isDisposed || !this.mounted || this.opts.readOnly || !this.screen.clientWidth || !this.screen.clientHeight) return;
    try { this.fit.fit(); } catch { /* not laid out yet */ }
    this.sendSize();
  }

  private url(): string {
    const { opts, terminal: term } = this;
    const u = new URL(`/api/terminals/${encodeURIComponent(opts.name)}`, opts.base ?? location.origin);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (opts.readOnly) u.searchParams.set('readonly', '1');
    else if (term.cols && term.rows) { u.searchParams.set('cols', String(term.cols)); u.searchParams.set('rows', String(term.rows)); }
    return u.toString();
  }

  private connect(): void {
    if (this.isDisposed) return;
    this.conn.drop();
    this.refit();
    if (this.current !== 'reconnecting') this.setState('connecting', 'connecting…');
    this.conn.open(this.url());
  }

  private retry(why: string): void {
    if (this.isDisposed) return;
    const delay = this.conn.retryLater(() => this.connect());
    this.setState('reconnecting', `disconnected — reconnecting in ${Math.ceil(delay / 1000)} s (${why})`);
  }

  received(m: TerminalServerMessage): void {
    const term = this.terminal;
    switch (m.type) {
      case 'snapshot':
        // The server's screen at its size; then fit ours and tell it.
        term.reset();
        if (term.cols !== m.cols || term.rows !== m.rows) term.resize(m.cols, m.rows);
        term.write(m.data, () => { this.sentSize = `${m.cols}x${m.rows}`; this.refit(); });
        this.conn.connected();
        this.setState('open', '');
        for (const d of this.queued.splice(0)) this.conn.send({ type: 'input', data: d });
        break;
      case 'output':
        term.write(m.data);
        break;
      case 'exit':
        this.setState('exited', `shell exited${m.code !== null ? ` (code ${m.code})` : ''} — press any key for a new shell`);
        break;
      case 'error':
        term.write(`\r\n\x1b[31m[terminal: ${m.message}]\x1b[0m\r\n`);
        break;
      case 'pong':
        break;
    }
  }

  closed(ev: CloseEvent, opened: boolean): void {
    if (ev.code === TERMINAL_CLOSE.exited || this.current === 'exited') {
      if (this.current !== 'exited') this.setState('exited', 'shell exited — press any key for a new shell');
      return;
    }
    if (ev.code === TERMINAL_CLOSE.invalid) { this.setState('failed', `terminal refused: ${ev.reason || 'invalid request'}`); return; }
    if (ev.code === TERMINAL_CLOSE.closed) { this.setState('exited', `${ev.reason || 'terminal closed'} — press any key for a new shell`); return; }
    if (!opened) void this.conn.diagnose().then((why) => { if (!this.isDisposed && this.conn.idle) this.retry(why); });
    else this.retry(ev.reason || 'connection lost');
  }
}

export function mountTerminal(el: HTMLElement, opts: MountTerminalOptions): TerminalHandle {
  if (!TERMINAL_NAME_PATTERN.test(opts.name)) {
    throw new Error(`terminal name "${opts.name}" is not valid: ${TERMINAL_NAME_HINT}`);
  }
  return new TerminalController(el, { ...opts, readOnly: opts.readOnly ?? /receiver/i.test(location.search) });
}
