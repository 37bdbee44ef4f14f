// What an operator sees through a mesh of three routers with real
// oslo.messaging 14.0.3: RPC call latency (p50, p95) from a client on one
// router to a server on another, and the time from killing the client's
// router to its next successful call (the driver moves to the next host of
// its transport_url). Used by router.bench.ts for both routers in one run.
import { freePort, OsloProc, sleep, startRouter, tempDir, type Product, type RouterProc } from '../test/helpers/router-procs.js';
import { ManagementClient } from '../server/router/index.js';
import { percentile } from '../common/stats.js';

export interface OsloMeshRow { product: Product; calls: number; p50: number; p95: number; failoverS: number }


/** The router a client's connection is on: its container id carries the client's pid. */
async function routerOf(client: OsloProc, routers: RouterProc[]): Promise<RouterProc | null> {
  for (const r of routers) {
    const m = await ManagementClient.connect('127.0.0.1', r.port);
    try {
      const conns = await m.query('connection', ['container']);
      if (conns.some((c) => String(c.container).includes(`/${client.child.pid}/`))) return r;
    } finally { await m.close(); }
  }
  return null;
}

export async function measureOsloMesh(product: Product, calls = 200): Promise<OsloMeshRow> {
  const fns: (() => unknown)[] = [];
  const scope = { after(fn: () => unknown) { fns.push(fn); } };
  try {
    const dir = tempDir(scope, 'hmlab-bench-oslo-');
    const p = { an: await freePort(), ai: await freePort(), bn: await freePort(), bi: await freePort(), cn: await freePort() };
    const a = await startRouter(scope, dir, { id: 'Bench.A', normal: p.an, interRouter: p.ai }, product);
    const b = await startRouter(scope, dir, { id: 'Bench.B', normal: p.bn, interRouter: p.bi, connectTo: [p.ai] }, product);
    await startRouter(scope, dir, { id: 'Bench.C', normal: p.cn, connectTo: [p.ai, p.bi] }, product);
    await sleep(1500); // the mesh forms
    await OsloProc.start(scope, 'server', `amqp://127.0.0.1:${p.cn}/`, { topic: 'bench', server: 'bench-server' });
    // the client's URL names A and B (the driver starts at either); the server stays on C
    const client = await OsloProc.start(scope, 'client', `amqp://127.0.0.1:${p.an},127.0.0.1:${p.bn}/`, { topic: 'bench' });
    let id = 0;
    const call = async (timeout: number) => client.op({ op: 'call', id: `bench-${id++}`, timeout }, (timeout + 10) * 1000);
    for (let ok = false, end = Date.now() + 30000; !ok; ) {
      ok = Boolean((await call(5)).ok);
      if (!ok && Date.now() > end) throw new Error(`${product}: no RPC call got through the mesh in 30 s`);
    }
    for (let i = 0; i < 20; i++) await call(10); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < calls; i++) {
      const r = await call(10);
      if (!r.ok) throw new Error(`${product}: call failed: ${String(r.error)} ${String(r.detail)}`);
      ms.push(Number(r.ms));
    }
    ms.sort((x, y) => x - y);
    const victim = await routerOf(client, [a, b]);
    if (!victim) throw new Error(`${product}: the client is on neither Bench.A nor Bench.B`);
    await victim.kill('SIGKILL');
    const killedAt = performance.now();
    for (;;) {
      const r = await call(5);
      if (r.ok) break;
      if (performance.now() - killedAt > 60000) throw new Error(`${product}: no successful call within 60 s of the kill`);
    }
    return { product, calls, p50: percentile(ms, 50), p95: percentile(ms, 95), failoverS: (performance.now() - killedAt) / 1000 };
  } finally {
    for (const fn of fns.reverse()) { try { await fn(); } catch { /* keep cleaning */ } }
  }
}
