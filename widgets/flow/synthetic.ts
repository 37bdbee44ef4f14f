// A synthetic recording of a hybrid-mesh lab: the shape of a real run
// (components, snapshots, calls, casts, fanouts, notifications, a router kill
// with failover) at any message rate. It drives the frame-time benchmark and
// the widget tests; it is never shown as a measurement.
import type { ComponentStatus, LabEvent, LabStatus, RouterSnapshot, ServiceEvent } from '../../common/wire.js';

export interface SyntheticOptions {
  durationMs?: number; // default 20 s
  messagesPerSecond?: number; // message events per second, default 50
  killRouterAt?: number | null; // ms after the start: router-b is killed, its services fail over to router-c
  startT?: number; // epoch ms of the first event
  seed?: number;
}

const ROUTERS = ['router-a', 'router-b', 'router-c'];
const PORT = (r: string) => 15810 + ROUTERS.indexOf(r);

/** A JSON-lines recording: header line, then one LabEvent per line. */
export function syntheticRecording(opts: SyntheticOptions = {}): string {
  const lines = [JSON.stringify({
    type: 'recording', version: 1, synthetic: true,
    machine: { description: 'synthetic events (not a measurement)' },
    topology: 'hybrid-mesh', startedAt: opts.startT ?? 1_700_000_000_000,
  })];
  for (const ev of syntheticEvents(opts)) lines.push(JSON.stringify(ev));
  return lines.join('\n') + '\n';
}

