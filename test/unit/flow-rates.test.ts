// The flow view's rate rule, written once in its model: the server's
// per-second rates while they are fresh (it counts what a sampled stream
// leaves out), the view's own meters otherwise. And the one-call teardown
// every widget controller is built on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabEvent } from '../../common/wire.js';
import { FlowModel, SERVER_RATES_FRESH_MS } from '../../widgets/flow/model.js';
import { Disposable, DisposableStore } from '../../widgets/common/disposable.js';

const T = 1_700_000_000_000;

/** `n` RPC calls a second from the conductor, for `seconds`, as the model's own meters see them. */
function calls(model: FlowModel, from: number, seconds: number, n: number): void {
  for (let i = 0; i < seconds * n; i++) {
    const t = from + Math.round((i * 1000) / n);
    model.apply({ type: 'message', t, event: { t, service: 'conductor', kind: 'rpc.call', id: `c${from}-${i}`, ok: true, latencyMs: 2 } });
  }
}

const rates = (t: number, perSecond: Record<string, number>): LabEvent => ({ type: 'rates', t, perSecond });

test('the server\'s rate stands while fresh, even where the events seen say otherwise', () => {
  const model = new FlowModel();
  calls(model, T, 3, 4); // the view saw 4 calls a second (a sampled stream)
  const now = T + 3000;
  assert.ok(Math.abs(model.rate('rpc.call', now) - 4) < 1, `own meter reads about 4/s, got ${model.rate('rpc.call', now)}`);
  model.apply(rates(now - 500, { 'rpc.call': 40, 'notify.sent': 0 }));
  assert.equal(model.rate('rpc.call', now), 40);
  // A zero from the server is a rate too, not "unknown".
  assert.equal(model.rate('notify.sent', now), 0);
});

test('a stale server rate gives way to the view\'s own meters', () => {
  const model = new FlowModel();
  model.apply(rates(T, { 'rpc.call': 40 }));
  calls(model, T, 4, 4);
  const fresh = T + SERVER_RATES_FRESH_MS - 1;
  const stale = T + SERVER_RATES_FRESH_MS;
  assert.equal(model.rate('rpc.call', fresh), 40);
  const own = model.rate('rpc.call', stale);
  assert.notEqual(own, 40);
  assert.ok(Math.abs(own - 4) < 1, `own meter reads about 4/s, got ${own}`);
});

test('a kind the server does not report is measured by the view; one never seen is 0', () => {
  const model = new FlowModel();
  calls(model, T, 3, 2);
  const now = T + 3000;
  model.apply(rates(now, { 'notify.sent': 7 }));
  assert.equal(model.rate('notify.sent', now), 7);
  assert.ok(Math.abs(model.rate('rpc.call', now) - 2) < 1, 'rpc.call from the meters');
  assert.equal(model.rate('rpc.cast', now), 0);
  assert.equal(model.total('rpc.call'), 6);
  assert.equal(model.total('rpc.cast'), 0);
});

test('a new lab forgets the previous lab\'s server rates', () => {
  const model = new FlowModel();
  const status = (topology: string, upAt: number) => ({
    home: 'lab', topology, router: null, transports: { rpc: null, notify: null }, components: [], traffic: {}, upAt,
  }) as unknown as Extract<LabEvent, { type: 'hello' }>['status'];
  model.apply({ type: 'hello', t: T, status: status('broker-only', T) });
  model.apply(rates(T + 100, { 'rpc.call': 40 }));
  assert.equal(model.rate('rpc.call', T + 200), 40);
  model.apply({ type: 'status', t: T + 300, status: status('hybrid-mesh', T + 300) });
  assert.equal(model.rate('rpc.call', T + 400), 0);
});

test('a disposable store undoes everything once, last first, also when one teardown throws', () => {
  const order: string[] = [];
  const store = new DisposableStore();
  store.add(() => order.push('timer'));
  store.add({ dispose: () => { order.push('socket'); throw new Error('socket already closed'); } });
  store.add(() => order.push('listener'));
  assert.throws(() => store.dispose(), /socket already closed/);
  assert.deepEqual(order, ['listener', 'socket', 'timer']);
  store.dispose();
  assert.deepEqual(order, ['listener', 'socket', 'timer'], 'a second dispose does nothing');
  // Registered after the end (a late callback): undone at once.
  store.add(() => order.push('late'));
  assert.deepEqual(order.at(-1), 'late');
});

test('a controller\'s dispose() disposes its children and what it deleted early only once', () => {
  const order: string[] = [];
  class Child extends Disposable {
    constructor(name: string) { super(); this.register(() => order.push(name)); }
  }
  class Parent extends Disposable {
    a = this.register(new Child('a'));
    b = this.register(new Child('b'));
    replaceA(): void { this.unregister(this.a); this.a = this.register(new Child('a2')); }
  }
  const p = new Parent();
  p.replaceA();
  assert.deepEqual(order, ['a']);
  p.dispose();
  assert.deepEqual(order, ['a', 'a2', 'b']);
  assert.ok(p.isDisposed && p.a.isDisposed && p.b.isDisposed);
});
