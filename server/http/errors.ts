// One shape for every API error: a sentence that says what is wrong and how
// to fix it, and the field when a request body was at fault.
import type { Response } from 'express';
import type { z } from 'zod';
import type { ApiError } from '../../common/wire.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

export function sendError(res: Response, status: number, error: string, field?: string): void {
  const body: ApiError = field ? { error, field } : { error };
  res.status(status).json(body);
}

/** Validate a body with a zod schema; throws HttpError(400) naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : undefined;
  const msg = issue ? `${field ? `"${field}": ` : ''}${issue.message}` : 'invalid request body';
  throw new HttpError(400, msg, field);
}