export function syntheticEvents(opts: SyntheticOptions = {}): LabEvent[] {
  const t0 = opts.startT ?? 1_700_000_000_000;
  const dur = opts.durationMs ?? 20_000;
  const rate = opts.messagesPerSecond ?? 50;
  const killAt = opts.killRouterAt ?? null;
  let seed = opts.seed ?? 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };

  // RPC services and the router each is attached to; telemetry only listens for notifications, on the broker.
  const attach: Record<string, string> = { conductor: 'router-a', 'compute-1': 'router-b', 'compute-2': 'router-c' };
  const services = [...Object.keys(attach), 'telemetry'];
  const rpcUrl = `amqp://${ROUTERS.map((r) => `127.0.0.1:${PORT(r)}`).join(',')}/`;
  const comp = (name: string, kind: ComponentStatus['kind'], product: string, endpoint: string | null, pid: number): ComponentStatus => ({
    name, kind, state: 'running', pid, endpoint, product, startedAt: t0 - 30_000, detail: null,
    ...(kind === 'service' ? {
      transport: { rpc: rpcUrl, notify: 'rabbit://127.0.0.1:15800/' },
      connectedTo: attach[name] ? `amqp://127.0.0.1:${PORT(attach[name])}` : 'amqp://127.0.0.1:15800',
    } : {}),
  });
  const status: LabStatus = {
    home: '(synthetic)', topology: 'hybrid-mesh', router: 'embedded',
    transports: { rpc: rpcUrl, notify: 'rabbit://127.0.0.1:15800/' },
    components: [
      comp('broker', 'broker', 'RabbitMQ 3.10.8', 'amqp://127.0.0.1:15800', 1000),
      ...ROUTERS.map((r, i) => comp(r, 'router', 'hmlab-router 0.1.0', `amqp://127.0.0.1:${PORT(r)}`, 1001 + i)),
      ...services.map((s, i) => comp(s, 'service', 'oslo.messaging 14.0.3', null, 1100 + i)),
    ],
    traffic: { rpcCalls: { ok: 0, failed: 0 }, rpcCasts: { sent: 0 }, fanouts: { sent: 0 }, notifications: { sent: 0, received: 0 } },
    trafficRate: rate,
  };
  const out: LabEvent[] = [{ type: 'hello', t: t0, status }];
  const deadAt = (r: string, t: number) => killAt !== null && r === 'router-b' && t >= killAt;
  const delivered: Record<string, number> = { 'router-a': 0, 'router-b': 0, 'router-c': 0 };
  let depth = 0;
  let id = 0;

  const snap = (r: string, t: number): LabEvent => {
    const live = ROUTERS.filter((x) => x !== r && !deadAt(x, t - t0));
    const s: RouterSnapshot = {
      router: r, id: r, product: 'hmlab-router 0.1.0',
      nodes: live.map((x) => ({ id: x, nextHop: null, cost: 1 })),
      connections: [
        ...live.map((x) => ({ container: x, host: `127.0.0.1:${PORT(x)}`, role: 'inter-router', dir: 'out' })),
        ...Object.entries(attach).filter(([, a]) => a === r).map(([svc]) => ({ container: svc, host: '127.0.0.1:40000', role: 'normal', dir: 'in' })),
      ],
      addresses: [{
        address: 'openstack.org/om/rpc/anycast/nova/compute', distribution: 'balanced', subscribers: 1, remotes: live.length,
        deliveriesIn: delivered[r], deliveriesOut: delivered[r], rate: 0,
      }],
      links: [],
      deliveries: { in: delivered[r], out: delivered[r], transit: 0 },
    };
    return { type: 'router', t, snapshot: s };
  };
  const msg = (t: number, e: Omit<ServiceEvent, 't'>): LabEvent => ({ type: 'message', t, event: { t, ...e } });

  // Periodic snapshots and rates.
  for (let t = 0; t <= dur; t += 333) {
    for (const r of ROUTERS) if (!deadAt(r, t)) out.push(snap(r, t0 + t));
    if (t % 999 === 0) {
      depth = Math.max(0, depth + Math.round((rnd() - 0.45) * 6));
      out.push({ type: 'broker', t: t0 + t, snapshot: {
        queues: [
          { name: 'notifications.info', vhost: '/', messages: depth, consumers: 1, publishRate: rate * 0.2, deliverRate: rate * 0.2, durable: false },
          { name: 'notifications.error', vhost: '/', messages: Math.round(depth / 4), consumers: 1, publishRate: 0.5, deliverRate: 0.5, durable: false },
        ],
        connections: [{ name: '127.0.0.1:50000 -> 127.0.0.1:15800', client: 'telemetry', channels: 1 }],
      } });
      out.push({
        type: 'rates', t: t0 + t,
        perSecond: { 'rpc.call': rate * 0.2, 'rpc.cast': rate * 0.1, 'rpc.fanout': rate * 0.05, 'notify.sent': rate * 0.2, 'notify.received': rate * 0.2 },
      });
    }
  }
  if (killAt !== null) {
    out.push({ type: 'component', t: t0 + killAt, name: 'router-b', state: 'failed', pid: null, detail: 'killed (SIGKILL)' });
    out.push({ type: 'failover', t: t0 + killAt + 1300, service: 'compute-1', from: `127.0.0.1:${PORT('router-b')}`, to: `127.0.0.1:${PORT('router-c')}` });
    out.push(msg(t0 + killAt + 1300, { service: 'compute-1', kind: 'transport.connected', transport: `127.0.0.1:${PORT('router-c')}` }));
  }

  // Message events, evenly spread.
  const step = 1000 / Math.max(1, rate);
  for (let t = 0; t < dur; t += step) {
    const at = t0 + Math.round(t);
    if (killAt !== null && t >= killAt + 1300) attach['compute-1'] = 'router-c';
    const x = rnd();
    const server = rnd() < 0.5 ? 'compute-1' : 'compute-2';
    const target = { topic: 'compute', server, exchange: 'nova' };
    if (x < 0.4) {
      const mid = `m${++id}`;
      const lost = killAt !== null && t >= killAt && t < killAt + 1300 && server === 'compute-1';
      if (!lost) out.push(msg(at, { service: server, kind: 'rpc.request', id: mid, method: 'build_instance', target }));
      out.push(msg(at + 2, {
        service: 'conductor', kind: 'rpc.call', id: mid, method: 'build_instance', target, ok: !lost,
        latencyMs: lost ? 30000 : 2 + rnd() * 3, ...(lost ? { error: 'MessagingTimeout' } : {}),
      }));
      for (const r of ROUTERS) delivered[r] += 1;
    } else if (x < 0.5) {
      const cid = `c${++id}`;
      out.push(msg(at, { service: 'conductor', kind: 'rpc.cast', id: cid, method: 'refresh', target: { topic: 'compute', server: null } }));
      out.push(msg(at + 1, { service: server, kind: 'rpc.request', id: cid, method: 'refresh', target }));
    } else if (x < 0.55) {
      const fid = `f${++id}`;
      out.push(msg(at, { service: 'conductor', kind: 'rpc.fanout', id: fid, method: 'sync', target: { topic: 'compute', fanout: true } }));
      for (const s of ['compute-1', 'compute-2']) {
        out.push(msg(at + 1, { service: s, kind: 'rpc.request', id: fid, method: 'sync', target: { topic: 'compute', server: s, fanout: true } }));
      }
    } else if (x < 0.8) {
      out.push(msg(at, {
        service: server, kind: 'notify.sent', method: 'compute.instance.update', priority: rnd() < 0.9 ? 'info' : 'error',
        target: { topic: 'notifications' }, publisher: server,
      }));
    } else {
      out.push(msg(at, {
        service: 'telemetry', kind: 'notify.received', method: 'compute.instance.update', priority: 'info',
        target: { topic: 'notifications' },
      }));
    }
  }
  out.sort((a, b) => a.t - b.t);
  return out;
}
