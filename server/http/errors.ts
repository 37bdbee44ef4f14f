// One shape for every API error: a sentence that says what is wrong and how
// to fix it, and the field when a request body was at fault. Routes throw (or
// reject: express 5 forwards rejected async handlers); errorHandler is the one
// place a thrown error becomes an HTTP answer.
import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import type { ApiError } from '../../common/wire.js';
import { LabError, type LabErrorCode } from '../backends/errors.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

export function sendError(res: Response, status: number, error: string, field?: string): void {
  const body: ApiError = field ? { error, field } : { error };
  res.status(status).json(body);
}

/** The first issue of a zod error as a sentence naming the field, and the field. */
function describeZodError(err: z.ZodError): { message: string; field?: string } {
  const issue = err.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : undefined;
  return { message: issue ? `${field ? `"${field}": ` : ''}${issue.message}` : 'invalid request body', field };
}

/** Validate a body with a zod schema; throws HttpError(400) naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const { message, field } = describeZodError(r.error);
  throw new HttpError(400, message, field);
}

/** A LabError is the user's state, not our crash: its sentence, with the status that fits its code. */
export const STATUS_OF_LAB_ERROR: Record<LabErrorCode, number> = {
  'bad-input': 400, 'unknown-topology': 400, 'unknown-component': 404, 'bad-config': 409,
  'port-in-use': 409, 'already-running': 409, 'not-running': 409, 'not-permitted': 403, 'not-installed': 503, 'component-failed': 502,
};

/** The answer for an error the user can act on; null for anything else (a defect: 500). */
export function httpErrorOf(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (err instanceof LabError) return new HttpError(STATUS_OF_LAB_ERROR[err.code] ?? 409, err.message, err.field);
  if (err instanceof z.ZodError) { const { message, field } = describeZodError(err); return new HttpError(400, message, field); }
  // body-parser's errors (express.json) carry a type and a 4xx status
  const e = err as { type?: string; status?: number; message?: string } | null;
  if (e?.type === 'entity.parse.failed') return new HttpError(400, 'request body is not valid JSON');
  if (e?.type === 'entity.too.large') return new HttpError(413, 'request body is too large');
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') {
    return new HttpError(415, `${e.message ?? 'unsupported body encoding'}: send UTF-8 JSON, uncompressed or gzip/deflate`);
  }
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new HttpError(e.status, e.message ?? 'bad request');
  return null;
}

/**
 * The error middleware of every server (lab server, workshop server): typed
 * errors get their status and sentence; anything else is a defect, answered
 * 500 and logged with its stack, and never takes the server down.
 */
export function errorHandler(log: (line: string) => void = (line) => { process.stderr.write(`${line}\n`); }): ErrorRequestHandler {
  return (err, req, res, next) => {
    const known = httpErrorOf(err);
    if (!known) log(`hmlab: ${req.method} ${req.path} failed: ${(err as Error)?.stack ?? String(err)}`);
    // an answer already under way (a file being streamed) cannot change: express closes the connection
    if (res.headersSent) { next(err); return; }
    if (known) { sendError(res, known.status, known.message, known.field); return; }
    sendError(res, 500, `internal error: ${(err as Error)?.message ?? String(err)} (the server's log has the details)`);
  };
}
