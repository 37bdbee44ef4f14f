// AMQP fuzz: at least 10,000 generated inputs against a running embedded
// router process (random bytes, truncated headers, a valid header with
// mutated frames, absurd Open fields, credit violations, slow and
// half-open peers). After every hundred a well-formed client must still
// round-trip a message. Prints what it tried and what survived: crashes
// (must be 0), hangs (0), Node warnings (0), the router's live heap after
// a full collection (no leak) and its resident memory (bounded), and the seed
// (HMLAB_FUZZ_SEED=<seed> replays the same inputs).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementClient } from '../../server/router/index.js';
import { cleanupScope, eventually, freePort, rssOf, sleep, startRouter, tempDir, type RouterProc } from '../helpers/router-procs.js';
import { amqpConnect, closeConnection, nextMessage, openReceiver, openSender, sendForOutcome, waitSendable } from '../helpers/router-amqp.js';
import { AMQP_HEADER, EMPTY_FRAME, frame, messagePayload, producerFrames, rawPeer, type RawPeer } from '../helpers/amqp-raw.js';

const INPUTS = 10_000;
const BATCH = 100;
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const IDLE_SECONDS = 3;
const LEAK_BOUND = 8e6; // 800 bytes per input left behind would show; a run settles 2-3 MB higher (compiled code)
const RSS_CEILING = 400e6;

/** mulberry32: small, seeded, good enough to pick and mutate inputs. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)],
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}
type Rng = ReturnType<typeof prng>;

/** One generated input: what to write, and how. */
interface Input { kind: string; chunks: Buffer[]; gapMs?: number; keepOpen?: boolean }

function mutate(rng: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const n = 1 + rng.int(6);
  // a 32-bit size or count at the edges, or anywhere below 1 MiB
  const edgeValue = () => rng.pick([0, 1, 7, 8, 9, 512, 0x7fffffff, 0xffffffff, rng.int(1 << 20)]);
  for (let i = 0; i < n; i++) {
    const op = rng.int(4);
    const at = rng.int(Math.max(1, out.length));
    if (op === 0) out[at] = rng.int(256);
    else if (op === 1) out[at] ^= 1 << rng.int(8);
    else if (op === 2 && out.length >= 4) out.writeUInt32BE(edgeValue(), Math.min(at, out.length - 4));
    else if (op === 3) return Buffer.concat([out.subarray(0, at), rng.bytes(rng.int(32)), out.subarray(at)]);
  }
  return rng.int(4) === 0 ? out.subarray(0, rng.int(out.length + 1)) : out;
}

