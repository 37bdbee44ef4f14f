// Validation of everything a terminal client sends: WebSocket frames, the
// connection query and the run-in-terminal request body. Errors name the
// field and say what to send instead.
import { z } from 'zod';
import {
  MAX_COLS, MAX_FRAME_BYTES, MAX_ROWS, MIN_COLS, MIN_ROWS,
  TERMINAL_NAME_HINT, TERMINAL_NAME_PATTERN,
  type TerminalClientMessage,
} from '../../widgets/terminal/protocol.js';

export const terminalName = z.string().regex(TERMINAL_NAME_PATTERN, TERMINAL_NAME_HINT);

const cols = z.number().int().min(MIN_COLS).max(MAX_COLS);
const rows = z.number().int().min(MIN_ROWS).max(MAX_ROWS);

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string().min(1).max(MAX_FRAME_BYTES) }),
  z.object({ type: z.literal('resize'), cols, rows }),
  z.object({ type: z.literal('ping') }),
]);

export const inputRequest = z.object({
  data: z.string().min(1, 'give the text to type, e.g. {"data": "ls\\r"}').max(MAX_FRAME_BYTES, `at most ${MAX_FRAME_BYTES} characters per request`),
});

/** Query of /api/terminals/NAME: the widget's size, so the first screen already fits; readonly for viewers. */
export const connectQuery = z.object({
  cols: z.coerce.number().pipe(cols).optional(),
  rows: z.coerce.number().pipe(rows).optional(),
  readonly: z.enum(['1', 'true', '0', 'false']).optional(),
});

function describe(err: z.ZodError, prefix = ''): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid';
  const field = issue.path.join('.');
  if (issue.code === 'invalid_union' || (issue.code === 'invalid_value' && field === 'type')) {
    return `unknown message type: send one of "input", "resize", "ping"`;
  }
  return `${field ? `"${prefix}${field}": ` : ''}${issue.message}`;
}

export type ParsedFrame = { ok: true; message: TerminalClientMessage } | { ok: false; error: string };

/** One WebSocket frame from a client, checked for size, encoding, JSON and shape. */
export function parseClientFrame(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ParsedFrame {
  const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  if (isBinary) return { ok: false, error: 'binary frames are not accepted: send JSON text frames like {"type":"input","data":"ls\\r"}' };
  if (buf.byteLength > MAX_FRAME_BYTES) {
    return { ok: false, error: `frame too large (${buf.byteLength} bytes): send at most ${MAX_FRAME_BYTES} bytes per frame` };
  }
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    return { ok: false, error: 'frame is not valid JSON: send {"type":"input","data":"..."}, {"type":"resize","cols":80,"rows":24} or {"type":"ping"}' };
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return { ok: false, error: '"type": missing: send one of "input", "resize", "ping"' };
  }
  const r = clientMessage.safeParse(value);
  if (!r.success) return { ok: false, error: describe(r.error) };
  return { ok: true, message: r.data as TerminalClientMessage };
}

export function describeQueryError(err: z.ZodError): string {
  return describe(err);
}
