// Types of the flow view's public face, kept apart from the view itself so
// Node code (benchmarks, tests) can name them without the browser-only parts.

export interface FlowViewOptions {
  /** Show the three charts under the diagram (default true). */
  charts?: boolean;
  /** Heading shown in the bar (default "Message flow"). */
  title?: string;
}

export interface FlowViewStats {
  frames: number;
  /** Script time per frame: drawing, plus the events and redraws taken in since the previous frame, ms. */
  frameWorkMs: { p50: number; p95: number; max: number };
  /** Time between frames, ms (about 16.7 when nothing is dropped). */
  frameIntervalMs: { p50: number; p95: number };
  events: number;
  particles: { active: number; spawned: number; aggregated: number; pending: number };
}

export interface FlowView {
  readonly element: HTMLElement;
  stats(): FlowViewStats;
  /** Start measuring afresh (after a warm-up). */
  resetStats(): void;
  dispose(): void;
}
