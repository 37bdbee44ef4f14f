// The flow view: the lab's topology drawn with D3 (SVG), live messages as
// particles on a canvas above it, counters and charts around it. It reads a
// LabStream only, so it shows a live lab and a recording the same way.
//
// One owner (FlowViewController) holds the state: the model the stream
// feeds, the colours, the size. Its parts ask it for that state and each
// draws one concern: the header, the topology layer, the side column, the
// charts row and the frame loop. dispose() is one call that takes them all.
import type { LabEvent } from '../../common/wire.js';
import type { LabStream, StreamState } from '../api/client.js';
import { h, themeColors, type ThemeColors } from '../common/index.js';
import { Disposable, interval, observeSize } from '../common/disposable.js';
import { FlowModel, type FlowKind, type FlowMessage } from './model.js';
import { MAX_QUEUES } from './layout.js';
import { ChartsRow } from './charts-row.js';
import { FlowHeader } from './header.js';
import { FrameLoop } from './frame-loop.js';
import { kindColors, type FlowScene } from './scene.js';
import { SidePanel } from './side.js';
import { TopologyLayer } from './topology.js';
import type { FlowView, FlowViewOptions, FlowViewStats } from './types.js';
import './flow.css';

export type { FlowView, FlowViewOptions, FlowViewStats } from './types.js';

/** Below this width the view is compact: a short header, a narrow side column. */
const COMPACT_BELOW = 1000;
/** Text four times a second, charts once a second; particles every frame (the frame loop). */
const TEXT_MS = 250;
const CHARTS_MS = 1000;

class FlowViewController extends Disposable implements FlowView, FlowScene {
  readonly element: HTMLElement;
  readonly colors: ThemeColors;
  readonly kindColor: Record<FlowKind, string>;
  model = new FlowModel();
  compact = false;
  private readonly header: FlowHeader;
  private readonly side: SidePanel;
  private readonly topology: TopologyLayer;
  private readonly frames: FrameLoop;
  private readonly charts: ChartsRow | null;
  private readonly body: HTMLElement;
  private readonly empty = h('div', { class: 'hm-flow-empty' }, 'Waiting for the lab… (no components yet)');

  constructor(el: HTMLElement, readonly stream: LabStream, opts: FlowViewOptions) {
    super();
    this.colors = themeColors(el);
    this.kindColor = kindColors(this.colors);
    this.header = new FlowHeader(this, opts.title ?? 'Message flow');
    this.side = new SidePanel(this);
    this.register(() => this.element.remove()); // registered first: undone last
    this.topology = this.register(new TopologyLayer(this, this.side.element));
    this.frames = this.register(new FrameLoop());
    const stage = h('div', { class: 'hm-flow-stage' }, this.topology.element, this.frames.canvas, this.empty);
    this.body = h('div', { class: 'hm-flow-body' }, stage, this.side.element);
    this.element = h('div', { class: 'hm-flow hm-root', 'data-testid': 'flow-view' }, this.header.element, this.body);
    el.append(this.element);
    // The charts take their first size from their boxes: made once the view is laid out.
    this.charts = opts.charts !== false ? this.register(new ChartsRow(this, this.element)) : null;

    this.register(observeSize(() => { this.fitSize(); this.frames.fit(); }, stage, this.element));
    this.fitSize();
    this.frames.start();
    this.register(interval(this.frames.timed(() => this.redraw()), TEXT_MS));
    const charts = this.charts;
    if (charts) this.register(interval(this.frames.timed(() => charts.tick()), CHARTS_MS));
    this.frames.fit();
    this.redraw();

    // Subscribed last: a stream that already has events replays them at once,
    // inside subscribe(), so everything the handlers touch must exist by now.
    this.register(stream.subscribe(this.frames.timed((ev: LabEvent) => this.take(ev))));
    this.register(stream.onState((s, detail) => this.showConnection(s, detail)));
  }

  private take(ev: LabEvent): void {
    this.frames.countEvent();
    // A looping replay starts over: start the picture over too.
    if (ev.type === 'hello' && this.model.lastT && ev.t < this.model.lastT - 1000) this.startOver();
    for (const m of this.model.apply(ev)) this.launch(m);
    if (ev.type === 'component' || ev.type === 'failover' || ev.type === 'hello' || ev.type === 'status') {
      this.redraw(); // a dead router must look dead at once, not at the next tick
    }
    if (ev.type === 'broker') this.charts?.pushQueues(ev.t, this.model.visibleQueues(MAX_QUEUES));
  }

  private startOver(): void {
    this.model = new FlowModel();
    this.frames.clear();
    this.topology.reset();
    this.charts?.reset();
  }

  private launch(m: FlowMessage): void {
    const path = this.topology.pathOf(m);
    if (!path) return;
    const then = path.then ? { pts: path.then.pts, color: this.kindColor[path.then.kind] } : null;
    this.frames.emit(path.pts, this.kindColor[m.kind], m.weight, then);
  }

  private redraw(): void {
    if (this.isDisposed) return;
    if (this.topology.relayout()) this.frames.clear();
    const { model, empty } = this;
    empty.hidden = model.components.length > 0 || this.stream.state === 'closed';
    if (!empty.hidden && model.status) {
      empty.textContent = 'No lab is running: bring one up from the Backends panel, or with "hmlab up --topology hybrid-mesh".';
    }
    this.header.update();
    this.topology.update();
    const latencies = model.sortedLatencies();
    this.side.update(latencies);
    this.charts?.showLatency(latencies);
  }

  private fitSize(): void {
    const compact = this.element.getBoundingClientRect().width < COMPACT_BELOW;
    this.element.dataset.size = compact ? 'compact' : 'wide';
    if (compact === this.compact) return;
    this.compact = compact;
    this.header.update();
    this.side.placeLegend(this.body);
  }

  private showConnection(s: StreamState, detail: string | null): void {
    this.header.showConnection(this.stream, s, detail);
    if (s === 'closed' && detail) { this.empty.textContent = detail; this.empty.hidden = false; }
  }

  stats(): FlowViewStats {
    return this.frames.stats();
  }

  resetStats(): void {
    this.frames.resetStats();
  }
}

export function mountFlowView(el: HTMLElement, stream: LabStream, opts: FlowViewOptions = {}): FlowView {
  return new FlowViewController(el, stream, opts);
}
