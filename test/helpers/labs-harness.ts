// A real lab behind a lab server with the labs plugin, and the few calls
// the check tests make against it: each check is asserted failing before its
// step and passing after, through the same HTTP API the workbook uses.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLab, findFreePortBlock, embeddedRouterAvailable, findOnPath, type LabEnvironment } from '../../server/backends/index.js';
import { startLabServer, type LabServer } from '../../server/http/index.js';
import { labsPlugin } from '../../server/labs/index.js';
import type { LabStartState } from '../../common/wire.js';

const TOKEN = 'labs-test-token-0123456789abcdef0123456789abcdef';

export const noRabbit = existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? null : 'RabbitMQ is not installed (apt-get install rabbitmq-server)';
export const noRouter = embeddedRouterAvailable() || findOnPath('qdrouterd')
  ? null
  : 'no router: qdrouterd is not installed and the embedded router is not built (npm run build)';

export interface Result { pass: boolean; hint: string; data?: Record<string, unknown> }

export interface LabsHarness {
  readonly lab: LabEnvironment;
  /** The lab server's home (its progress database is server/labs.sqlite there). */
  readonly home: string;
  api<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }>;
  check(labId: string, id: string): Promise<Result>;
  fails(labId: string, id: string): Promise<Result>;
  /** Checks that read live traffic may need a few seconds after their step. */
  passes(labId: string, id: string, timeoutMs?: number): Promise<Result>;
  reset(labId: string): Promise<void>;
  /** What the workbook shows on opening the lab: how the environment differs from the lab's start. */
  startState(labId: string): Promise<LabStartState>;
  /** The first check of a lab fails on what runs now, a state the learner did not create in that lab. */
  firstCheckFails(labId: string): Promise<Result>;
}

/** Call inside a describe(): starts the server before its tests, stops lab and server after. */
export function useLabsHarness(homePrefix: string): LabsHarness {
  let home = '';
  let lab: LabEnvironment | undefined;
  let server: LabServer | undefined;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), homePrefix));
    const basePort = await findFreePortBlock();
    lab = openLab(home);
    server = await startLabServer({ home, port: 0, token: TOKEN, plugins: [labsPlugin({ lab, basePort })] });
  });
  after(async () => {
    await lab?.down().catch(() => {});
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const h: LabsHarness = {
    get lab() {
      if (!lab) throw new Error('the labs harness is used before its before() hook ran');
      return lab;
    },
    get home() {
      return home;
    },
    async api<T>(method: 'GET' | 'POST', path: string, body?: unknown) {
      const res = await fetch(`${server!.url}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async check(labId, id) {
      const r = await h.api<Result>('POST', `/labs/${labId}/checks/${id}`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    },
    async fails(labId, id) {
      const r = await h.check(labId, id);
      assert.equal(r.pass, false, `${id} should fail before its step: ${r.hint}`);
      assert.ok(r.hint.length > 20, 'a failing check says what to do');
      return r;
    },
    async passes(labId, id, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      let r = await h.check(labId, id);
      while (!r.pass && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 1000));
        r = await h.check(labId, id);
      }
      assert.equal(r.pass, true, `${id} should pass after its step: ${r.hint}`);
      return r;
    },
    async reset(labId) {
      const r = await h.api<{ state: string }>('POST', `/labs/${labId}/reset`, {});
      assert.equal(r.status, 202);
      const end = Date.now() + 120_000;
      let st = r.body;
      while (st.state === 'running' && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 500));
        st = (await h.api<{ state: string; message: string }>('GET', `/labs/${labId}/reset`)).body;
      }
      assert.equal(st.state, 'done', JSON.stringify(st));
    },
    async startState(labId) {
      const r = await h.api<LabStartState>('GET', `/labs/${labId}/start`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    },
    async firstCheckFails(labId) {
      const detail = (await h.api<{ checks: { id: string; step: number }[] }>('GET', `/labs/${labId}`)).body;
      const first = [...detail.checks].sort((a, b) => a.step - b.step)[0];
      assert.ok(first, `${labId} has checks`);
      return h.fails(labId, first.id);
    },
  };
  return h;
}
