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
import {
  MAX_FRAME_BYTES, TERMINAL_CLOSE, TERMINAL_NAME_HINT, TERMINAL_NAME_PATTERN,
  type TerminalClientMessage, type TerminalServerMessage,
} from './protocol.js';

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

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

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

export function mountTerminal(el: HTMLElement, opts: MountTerminalOptions): TerminalHandle {
  if (!TERMINAL_NAME_PATTERN.test(opts.name)) {
    throw new Error(`terminal name "${opts.name}" is not valid: ${TERMINAL_NAME_HINT}`);
  }
  opts = { ...opts, readOnly: opts.readOnly ?? /receiver/i.test(location.search) };
  const root = document.createElement('div');
  root.className = 'hm-terminal';
  root.dataset.terminal = opts.name;
  const screen = document.createElement('div');
  screen.className = 'hm-terminal-screen';
  const overlay = document.createElement('div');
  overlay.className = 'hm-terminal-overlay';
  overlay.setAttribute('role', 'status');
  root.append(screen, overlay);
  el.append(root);

  const styles = getComputedStyle(document.documentElement);
  const cssVar = (n: string, d: string) => styles.getPropertyValue(n).trim() || d;
  const fontSize = opts.fontSize ?? 16;
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
  let mounted = false;

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

  let ws: WebSocket | null = null;
  let state: TerminalState = 'connecting';
  let attempt = 0;
  let retryTimer: number | null = null;
  let disposed = false;
  let queued: string[] = [];
  let sentSize = '';

  const setState = (s: TerminalState, detail: string) => {
    state = s;
    root.dataset.state = s;
    overlay.textContent = detail;
    opts.onState?.(s, detail);
  };

  const sendMsg = (m: TerminalClientMessage): boolean => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(m));
    return true;
  };

  const sendInput = (data: string) => {
    if (opts.readOnly) return;
    // Split large pastes into frames the server accepts.
    for (let i = 0; i < data.length; i += MAX_FRAME_BYTES / 4) {
      const part = data.slice(i, i + MAX_FRAME_BYTES / 4);
      if (state !== 'open' || !sendMsg({ type: 'input', data: part })) queued.push(part);
    }
  };

  const sendSize = () => {
    if (opts.readOnly) return;
    const key = `${term.cols}x${term.rows}`;
    if (key !== sentSize && sendMsg({ type: 'resize', cols: term.cols, rows: term.rows })) sentSize = key;
  };

  const refit = () => {
    if (disposed || !mounted || opts.readOnly || !screen.clientWidth || !screen.clientHeight) return;
    try { fit.fit(); } catch { /* not laid out yet */ }
    sendSize();
  };

  term.onData((d) => {
    if (state === 'exited') { connect(); return; } // any key starts a new shell
    sendInput(d);
  });

  function url(): string {
    const base = opts.base ?? location.origin;
    const u = new URL(`/api/terminals/${encodeURIComponent(opts.name)}`, base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (opts.readOnly) u.searchParams.set('readonly', '1');
    else if (term.cols && term.rows) { u.searchParams.set('cols', String(term.cols)); u.searchParams.set('rows', String(term.rows)); }
    return u.toString();
  }

  function scheduleRetry(why: string) {
    if (disposed) return;
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
    attempt++;
    setState('reconnecting', `disconnected — reconnecting in ${Math.ceil(delay / 1000)} s (${why})`);
    retryTimer = window.setTimeout(connect, delay);
  }

  /** Why a connection failed before opening: ask the API, whose errors say what to do. */
  async function diagnose(): Promise<string> {
    try {
      const r = await fetch(new URL('/api/terminals', opts.base ?? location.origin), { credentials: 'same-origin' });
      if (r.status === 401) return 'not signed in: open the URL that "hmlab serve" printed';
      return r.ok ? 'connection lost' : `server answered HTTP ${r.status}`;
    } catch {
      return 'lab server unreachable';
    }
  }

  function connect() {
    if (disposed) return;
    if (retryTimer !== null) { clearTimeout(retryTimer); retryTimer = null; }
    if (ws) { ws.onclose = null; ws.close(); }
    refit();
    if (state !== 'reconnecting') setState('connecting', 'connecting…');
    const sock = new WebSocket(url());
    ws = sock;
    let opened = false;
    sock.onopen = () => { opened = true; };
    sock.onmessage = (ev) => {
      let m: TerminalServerMessage;
      try { m = JSON.parse(String(ev.data)) as TerminalServerMessage; } catch { return; }
      switch (m.type) {
        case 'snapshot':
          // The server's screen at its size; then fit ours and tell it.
          term.reset();
          if (term.cols !== m.cols || term.rows !== m.rows) term.resize(m.cols, m.rows);
          term.write(m.data, () => { sentSize = `${m.cols}x${m.rows}`; refit(); });
          attempt = 0;
          setState('open', '');
          for (const d of queued.splice(0)) sendMsg({ type: 'input', data: d });
          break;
        case 'output':
          term.write(m.data);
          break;
        case 'exit':
          setState('exited', `shell exited${m.code !== null ? ` (code ${m.code})` : ''} — press any key for a new shell`);
          break;
        case 'error':
          term.write(`\r\n\x1b[31m[terminal: ${m.message}]\x1b[0m\r\n`);
          break;
        case 'pong':
          break;
      }
    };
    sock.onclose = (ev) => {
      if (ws !== sock || disposed) return;
      ws = null;
      if (ev.code === TERMINAL_CLOSE.exited || state === 'exited') {
        if (state !== 'exited') setState('exited', 'shell exited — press any key for a new shell');
        return;
      }
      if (ev.code === TERMINAL_CLOSE.invalid) { setState('failed', `terminal refused: ${ev.reason || 'invalid request'}`); return; }
      if (ev.code === TERMINAL_CLOSE.closed) { setState('exited', `${ev.reason || 'terminal closed'} — press any key for a new shell`); return; }
      if (!opened) void diagnose().then((why) => { if (!disposed && ws === null) scheduleRetry(why); });
      else scheduleRetry(ev.reason || 'connection lost');
    };
  }

  const ro = new ResizeObserver(() => refit());
  ro.observe(screen);
  // Keep the connection alive through proxies that drop idle sockets.
  const keepAlive = window.setInterval(() => sendMsg({ type: 'ping' }), 25_000);
  // Open (and size the session) only once the font is there, so the cell fits its glyphs.
  void fontReady(fontSize).then(() => {
    if (disposed) return;
    term.open(screen);
    mounted = true;
    connect();
  });

  return {
    run(command: string) {
      if (state === 'exited' || state === 'failed') connect();
      sendInput(command.endsWith('\r') ? command : command + '\r');
    },
    type(data: string) { sendInput(data); },
    focus() { term.focus(); },
    dispose() {
      disposed = true;
      ro.disconnect();
      clearInterval(keepAlive);
      if (retryTimer !== null) clearTimeout(retryTimer);
      if (ws) { ws.onclose = null; ws.close(1000, 'widget closed'); }
      term.dispose();
      root.remove();
    },
    get state() { return state; },
    terminal: term,
  };
}
