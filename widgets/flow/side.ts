// The flow view's side column: counters and rates per kind with the RPC
// latency, the legend, and notices (failovers, components down, errors).
// A column of its own, so none of it can ever cover a node.
import { fmtCount, fmtRate, h } from '../common/index.js';
import { alive, type FlowKind } from './model.js';
import { FLOW_KINDS, latencyText, shortDetail, type FlowScene } from './scene.js';

const KIND_LABEL: Record<FlowKind, string> = {
  rpc: 'RPC request', reply: 'reply', cast: 'cast', fanout: 'fanout', notify: 'notification', failed: 'failed',
};

export class SidePanel {
  readonly element: HTMLElement;
  private readonly totals = h('div', { class: 'hm-flow-totals', 'data-testid': 'flow-totals' });
  private readonly legend: HTMLElement;
  private readonly banner = h('div', { class: 'hm-flow-banner', 'data-testid': 'flow-banner' });

  constructor(private readonly scene: FlowScene) {
    this.legend = h('div', { class: 'hm-flow-legend' },
      ...FLOW_KINDS.map((k) => h('span', {}, h('i', { style: `background:${scene.kindColor[k]}` }), KIND_LABEL[k])),
      h('span', { class: 'hm-muted' }, 'slowed down to be seen'));
    this.element = h('div', { class: 'hm-flow-side', 'data-testid': 'flow-side' }, this.totals, this.legend, this.banner);
  }

  /**
   * Compact (a demo slide): the legend is one strip under the diagram, so
   * notices in the side column never push it out of view.
   */
  placeLegend(body: HTMLElement): void {
    if (this.scene.compact) body.append(this.legend); else this.element.insertBefore(this.legend, this.banner);
  }

  /** latencies: the recent RPC call latencies, sorted. */
  update(latencies: ArrayLike<number>): void {
    this.drawTotals(latencies);
    this.drawBanner();
  }

  private drawTotals(lat: ArrayLike<number>): void {
    const { model, stream, colors } = this.scene;
    const now = stream.now();
    const failed = model.total('rpc.failed');
    const row = (label: string, k: string, color: string) =>
      h('div', { class: 'row', 'data-kind': k, 'data-total': model.total(k), 'data-ok': k === 'rpc.call' ? model.total(k) - failed : null },
        h('i', { style: `background:${color}` }), h('b', {}, label),
        h('span', { class: 'num' }, fmtCount(model.total(k))), h('span', { class: 'rate' }, fmtRate(model.rate(k, now))));
    this.totals.replaceChildren(
      row('RPC calls', 'rpc.call', colors.rpc),
      row('casts', 'rpc.cast', colors.cast),
      row('fanouts', 'rpc.fanout', colors.fanout),
      row('notifications', 'notify.sent', colors.notify),
      row('delivered', 'notify.received', colors.reply),
      h('div', { class: 'row lat' }, h('b', {}, 'RPC latency'), h('span', {}, latencyText(lat) || '–')),
      ...(failed ? [h('div', { class: 'row failed' }, h('b', {}, 'failed calls'), h('span', { class: 'num' }, fmtCount(failed)))] : []),
    );
  }

  private drawBanner(): void {
    const { model, stream } = this.scene;
    const now = stream.now();
    const recent = model.failovers.filter((f) => now - f.t < 8000 && now >= f.t - 1000).slice(-2);
    const down = model.components.filter((c) => !alive(c) && c.state !== 'stopped');
    const lines: HTMLElement[] = recent.map((f) => h('div', { class: 'failover' }, `⇄ failover: ${f.service} moved ${f.from ?? '?'} → ${f.to ?? '?'}`));
    for (const c of down) {
      lines.push(h('div', { class: 'dead', title: c.detail ?? '' }, `✖ ${c.name} is down${c.detail ? `: ${shortDetail(c.detail)}` : ''}`));
    }
    if (model.lastError && now - model.lastError.t < 10000) lines.push(h('div', { class: 'dead' }, `! ${model.lastError.message}`));
    this.banner.replaceChildren(...lines);
  }
}
