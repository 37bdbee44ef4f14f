// A fixed layout, the same every time so an audience can learn it: services on
// the left, the router mesh in the centre, the broker with its exchange and
// queues along the bottom. Coordinates are in the diagram's own units
// (VIEW_W x VIEW_H); SVG and canvas both scale them to the screen. Counters
// and the legend sit beside the diagram, never on it.
import type { ComponentStatus } from '../../common/wire.js';

export const VIEW_W = 900;
export const VIEW_H = 470;

export interface Point { x: number; y: number }
export interface ServiceBox extends Point { w: number; h: number; name: string }
export interface RouterDot extends Point { r: number; name: string }
export interface BrokerArea { x: number; y: number; w: number; h: number; name: string; exchange: Point; queues: QueueSlot[] }
export interface QueueSlot { name: string; x: number; y: number; w: number; h: number; in: Point; out: Point }

export interface Layout {
  services: Map<string, ServiceBox>;
  routers: Map<string, RouterDot>;
  broker: BrokerArea | null;
}

export const MAX_QUEUES = 3;

export function computeLayout(components: ComponentStatus[], queueNames: string[]): Layout {
  const services = components.filter((c) => c.kind === 'service');
  const routers = components.filter((c) => c.kind === 'router');
  const broker = components.find((c) => c.kind === 'broker') ?? null;
  const out: Layout = { services: new Map(), routers: new Map(), broker: null };

  // Services: one column, evenly spread over the height.
  const sw = 262;
  const top = 6;
  const bottom = VIEW_H - 6;
  const gap = services.length ? (bottom - top) / services.length : 0;
  const sh = Math.min(72, gap - 8);
  services.forEach((c, i) => {
    out.services.set(c.name, { name: c.name, x: 6, y: top + gap * i + (gap - sh) / 2, w: sw, h: sh });
  });

  // Routers: on a circle in the upper centre, the first at the top, so a
  // mesh of three reads as a triangle with its three inter-router links.
  const right = VIEW_W - 10;
  const cx = (sw + 40 + right) / 2 + 20;
  const cy = broker ? 150 : VIEW_H / 2 - 20;
  const rad = routers.length <= 1 ? 0 : routers.length === 2 ? 95 : 100;
  const rr = 42;
  routers.forEach((c, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, routers.length);
    const pos = routers.length === 2
      ? { x: cx + (i === 0 ? -rad * 1.3 : rad * 1.3), y: cy }
      : { x: cx + rad * Math.cos(a) * 1.35, y: cy + rad * Math.sin(a) };
    out.routers.set(c.name, { name: c.name, r: rr, ...pos });
  });

  if (broker) {
    const bx = sw + 50;
    const by = routers.length ? 300 : 150;
    const bw = right - bx;
    const bh = VIEW_H - by - 6;
    const exchange = { x: bx + 62, y: by + bh / 2 + 12 };
    const qx = bx + 120;
    const qw = bw - 120 - 10;
    const shown = queueNames.slice(0, MAX_QUEUES);
    const qh = Math.min(34, (bh - 46) / Math.max(1, shown.length) - 6);
    const queues: QueueSlot[] = shown.map((name, i) => {
      const y = by + 40 + i * (qh + 6);
      return { name, x: qx, y, w: qw, h: qh, in: { x: qx, y: y + qh / 2 }, out: { x: qx + qw, y: y + qh / 2 } };
    });
    out.broker = { name: broker.name, x: bx, y: by, w: bw, h: bh, exchange, queues };
  }
  return out;
}

/** Where a path enters or leaves a service box: its right edge. */
export function serviceAnchor(b: ServiceBox): Point {
  return { x: b.x + b.w, y: b.y + b.h / 2 };
}

/**
 * The line from a service to its router, bent just enough to pass clear of
 * the other routers, so nobody reads it as ending at the wrong one. Sampled
 * as points: the SVG draws them, messages travel along them.
 */
export function attachCurve(a: Point, b: Point, routers: Iterable<RouterDot>, target: string): Point[] {
  const others = [...routers].filter((r) => r.name !== target);
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len;
  const ny = dx / len;
  let best: Point[] = [a, b];
  let bestScore = -Infinity;
  for (const k of [0, 45, -45, 90, -90, 140, -140]) {
    const c = { x: (a.x + b.x) / 2 + nx * k, y: (a.y + b.y) / 2 + ny * k };
    const pts: Point[] = [];
    for (let i = 0; i <= 12; i++) {
      const t = i / 12;
      const u = 1 - t;
      pts.push({ x: u * u * a.x + 2 * u * t * c.x + t * t * b.x, y: u * u * a.y + 2 * u * t * c.y + t * t * b.y });
    }
    let clearance = Infinity;
    for (const r of others) for (const p of pts) clearance = Math.min(clearance, Math.hypot(p.x - r.x, p.y - r.y) - r.r);
    // Anything 24 units clear is clear enough; then the straighter the better.
    const score = Math.min(clearance, 24) - Math.abs(k) * 0.02;
    if (score > bestScore) { bestScore = score; best = pts; }
  }
  return best;
}
