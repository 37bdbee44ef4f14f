// The flow view's time series and distribution, drawn with uPlot: queue depth
// over time, messages per second by kind, the RPC latency distribution.
// Charts are fed at most once a second, never per message.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ThemeColors } from '../common/index.js';
import { Disposable, observeSize } from '../common/disposable.js';

const WINDOW_S = 90;

function axes(c: ThemeColors, yLabel?: string): uPlot.Axis[] {
  const base = { stroke: c.muted, grid: { stroke: c.border, width: 1 }, ticks: { stroke: c.border, width: 1 }, font: '14px sans-serif' };
  return [
    { ...base, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => new Date(t * 1000).toISOString().slice(14, 19)) },
    { ...base, size: 52, space: 20, label: yLabel, labelFont: '14px sans-serif', labelSize: 18 },
  ];
}

/** One line of a time series chart. */
const line = (label: string, stroke: string): uPlot.Series => ({ label, stroke, width: 2.5, points: { show: false } });

/** A time series chart's options: lines over the last minutes, the y axis from 0 with headroom. */
function timeSeries(size: { width: number; height: number }, lines: uPlot.Series[], colors: ThemeColors, yLabel: string): uPlot.Options {
  return {
    ...size, series: [{}, ...lines], axes: axes(colors, yLabel), legend: { show: true, live: false }, cursor: { show: false },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } },
  };
}

/** A uPlot that follows its box's size. */
abstract class Chart extends Disposable {
  protected plot: uPlot | null = null;
  constructor(protected readonly box: HTMLElement, protected readonly colors: ThemeColors) {
    super();
    this.register(() => { this.plot?.destroy(); this.plot = null; });
    this.register(observeSize(() => this.resize(), box));
  }
  protected size() {
    // Leave room for the legend row under the plot.
    return { width: Math.max(160, this.box.clientWidth), height: Math.max(80, this.box.clientHeight - 30) };
  }
  private resize(): void {
    this.plot?.setSize(this.size());
  }
}

/** Depth of each shown queue over time: notifications wait here for their listener. */
export class QueueDepthChart extends Chart {
  private names: string[] = [];
  private xs: number[] = [];
  private ys: number[][] = [];
  private palette: string[];
  constructor(box: HTMLElement, colors: ThemeColors) {
    super(box, colors);
    this.palette = [colors.notify, colors.rpc, colors.fanout, colors.reply];
  }
  push(tMs: number, queues: { name: string; messages: number }[]): void {
    const names = queues.map((q) => q.name);
    if (names.join('\n') !== this.names.join('\n')) this.rebuild(names);
    const t = tMs / 1000;
    if (this.xs.length && t <= this.xs[this.xs.length - 1]) return;
    this.xs.push(t);
    queues.forEach((q, i) => this.ys[i].push(q.messages));
    while (this.xs.length && this.xs[0] < t - WINDOW_S) { this.xs.shift(); for (const y of this.ys) y.shift(); }
    this.plot?.setData([this.xs, ...this.ys] as uPlot.AlignedData);
  }
  reset(): void { this.rebuild(this.names); }
  private rebuild(names: string[]): void {
    this.plot?.destroy();
    this.names = names;
    this.xs = [];
    this.ys = names.map(() => []);
    const series = names.map((n, i) => line(n, this.palette[i % this.palette.length]));
    this.plot = new uPlot(timeSeries(this.size(), series, this.colors, 'messages'), [this.xs, ...this.ys] as uPlot.AlignedData, this.box);
  }
}

export const RATE_SERIES: { key: string; label: string; color: keyof ThemeColors }[] = [
  { key: 'rpc.call', label: 'RPC call', color: 'rpc' },
  { key: 'rpc.cast', label: 'cast', color: 'cast' },
  { key: 'rpc.fanout', label: 'fanout', color: 'fanout' },
  { key: 'notify.sent', label: 'notify sent', color: 'notify' },
  { key: 'notify.received', label: 'notify received', color: 'reply' },
];

/** Messages per second by kind. */
export class RatesChart extends Chart {
  private xs: number[] = [];
  private ys: number[][] = RATE_SERIES.map(() => []);
  constructor(box: HTMLElement, colors: ThemeColors) {
    super(box, colors);
    const series = RATE_SERIES.map((s) => line(s.label, colors[s.color]));
    this.plot = new uPlot(timeSeries(this.size(), series, colors, 'per second'), [this.xs, ...this.ys] as uPlot.AlignedData, box);
  }
  push(tMs: number, perSecond: Record<string, number>): void {
    const t = tMs / 1000;
    if (this.xs.length && t <= this.xs[this.xs.length - 1]) return;
    this.xs.push(t);
    RATE_SERIES.forEach((s, i) => this.ys[i].push(Math.round((perSecond[s.key] ?? 0) * 10) / 10));
    while (this.xs.length && this.xs[0] < t - WINDOW_S) { this.xs.shift(); for (const y of this.ys) y.shift(); }
    this.plot?.setData([this.xs, ...this.ys] as uPlot.AlignedData);
  }
  reset(): void {
    this.xs.length = 0;
    for (const y of this.ys) y.length = 0;
    this.plot?.setData([this.xs, ...this.ys] as uPlot.AlignedData);
  }
}

/** Upper bounds (ms) of the latency histogram's bins; the last one is open. */
export const LATENCY_BINS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100, 250, 1000, Infinity];
const binLabel = (i: number) => (i === LATENCY_BINS.length - 1 ? `>${LATENCY_BINS[i - 1]}` : `≤${LATENCY_BINS[i]}`);

/** Distribution of recent RPC call latencies, as bars. */
export class LatencyChart extends Chart {
  constructor(box: HTMLElement, colors: ThemeColors) {
    super(box, colors);
    const xs = LATENCY_BINS.map((_, i) => i);
    const base = { stroke: colors.muted, grid: { stroke: colors.border, width: 1 }, ticks: { stroke: colors.border, width: 1 }, font: '13px sans-serif' };
    this.plot = new uPlot({
      ...this.size(),
      series: [{}, {
        label: 'calls (ms bins)', stroke: colors.rpc, fill: colors.rpc + '99', width: 1, paths: uPlot.paths.bars!({ size: [0.8, 60] }), points: { show: false },
      }],
      axes: [
        { ...base, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) && t >= 0 && t < LATENCY_BINS.length ? binLabel(t) : '')), space: 34 },
        { ...base, size: 52, space: 20, label: 'calls', labelFont: '14px sans-serif', labelSize: 18 },
      ],
      scales: { x: { time: false, range: [-0.6, LATENCY_BINS.length - 0.4] }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } },
      legend: { show: true, live: false },
      cursor: { show: false },
    }, [xs, xs.map(() => 0)], box);
  }
  /** sorted: recent latencies in ms, ascending. */
  update(sorted: ArrayLike<number>): void {
    const counts = LATENCY_BINS.map(() => 0);
    let b = 0;
    for (let i = 0; i < sorted.length; i++) {
      while (sorted[i] > LATENCY_BINS[b]) b++;
      counts[b]++;
    }
    this.plot?.setData([LATENCY_BINS.map((_, i) => i), counts]);
  }
}
