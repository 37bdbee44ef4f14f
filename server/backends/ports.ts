// One block of loopback ports per lab, so labs with different homes and
// blocks run side by side. The layout inside a block is fixed and small, so
// a user can read any port off the base.
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import type { PortPlan } from './types.js';
import { LabError } from './errors.js';

/** Clear of a system RabbitMQ (5672, 15672, 25672) and of common dev ports. */
export const DEFAULT_BASE_PORT = 15800;
export const PORT_BLOCK = 40;
export const ROUTER_NAMES = ['router-a', 'router-b', 'router-c'] as const;

export function planPorts(base: number): PortPlan {
  if (!Number.isInteger(base) || base < 1024 || base + PORT_BLOCK > 65535) {
    throw new LabError('bad-input', `base port ${base} is out of range: use --base-port N with 1024 <= N <= ${65535 - PORT_BLOCK}`, 'basePort');
  }
  const routers: PortPlan['routers'] = {};
  ROUTER_NAMES.forEach((name, i) => {
    routers[name] = { normal: base + 10 + i, interRouter: base + 20 + i };
  });
  return {
    base, brokerAmqp: base, brokerManagement: base + 1, brokerDist: base + 2, routers,
    broker2: { amqp: base + 5, management: base + 6, dist: base + 7 },
  };
}

/** Resolves true when nothing listens on 127.0.0.1:port and we may bind it. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * The kernel's ephemeral range: outgoing connections take their source
 * ports from it, so a block chosen there can be taken by any client between
 * our check and the component's bind.
 */
export function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* not Linux: assume the IANA range */ }
  return [49152, 65535];
}

/** A free block of `size` consecutive ports on loopback (for tests and workshop seats), outside the ephemeral range. */
export async function findFreePortBlock(size = PORT_BLOCK, from = 20000, to?: number): Promise<number> {
  const [ephLo, ephHi] = ephemeralRange();
  const end = to ?? (ephLo - from >= size * 20 ? ephLo : 65535 - size);
  const slots = Math.floor((end - from) / size);
  // Start at a random aligned offset so parallel callers rarely race for one block.
  const first = Math.floor(Math.random() * slots);
  for (let i = 0; i < slots; i++) {
    const base = from + ((first + i) % slots) * size;
    if (to === undefined && base + size > ephLo && base <= ephHi) continue;
    let free = true;
    for (let p = base; p < base + size && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new LabError('port-in-use', `no free block of ${size} ports between ${from} and ${end}`);
}

/**
 * One free loopback port outside the ephemeral range, for a process we are
 * about to start (tests, benchmarks). Port 0 would hand out an ephemeral
 * port that any outgoing connection may take before the process binds it.
 */
export async function freePort(from = 20000): Promise<number> {
  const [ephLo] = ephemeralRange();
  const end = ephLo - from >= 1000 ? ephLo : 65535;
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (end - from));
    if (await portFree(port)) return port;
  }
  throw new LabError('port-in-use', `no free port between ${from} and ${end}`);
}
