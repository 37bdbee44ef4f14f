// The workbook's view of the labs API (server/labs/plugin.ts). Every call
// goes to the lab server the page came from; the cookie carries the token.

export interface LabSummary {
  id: string;
  title: string;
  minutes: number;
  topology: string;
  start: 'up' | 'down';
  summary: string;
  steps: { index: number; title: string; checks: string[] }[];
  checks: { id: string; step: number; title: string; description: string }[];
  progress: { step: number; passed: number; total: number; updatedAt: number | null };
}

export type StepAction =
  | { kind: 'run'; index: number; terminal: string; command: string }
  | { kind: 'edit'; index: number; file: string }
  | { kind: 'check'; index: number; id: string; description: string };

export interface LabProgress {
  lab: string;
  step: number;
  checks: Record<string, { check: string; pass: boolean; hint: string; at: number }>;
  actions: string[];
  updatedAt: number | null;
}

export interface LabDetail extends Omit<LabSummary, 'steps'> {
  introHtml: string;
  steps: { index: number; title: string; html: string; actions: StepAction[] }[];
  state: LabProgress;
}

export interface CheckResult {
  pass: boolean;
  hint: string;
  data?: { chart?: MeasureChart; [k: string]: unknown };
}

export interface MeasureChart {
  machine: string;
  measurements: {
    transport: 'router' | 'broker';
    calls: number;
    failed: number;
    callsPerS: number;
    windowS: number;
    latencyMs: { mean: number; p50: number; p95: number };
  }[];
}

export interface DiffLine { op: ' ' | '-' | '+'; text: string; oldLine?: number; newLine?: number }
export interface EditResult { file: string; changed: boolean; diff: DiffLine[] }

export interface ResetState {
  lab: string | null;
  state: 'idle' | 'running' | 'done' | 'failed';
  message: string;
  startedAt: number | null;
  finishedAt: number | null;
}

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
  check: (id: string, check: string) => call<CheckResult>('POST', `${lab(id)}/checks/${encodeURIComponent(check)}`, {}),
  preview: (id: string, n: number) => call<EditResult>('POST', `${lab(id)}/edits/${n}/preview`, {}),
  apply: (id: string, n: number) => call<EditResult>('POST', `${lab(id)}/edits/${n}/apply`, {}),
  progress: (id: string, body: { step?: number; action?: string }) => call<LabProgress>('POST', `${lab(id)}/progress`, body),
  reset: (id: string) => call<ResetState>('POST', `${lab(id)}/reset`, {}),
  resetState: (id: string) => call<ResetState>('GET', `${lab(id)}/reset`),
};