const ABSURD_OPENS: (() => Record<string, unknown>)[] = [
  () => ({ container_id: 'x', max_frame_size: 0 }),
  () => ({ container_id: 'x', max_frame_size: 40 }),
  () => ({ container_id: 'x', max_frame_size: 511 }),
  () => ({ container_id: 'x', max_frame_size: 4294967295, channel_max: 65535 }),
  () => ({ container_id: 'x', channel_max: 0, idle_time_out: 1 }),
  () => ({ container_id: 'x', idle_time_out: 4294967295 }),
  () => ({ container_id: 'c'.repeat(12000) }),
  () => ({ container_id: '', hostname: '\u0000\uffff'.repeat(100) }),
  () => ({ container_id: 'x', properties: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'.repeat(20)])) }),
  () => ({ container_id: 'x', offered_capabilities: Array.from({ length: 300 }, (_, i) => `cap${i}`) }),
];

function generate(rng: Rng, address: string): Input {
  switch (rng.int(7)) {
    case 0: return { kind: 'random bytes', chunks: [rng.bytes(rng.int(2000))] };
    case 1: {
      const h = rng.pick([AMQP_HEADER, SASL_HEADER, Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 0]), Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 2, 0, 0])]);
      return { kind: 'truncated or wrong header', chunks: [h.subarray(0, rng.int(9)), ...(rng.int(2) ? [rng.bytes(rng.int(64))] : [])] };
    }
    case 2: {
      const frames = Buffer.concat(producerFrames(address, 1 + rng.int(3)));
      return { kind: 'valid header, mutated frames', chunks: [AMQP_HEADER, mutate(rng, frames)] };
    }
    case 3: {
      const open = rng.pick(ABSURD_OPENS)();
      const rest = rng.int(2) ? producerFrames(address, 1).slice(1) : [];
      return { kind: 'absurd Open fields', chunks: [AMQP_HEADER, frame(0, 'open', open), ...rest] };
    }
    case 4: return { kind: 'credit violation', chunks: [AMQP_HEADER, ...producerFrames(address, 300 + rng.int(700), 'x'.repeat(rng.int(200)))] };
    case 5: {
      // a valid session written a few bytes at a time
      const all = Buffer.concat([AMQP_HEADER, ...producerFrames(address, 1)]);
      const chunks: Buffer[] = [];
      for (let i = 0; i < all.length; i += 1 + rng.int(40)) chunks.push(all.subarray(i, i + 1 + rng.int(40)));
      return { kind: 'slow peer', chunks: chunks.slice(0, 30), gapMs: 5 };
    }
    default: {
      // half-open: a valid start, then part of a frame, and the socket left open
      const all = Buffer.concat([AMQP_HEADER, ...producerFrames(address, 1)]);
      const cut = 9 + rng.int(all.length - 9);
      const chunks: Buffer[] = [all.subarray(0, cut)];
      if (rng.int(2)) chunks.push(messagePayload('never finished').subarray(0, 3));
      return { kind: 'half-open peer', chunks, keepOpen: true };
    }
  }
}

/** Write one input; close it ourselves after a moment unless it is meant to stay half-open. */
async function play(port: number, input: Input, halfOpen: RawPeer[]): Promise<void> {
  let p: RawPeer;
  try { p = await rawPeer(port); } catch { return; }
  for (const c of input.chunks) {
    p.write(c);
    if (input.gapMs) await sleep(input.gapMs);
  }
  if (input.keepOpen) { halfOpen.push(p); return; }
  await p.closed(150);
  p.destroy();
}

/** A well-formed client: one connection, a consumer and a producer, one settled message. */
async function healthy(port: number, address: string, timeoutMs: number): Promise<boolean> {
  const scope = cleanupScope();
  const attempt = (async () => {
    const c = await amqpConnect(scope, port, 'fuzz-check');
    const r = await openReceiver(c, address, { autoaccept: true });
    const s = await openSender(c, address);
    if (!(await waitSendable(s, timeoutMs))) return false;
    const got = nextMessage(r, timeoutMs);
    const { outcome } = sendForOutcome(s, 'still routing', timeoutMs);
    const ok = (await got).message?.body === 'still routing' && (await outcome).kind === 'accepted';
    await closeConnection(c);
    return ok;
  })();
  const timer = new Promise<boolean>((res) => setTimeout(() => res(false), timeoutMs).unref());
  try { return await Promise.race([attempt.catch(() => false), timer]); } finally { await scope.run(); }
}

