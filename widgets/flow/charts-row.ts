// The flow view's row of charts under the diagram: broker queue depth as
// broker snapshots arrive, messages per second and RPC latency once a second.
import { h } from '../common/index.js';
import { Disposable } from '../common/disposable.js';
import type { BrokerSnapshot } from '../../common/wire.js';
import { LatencyChart, QueueDepthChart, RatesChart, RATE_SERIES } from './charts.js';
import { latencyText, type FlowScene } from './scene.js';

export class ChartsRow extends Disposable {
  private readonly latencyTitle = h('span', { class: 'hm-muted' }, '');
  private readonly queue: QueueDepthChart;
  private readonly rates: RatesChart;
  private readonly latency: LatencyChart;

  /** Appends itself to `parent`: the charts take their first size from their boxes, so those must be laid out. */
  constructor(private readonly scene: FlowScene, parent: HTMLElement) {
    super();
    const box = () => h('div', { class: 'hm-flow-chart' });
    const boxes = { queue: box(), rates: box(), latency: box() };
    const element = h('div', { class: 'hm-flow-charts' },
      h('section', { class: 'hm-card' }, h('h3', {}, 'Broker queue depth'), boxes.queue),
      h('section', { class: 'hm-card' }, h('h3', {}, 'Messages per second'), boxes.rates),
      h('section', { class: 'hm-card' }, h('h3', {}, 'RPC call latency ', this.latencyTitle), boxes.latency));
    parent.append(element);
    this.queue = this.register(new QueueDepthChart(boxes.queue, scene.colors));
    this.rates = this.register(new RatesChart(boxes.rates, scene.colors));
    this.latency = this.register(new LatencyChart(boxes.latency, scene.colors));
  }

  /** A new picture (a looping replay starting over): the time series start empty. */
  reset(): void {
    this.queue.reset();
    this.rates.reset();
  }

  pushQueues(t: number, queues: BrokerSnapshot['queues']): void {
    this.queue.push(t, queues);
  }

  /** Once a second: a point of each rate, the latency histogram afresh. */
  tick(): void {
    const { model, stream } = this.scene;
    const now = stream.now();
    const per: Record<string, number> = {};
    for (const s of RATE_SERIES) per[s.key] = model.rate(s.key, now);
    this.rates.push(now, per);
    this.latency.update(model.sortedLatencies());
  }

  /** The latency card's title, with the side column's numbers (latencies sorted). */
  showLatency(latencies: ArrayLike<number>): void {
    this.latencyTitle.textContent = latencyText(latencies);
    this.latencyTitle.title = `last ${latencies.length} successful calls`;
  }
}
