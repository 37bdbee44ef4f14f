// The flow view's frame loop: messages travel as particles on a canvas over
// the diagram, drawn every animation frame; and what each frame cost, for
// the view's stats (the frame-time benchmark reads them).
import { Disposable } from '../common/disposable.js';
import { percentile } from '../common/index.js';
import { VIEW_H, VIEW_W, type Point } from './layout.js';
import { ParticleLayer } from './particles.js';
import type { FlowViewStats } from './types.js';

/** Frames kept for the stats: 20 s at 60 frames a second. */
const RING = 1200;

function pushRing(a: number[], v: number): void {
  a.push(v);
  if (a.length > RING) a.splice(0, a.length - RING);
}

export class FrameLoop extends Disposable {
  readonly canvas = document.createElement('canvas');
  private readonly particles = new ParticleLayer();
  private readonly ctx: CanvasRenderingContext2D | null;
  private scale = { s: 1, ox: 0, oy: 0, dpr: 1, w: 0, h: 0 };
  private readonly frameWork: number[] = [];
  private readonly frameGaps: number[] = [];
  private lastFrame = 0;
  /** Script time spent between frames (events, redraws): it counts toward the next frame's work. */
  private ingestMs = 0;
  private events = 0;

  constructor() {
    super();
    this.canvas.className = 'hm-flow-canvas';
    this.ctx = this.canvas.getContext('2d');
  }

  /** Start drawing, once the canvas is in its stage. */
  start(): void {
    const frame = (now: number) => {
      raf = requestAnimationFrame(frame);
      this.draw(now);
    };
    let raf = requestAnimationFrame(frame);
    this.register(() => cancelAnimationFrame(raf));
  }

  private draw(now: number): void {
    const t0 = performance.now();
    if (this.lastFrame) pushRing(this.frameGaps, now - this.lastFrame);
    this.lastFrame = now;
    const { ctx, canvas, scale } = this;
    if (ctx) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(scale.s * scale.dpr, 0, 0, scale.s * scale.dpr, scale.ox * scale.dpr, scale.oy * scale.dpr);
      this.particles.frame(ctx, now);
    }
    pushRing(this.frameWork, performance.now() - t0 + this.ingestMs);
    this.ingestMs = 0;
  }

  /** Size the canvas to its stage, in device pixels, with the diagram's scale and offset. */
  fit(): void {
    const r = (this.canvas.parentElement ?? this.canvas).getBoundingClientRect();
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const w = Math.max(1, Math.round(r.width));
    const hgt = Math.max(1, Math.round(r.height));
    if (w === this.scale.w && hgt === this.scale.h && dpr === this.scale.dpr) return;
    this.canvas.width = w * dpr;
    this.canvas.height = hgt * dpr;
    const s = Math.min(w / VIEW_W, hgt / VIEW_H);
    this.scale = { s, ox: (w - VIEW_W * s) / 2, oy: (hgt - VIEW_H * s) / 2, dpr, w, h: hgt };
  }

  /** A message along pts (diagram units), and what follows it (a reply) when it arrives. */
  emit(pts: Point[], color: string, weight: number, then: { pts: Point[]; color: string } | null): void {
    this.particles.emit(pts, color, weight, then ? (w) => this.particles.emit(then.pts, then.color, w) : null);
  }

  /** Nothing in flight any more (a new layout, a new picture). */
  clear(): void {
    this.particles.clear();
  }

  /** Work done outside a frame, timed so it counts toward the next frame's. */
  timed<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      const t0 = performance.now();
      fn(...args);
      this.ingestMs += performance.now() - t0;
    };
  }

  countEvent(): void {
    this.events++;
  }

  stats(): FlowViewStats {
    const w = [...this.frameWork].sort((a, b) => a - b);
    const g = [...this.frameGaps].sort((a, b) => a - b);
    return {
      frames: this.frameWork.length,
      frameWorkMs: { p50: percentile(w, 50), p95: percentile(w, 95), max: w[w.length - 1] ?? NaN },
      frameIntervalMs: { p50: percentile(g, 50), p95: percentile(g, 95) },
      events: this.events,
      particles: { ...this.particles.stats },
    };
  }

  resetStats(): void {
    this.frameWork.length = 0;
    this.frameGaps.length = 0;
    this.lastFrame = 0;
    this.events = 0;
  }
}
