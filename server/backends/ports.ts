// One block of loopback ports per lab, so labs with different homes and
// blocks run side by side. The layout inside a block is fixed and small, so
// a user can read any port off the base.
import { createServer } from 'node:net';
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
  return { base, brokerAmqp: base, brokerManagement: base + 1, brokerDist: base + 2, routers };
}

/** Resolves true when nothing listens on 127.0.0.1:port and we may bind it. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free block of `size` consecutive ports on loopback (for tests and workshop seats). */
export async function findFreePortBlock(size = PORT_BLOCK, from = 20000, to = 60000): Promise<number> {
  // Start at a random aligned offset so parallel callers rarely race for one block.
  const slots = Math.floor((to - from) / size);
  const first = Math.floor(Math.random() * slots);
  for (let i = 0; i < slots; i++) {
    const base = from + ((first + i) % slots) * size;
    let free = true;
    for (let p = base; p < base + size && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new LabError('port-in-use', `no free block of ${size} ports between ${from} and ${to}`);
}
