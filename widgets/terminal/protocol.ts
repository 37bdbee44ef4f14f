// The terminal WebSocket protocol (/api/terminals/NAME), shared by the lab
// server and the browser widget so both sides agree on every frame. Every
// frame is one JSON text message with a `type`. Nothing here touches the DOM
// or Node, so both builds can import it.

/** Terminal names: short, URL-safe, the same in the page URL, the API and the CLI. */
export const TERMINAL_NAME_PATTERN = /^[a-z0-9-]{1,32}$/;
export const TERMINAL_NAME_HINT = 'use 1 to 32 characters: lowercase letters, digits and "-" (e.g. "lab-1")';

/** Largest frame either side accepts, and the largest input one request may type. */
export const MAX_FRAME_BYTES = 64 * 1024;

export const MIN_COLS = 2;
export const MAX_COLS = 500;
export const MIN_ROWS = 1;
export const MAX_ROWS = 200;

/** Client -> server. */
export type TerminalClientMessage =
  | { type: 'input'; data: string } // keystrokes or pasted text, as typed
  | { type: 'resize'; cols: number; rows: number } // the widget's size in character cells
  | { type: 'ping' };

/** Server -> client. */
export type TerminalServerMessage =
  | { type: 'snapshot'; data: string; cols: number; rows: number } // the current screen, sent once on attach
  | { type: 'output'; data: string } // what the shell printed since
  | { type: 'exit'; code: number | null; signal: number | null } // the shell ended; the session is gone
  | { type: 'error'; message: string } // a frame was refused; the connection stays unless closed
  | { type: 'pong' };

/**
 * WebSocket close codes the server uses, so the widget knows whether
 * reconnecting can help.
 */
export const TERMINAL_CLOSE = {
  exited: 4000, // the shell ended: reconnecting starts a new one
  closed: 4001, // the session was closed (API or idle limit)
  invalid: 4400, // bad name or query: reconnecting will not help
  tooSlow: 4408, // the client did not read its output fast enough
  full: 4429, // too many sessions: try again later
  shutdown: 1001, // the lab server is stopping
} as const;

/** GET /api/terminals: one entry per live session. */
export interface TerminalInfo {
  name: string;
  pid: number | null;
  clients: number;
  cols: number;
  rows: number;
  startedAt: number; // epoch ms
  lastActivity: number; // epoch ms: last attach, detach or input
}

/** POST /api/terminals/NAME/input */
export interface TerminalInputRequest {
  data: string;
}
