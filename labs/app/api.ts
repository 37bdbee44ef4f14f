// The workbook's view of the labs API (server/labs/plugin.ts). Every call
// goes to the lab server the page came from; the cookie carries the token.

export type {
  LabStartState, LabSummary, StepAction, CheckRecord, LabProgress, LabDetail, CheckResult, MeasureChart, DiffLine, EditResult, ResetState,
} from '../../common/wire.js';
import type { LabStartState, LabSummary, LabProgress, LabDetail, CheckResult, EditResult, ResetState } from '../../common/wire.js';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `the lab server does not answer (${(err as Error).message}); is "hmlab serve" still running?`);
  }
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { const b = (await res.json()) as { error?: string }; if (b.error) msg = b.error; } catch { /* keep the status */ }
    if (res.status === 401) msg = 'the lab server needs its token: open the URL "hmlab serve" printed';
    throw new ApiError(res.status, msg);
  }
  return (await res.json()) as T;
}

const lab = (id: string) => `/labs/${encodeURIComponent(id)}`;

export const labsApi = {
  list: () => call<{ labs: LabSummary[] }>('GET', '/labs').then((r) => r.labs),
  get: (id: string) => call<LabDetail>('GET', lab(id)),
  start: (id: string) => call<LabStartState>('GET', `${lab(id)}/start`),
  check: (id: string, check: string) => call<CheckResult>('POST', `${lab(id)}/checks/${encodeURIComponent(check)}`, {}),
  preview: (id: string, n: number) => call<EditResult>('POST', `${lab(id)}/edits/${n}/preview`, {}),
  apply: (id: string, n: number) => call<EditResult>('POST', `${lab(id)}/edits/${n}/apply`, {}),
  progress: (id: string, body: { step?: number; action?: string }) => call<LabProgress>('POST', `${lab(id)}/progress`, body),
  reset: (id: string) => call<ResetState>('POST', `${lab(id)}/reset`, {}),
  resetState: (id: string) => call<ResetState>('GET', `${lab(id)}/reset`),
};
