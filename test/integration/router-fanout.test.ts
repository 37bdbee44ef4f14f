// Fanout in a full mesh of three, with real oslo.messaging 14.0.3: client on
// Router.A, servers on Router.B and Router.C, five fanout casts per run from a
// fresh client that stays a second and closes. Repeated enough times to catch
// a copy lost one run in three. qdrouterd 1.19.0 delivers each fanout twice
// to each server in this shape, and now and then a server misses one (a
// defect of the reference, in the README's differences table): its variant
// asserts "at most twice, and some server got it" instead of "exactly once".
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  eventually, findQdrouterd, freePort, OsloProc, sleep, startRouter, tempDir, type Product, type RouterProc,
} from '../helpers/router-procs.js';
import { ManagementClient } from '../../server/router/index.js';

const qdrouterd = findQdrouterd();
const RUNS = 10; // a loss in one run of three goes unseen in 10 runs with probability (2/3)^10 < 2%
const CASTS = 5;
const TOPIC = 'fanout-mesh';

function cleanupScope() {
  const fns: (() => unknown)[] = [];
  return {
    after(fn: () => unknown) { fns.push(fn); },
    async run() { for (const fn of fns.reverse()) { try { await fn(); } catch { /* keep cleaning */ } } },
  };
}

async function query(port: number, type: string, attrs: string[]) {
  const m = await ManagementClient.connect('127.0.0.1', port);
  try { return await m.query(type, attrs); } finally { await m.close(); }
}

for (const product of ['embedded', 'qdrouterd'] as Product[]) {
  const skip = product === 'qdrouterd' && !qdrouterd ? 'qdrouterd is not installed here (Debian 12 has no package): the reference run is skipped' : false;

  describe(`fanout in a full mesh of three (${product})`, { skip }, () => {
    const scope = cleanupScope();
    let routers: RouterProc[] = [];
    let sb: OsloProc, sc: OsloProc;
    let an = 0;

    before(async () => {
      const dir = tempDir(scope);
      const ports = { an: await freePort(), ai: await freePort(), bn: await freePort(), bi: await freePort(), cn: await freePort() };
      an = ports.an;
      const a = await startRouter(scope, dir, { id: 'Router.A', normal: ports.an, interRouter: ports.ai }, product);
      const b = await startRouter(scope, dir, { id: 'Router.B', normal: ports.bn, interRouter: ports.bi, connectTo: [ports.ai] }, product);
      const c = await startRouter(scope, dir, { id: 'Router.C', normal: ports.cn, connectTo: [ports.ai, ports.bi] }, product);
      routers = [a, b, c];
      for (const r of routers) {
        await eventually(async () => (await query(r.port, 'router.node', ['id'])).length === 3, 10000, `${r.id} to know all three routers`);
      }
      [sb, sc] = await Promise.all([
        OsloProc.start(scope, 'server', `amqp://127.0.0.1:${ports.bn}/`, { topic: TOPIC, server: 'on-b' }),
        OsloProc.start(scope, 'server', `amqp://127.0.0.1:${ports.cn}/`, { topic: TOPIC, server: 'on-c' }),
      ]);
      // "ready" comes once the RPC server started; its links attach just after.
      await eventually(async () => {
        const rows = await query(an, 'router.address', ['key', 'remoteCount']);
        return rows.some((r) => String(r.key).includes('/multicast/') && String(r.key).endsWith(`/${TOPIC}`) && Number(r.remoteCount) === 2);
      }, 10000, 'Router.A to know both fanout consumers');
    });
    after(() => scope.run());

    it(`delivers every fanout cast to both servers, ${RUNS} runs of ${CASTS} casts from a fresh client`, { timeout: 115_000 }, async () => {
      const tally: string[] = [];
      const count = (s: OsloProc, run: number) => Array.from({ length: CASTS }, (_, i) => s.handled((l) => l.value === `run${run}-${i}`).length);
      for (let run = 0; run < RUNS; run++) {
        const runScope = cleanupScope();
        try {
          const client = await OsloProc.start(runScope, 'client', `amqp://127.0.0.1:${an}/`, { topic: TOPIC });
          for (let i = 0; i < CASTS; i++) {
            const r = await client.op({ op: 'cast', id: `run${run}-${i}`, fanout: true }, 20000);
            assert.equal(r.ok, true, `fanout cast failed: ${String(r.error)} ${String(r.detail)}`);
          }
          await sleep(1000);
          client.child.stdin!.end(); // the client closes cleanly
          await eventually(() => [sb, sc].every((s) => count(s, run).every((n) => n >= 1)), 5000, 'every fanout at both servers').catch(() => undefined);
          await sleep(200);
        } finally {
          await runScope.run();
        }
        const gotB = count(sb, run), gotC = count(sc, run);
        tally.push(`run ${run}: on-b ${gotB.join('')} on-c ${gotC.join('')}`);
        const ok = product === 'embedded'
          ? [...gotB, ...gotC].every((n) => n === 1)
          : [...gotB, ...gotC].every((n) => n <= 2) && gotB.every((n, i) => n + gotC[i] >= 1);
        if (!ok) {
          const tail = (r: RouterProc) => r.output().split('\n').filter((l) => /silent|lost|Neighbor|Drop|error/i.test(l)).slice(-20).join('\n');
          const logs = routers.map((r) => `--- ${r.id}\n${tail(r)}`).join('\n');
          const wrong = product === 'embedded' ? 'other than exactly once' : 'more than twice, or no server got it';
          assert.fail(`run ${run}: a server got a fanout ${wrong} (digits: copies of each of the ${CASTS} casts)\n${tally.join('\n')}\n${logs}`);
        }
      }
    });
  });
}
