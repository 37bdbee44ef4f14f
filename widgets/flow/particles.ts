// Travelling messages, drawn on one canvas above the SVG diagram: a pooled,
// fixed-size particle system, so 1,000 messages per second cost the same per
// frame as 100. Beyond the budget, messages are aggregated (a particle stands
// for several, drawn larger) instead of piling up.
import type { Point } from './layout.js';

export interface Particle {
  pts: Float32Array; // x0,y0,x1,y1,...
  cum: Float32Array; // cumulative length at each point
  len: number;
  start: number; // performance.now() when it leaves
  dur: number; // ms for the whole path
  color: string;
  weight: number;
  then: ((weight: number) => void) | null; // follow-up when it arrives (a reply)
}

export interface ParticleStats { active: number; spawned: number; aggregated: number; pending: number }

interface Pending { pts: Point[]; color: string; weight: number; then: ((weight: number) => void) | null }

export class ParticleLayer {
  private pool: Particle[] = [];
  private active: Particle[] = [];
  /** Messages waiting to leave, one entry per path and colour: later ones add their weight. */
  private pending = new Map<string, Pending>();
  private lastSpawn = new Map<string, number>();
  stats: ParticleStats = { active: 0, spawned: 0, aggregated: 0, pending: 0 };

  constructor(
    readonly maxActive = 600,
    /** At most one particle per path this often: a busy path reads as a steady stream of larger dots. */
    readonly minGapMs = 100,
    /** Travel time per diagram unit, so a longer path takes visibly longer. */
    readonly msPerUnit = 1.5,
  ) {}

  /** Queue a message along pts; it leaves on a coming frame. */
  emit(pts: Point[], color: string, weight: number, then: ((weight: number) => void) | null = null): void {
    if (pts.length < 2) return;
    let key = color;
    for (const p of pts) key += `;${p.x | 0},${p.y | 0}`;
    const prev = this.pending.get(key);
    if (prev) {
      prev.weight += weight;
      prev.then ??= then;
      this.stats.aggregated++;
      return;
    }
    this.pending.set(key, { pts, color, weight, then });
  }

  /** Advance and draw. ctx is already scaled to diagram units. */
  frame(ctx: CanvasRenderingContext2D, now: number): void {
    this.spawn(now);
    const act = this.active;
    let w = 0;
    const done: [(weight: number) => void, number][] = [];
    for (let i = 0; i < act.length; i++) {
      const p = act[i];
      const f = (now - p.start) / p.dur;
      if (f >= 1) {
        if (p.then) done.push([p.then, p.weight]);
        this.pool.push(p);
        continue;
      }
      act[w++] = p;
      if (f < 0) continue;
      const at = this.position(p, f);
      // Bigger for aggregated particles, but never big enough to hide a label.
      const r = p.weight > 1 ? Math.min(9, 5 + Math.log2(p.weight) * 1.2) : 5;
      ctx.fillStyle = p.color;
      ctx.globalAlpha = 0.22;
      ctx.beginPath();
      ctx.arc(at.x, at.y, r + 4, 0, Math.PI * 2);
      ctx.fill();
      ctx.globalAlpha = 0.88;
      ctx.beginPath();
      ctx.arc(at.x, at.y, r, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    act.length = w;
    this.stats.active = w;
    this.stats.pending = this.pending.size;
    for (const [fn, weight] of done) fn(weight);
  }

  clear(): void {
    this.pending.clear();
    this.pool.push(...this.active);
    this.active.length = 0;
  }

  private spawn(now: number): void {
    for (const [key, e] of this.pending) {
      if (this.active.length >= this.maxActive) break;
      if (now - (this.lastSpawn.get(key) ?? -1e9) < this.minGapMs) continue;
      this.pending.delete(key);
      this.lastSpawn.set(key, now);
      const p = this.pool.pop() ?? ({} as Particle);
      const n = e.pts.length;
      p.pts = new Float32Array(n * 2);
      p.cum = new Float32Array(n);
      let len = 0;
      for (let i = 0; i < n; i++) {
        p.pts[i * 2] = e.pts[i].x;
        p.pts[i * 2 + 1] = e.pts[i].y;
        if (i > 0) len += Math.hypot(e.pts[i].x - e.pts[i - 1].x, e.pts[i].y - e.pts[i - 1].y);
        p.cum[i] = len;
      }
      p.len = len;
      p.start = now;
      // Speed by distance (paths are drawn as many points), within bounds an eye can follow.
      p.dur = Math.min(2400, Math.max(600, len * this.msPerUnit));
      p.color = e.color;
      p.weight = e.weight;
      p.then = e.then;
      this.active.push(p);
      this.stats.spawned++;
    }
    if (this.lastSpawn.size > 2000) this.lastSpawn.clear();
  }

  private position(p: Particle, f: number): Point {
    // Ease in and out over the whole path: a message visibly leaves and arrives.
    const e = f < 0.5 ? 2 * f * f : 1 - (-2 * f + 2) ** 2 / 2;
    const d = e * p.len;
    const n = p.cum.length;
    let i = 1;
    while (i < n - 1 && p.cum[i] < d) i++;
    const seg = p.cum[i] - p.cum[i - 1] || 1;
    const k = (d - p.cum[i - 1]) / seg;
    return {
      x: p.pts[(i - 1) * 2] + (p.pts[i * 2] - p.pts[(i - 1) * 2]) * k,
      y: p.pts[(i - 1) * 2 + 1] + (p.pts[i * 2 + 1] - p.pts[(i - 1) * 2 + 1]) * k,
    };
  }
}