describe('reliability: AMQP fuzz against the embedded router', () => {
  const scope = cleanupScope();
  let router: RouterProc;
  before(async () => {
    router = await startRouter(scope, tempDir(scope, 'hmlab-fuzz-'), {
      id: 'Router.F', normal: await freePort(), mode: 'standalone',
      listenerExtra: `    initialHandshakeTimeoutSeconds: 2\n    idleTimeoutSeconds: ${IDLE_SECONDS}\n`, heapProbe: true,
    });
  });
  after(() => scope.run());

  it(`survives ${INPUTS.toLocaleString('en')} generated inputs and keeps routing after every ${BATCH}`, async () => {
    const seed = Number(process.env.HMLAB_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`# AMQP fuzz seed ${seed} (HMLAB_FUZZ_SEED=${seed} replays it)`);
    const rng = prng(seed);
    const started = Date.now();
    assert.ok(await healthy(router.port, 'fuzz/warm-up', 10000), 'the router does not route before the fuzz');
    const rssBefore = rssOf(router.child.pid!);
    const heapBefore = await router.liveHeap();
    const tried = new Map<string, number>();
    const halfOpen: RawPeer[] = [];
    let hangs = 0;
    for (let done = 0; done < INPUTS; done += BATCH) {
      const batch = Array.from({ length: BATCH }, () => generate(rng, `fuzz/target-${rng.int(4)}`));
      for (const b of batch) tried.set(b.kind, (tried.get(b.kind) ?? 0) + 1);
      await Promise.all(batch.map((b) => play(router.port, b, halfOpen)));
      assert.equal(router.child.exitCode, null, `the router exited after input ${done + BATCH} (seed ${seed}):\n${router.output().slice(-3000)}`);
      if (!(await healthy(router.port, `fuzz/check-${done}`, 10000))) {
        hangs++;
        assert.fail(`no round trip after input ${done + BATCH} (seed ${seed}); kinds in that batch: ${[...new Set(batch.map((b) => b.kind))].join(', ')}`);
      }
    }
    // half-open peers are the router's to close, within its idle timeout
    const stillOpen = await Promise.all(halfOpen.map((p) => p.closed((IDLE_SECONDS + 4) * 1000)));
    const keptOpen = stillOpen.filter((r) => !r.closed).length;
    for (const p of halfOpen) p.destroy();
    // nothing stays behind: the router lists only the management connection asking
    const m = await ManagementClient.connect('127.0.0.1', router.port);
    const leftover = await eventually(async () => {
      const [row] = await m.query('router', ['connectionCount']);
      return Number(row.connectionCount) <= 1 ? Number(row.connectionCount) : null;
    }, 15000, 'the fuzz connections to be gone').catch(() => -1);
    await m.close();
    await sleep(500);
    const rssAfter = rssOf(router.child.pid!);
    const heapAfter = await router.liveHeap();
    const unexpected = (router.output().match(/Unexpected error/g) ?? []).length;
    // Node's own warnings (a timer overflowing into 1 ms, a listener leak) are defects too
    const warnings = router.output().split('\n').filter((l) => /\(node:\d+\) \w*Warning/.test(l));
    const crashes = router.child.exitCode === null ? 0 : 1;
    console.log(`# tried: ${[...tried].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    console.log(`# survived: crashes ${crashes}, hangs ${hangs}, unexpected errors ${unexpected}, ` +
      `half-open peers kept ${keptOpen} of ${halfOpen.length}, connections left ${leftover}, Node warnings ${warnings.length}`);
    const mb = (n: number) => `${(n / 1e6).toFixed(n < 100e6 ? 1 : 0)} MB`;
    console.log(`# router memory: live heap ${mb(heapBefore)} before, ${mb(heapAfter)} after; ` +
      `resident ${mb(rssBefore)} before, ${mb(rssAfter)} after (its high-water mark); ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.equal(crashes, 0);
    assert.equal(hangs, 0);
    const firstErrors = router.output().split('\n').filter((l) => l.includes('Unexpected error')).slice(0, 5);
    assert.equal(unexpected, 0, `the router hit unexpected errors:\n${firstErrors.join('\n')}`);
    assert.equal(keptOpen, 0, 'half-open peers outlived the idle timeout');
    assert.equal(warnings.length, 0, `the router printed Node warnings:\n${[...new Set(warnings)].slice(0, 5).join('\n')}`);
    assert.ok(leftover >= 0, 'fuzz connections stayed open in the router');
    // A leak stays live after a full collection; a busy moment only raises the resident high-water mark.
    assert.ok(heapAfter < heapBefore + LEAK_BOUND, `the router's live heap grew from ${mb(heapBefore)} to ${mb(heapAfter)}: something outlives its connection`);
    assert.ok(rssAfter < RSS_CEILING, `the router's resident memory reached ${mb(rssAfter)}, over its ${mb(RSS_CEILING)} bound`);
  });
});
