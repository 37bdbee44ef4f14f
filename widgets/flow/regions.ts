// Regions in the flow view (topology multi-region): each region drawn as a
// band of its own, region 1 above, region 2 below, with the WAN link between
// them showing its delay and its state (up / cut). The WAN is drawn as a wave
// whose length grows with the delay, so a message crossing it travels a
// longer path and visibly takes longer. Beside the diagram: the WAN's
// settings, the p50 latency of calls per destination region, and after a
// heal, the time to the first call across that succeeded. Region 2's broker
// is drawn in its band with its own queues.
// Kept apart from the topology layer (topology.ts), which calls it at four points.
import type { Selection } from 'd3';
import type { ComponentStatus, LabEvent, LabStatus } from '../../common/wire.js';
import { answeredBy } from '../../common/rpc.js';
import { isUp } from '../../common/rules.js';
import type { LabStream } from '../api/client.js';
import { fmtMs, h, percentile } from '../common/index.js';
import { MAX_QUEUES, VIEW_H, VIEW_W, serviceAnchor, type Layout, type Point, type QueueSlot } from './layout.js';
import type { FlowModel, Hop } from './model.js';
import { drawQueues } from './queues.js';
import { Disposable } from '../common/disposable.js';
import './regions.css';

type G = Selection<SVGGElement, unknown, null, undefined>;

const SPLIT = 256; // y of the WAN between the two bands
const BAND = { 'region-1': { y: 2, h: SPLIT - 8 }, 'region-2': { y: SPLIT + 6, h: VIEW_H - SPLIT - 8 } } as const;
type Region = keyof typeof BAND;

/** Keep the newest 300. */
function keepLast<T>(ring: T[], x: T): void {
  ring.push(x);
  if (ring.length > 300) ring.splice(0, ring.length - 300);
}

const regionOf = (c: ComponentStatus | undefined): Region | null => (c?.region === 'region-1' || c?.region === 'region-2' ? c.region : null);

/** The multi-region layout, or null for the other topologies (they keep computeLayout's). */
export function regionLayout(components: ComponentStatus[], queueNames: string[]): Layout | null {
  if (!components.some((c) => c.region)) return null;
  const out: Layout = { services: new Map(), routers: new Map(), broker: null };
  for (const region of ['region-1', 'region-2'] as Region[]) {
    const band = BAND[region];
    const svcs = components.filter((c) => c.kind === 'service' && c.region === region);
    const gap = svcs.length ? (band.h - 8) / svcs.length : 0;
    const sh = Math.min(66, gap - 8);
    svcs.forEach((c, i) => out.services.set(c.name, { name: c.name, x: 6, y: band.y + 4 + gap * i + (gap - sh) / 2, w: 262, h: sh }));
  }
  // Region 1's routers side by side in its band, region 2's router below them.
  const spots: Record<string, Point> = { 'router-a': { x: 380, y: 92 }, 'router-b': { x: 510, y: 168 }, 'router-c': { x: 445, y: 372 } };
  const routers = components.filter((c) => c.kind === 'router');
  routers.forEach((c, i) => {
    const at = spots[c.name] ?? { x: 380 + 120 * i, y: regionOf(c) === 'region-2' ? 372 : 120 };
    out.routers.set(c.name, { name: c.name, r: 40, ...at });
  });
  // Region 1's broker on the right of its band; broker-2 is drawn by the overlay.
  const broker = components.find((c) => c.kind === 'broker' && c.region === 'region-1');
  if (broker) {
    const bx = 590;
    const by = BAND['region-1'].y + 8;
    const bw = VIEW_W - 6 - bx;
    const bh = BAND['region-1'].h - 16;
    const shown = queueNames.slice(0, MAX_QUEUES);
    const qx = bx + 14;
    const qh = Math.min(30, (bh - 120) / Math.max(1, shown.length) - 6);
    const queues: QueueSlot[] = shown.map((name, i) => {
      const y = by + 118 + i * (qh + 6);
      return { name, x: qx, y, w: bw - 28, h: qh, in: { x: qx, y: y + qh / 2 }, out: { x: qx + bw - 28, y: y + qh / 2 } };
    });
    out.broker = { name: broker.name, x: bx, y: by, w: bw, h: bh, exchange: { x: bx + bw / 2, y: by + 62 }, queues };
  }
  return out;
}

/** Region 2's broker box, in its band right of router-c, and a slot per queue shown. */
const B2 = { x: 590, y: BAND['region-2'].y + 8, w: VIEW_W - 6 - 590, h: BAND['region-2'].h - 16 } as const;
function broker2Slots(names: string[]): QueueSlot[] {
  const qx = B2.x + 14;
  const qw = B2.w - 28;
  const qh = 30;
  return names.slice(0, MAX_QUEUES).map((name, i) => {
    const y = B2.y + 72 + i * (qh + 8);
    return { name, x: qx, y, w: qw, h: qh, in: { x: qx, y: y + qh / 2 }, out: { x: qx + qw, y: y + qh / 2 } };
  });
}

/** The WAN between two routers: a wave with more turns the longer the delay. */
function wanWave(a: Point, b: Point, delayMs: number): Point[] {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len;
  const ny = dx / len;
  const waves = Math.round(3 + Math.min(40, delayMs / 8));
  const n = waves * 8;
  const pts: Point[] = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    // Straight for the first and last 15%: the wave lives in the WAN, between the regions.
    const inWan = t > 0.15 && t < 0.85;
    const amp = inWan ? 9 * Math.sin(Math.PI * ((t - 0.15) / 0.7)) : 0;
    const off = amp * Math.sin(2 * Math.PI * waves * t);
    pts.push({ x: a.x + dx * t + nx * off, y: a.y + dy * t + ny * off });
  }
  return pts;
}

export class RegionOverlay extends Disposable {
  private readonly panel: HTMLElement;
  private readonly latencies: Record<Region, { t: number; ms: number }[]> = { 'region-1': [], 'region-2': [] };
  private readonly topicAnswers: { t: number; server: string }[] = []; // calls to the topic: who answered
  private components: ComponentStatus[] = [];
  private wanState: 'up' | 'cut' | null = null;
  private healedAt = 0;
  private healToFirstMs: number | null = null;
  private healBy: string | null = null; // the server that answered the first call across after the heal
  private kept = false; // the server keeps the last partition (older recordings do not)

  constructor(
    private readonly g: G,
    side: HTMLElement,
    private readonly stream: LabStream,
    private readonly svg: Selection<SVGSVGElement, unknown, null, undefined>,
    private readonly model: () => FlowModel,
  ) {
    super();
    this.panel = h('div', { class: 'hm-flow-regions', 'data-testid': 'flow-regions', hidden: '' });
    side.prepend(this.panel);
    this.register(() => this.panel.remove());
    this.register(stream.subscribe((ev) => this.take(ev)));
  }

  private take(ev: LabEvent): void {
    if (ev.type === 'hello' || ev.type === 'status') this.setStatus(ev.status);
    if (ev.type !== 'message') return;
    // By the server that answered: a call to the topic counts in the region the router picked.
    const server = answeredBy(ev.event);
    const region = regionOf(this.components.find((c) => c.name === server));
    if (!region || !server) return;
    keepLast(this.latencies[region], { t: ev.t, ms: ev.event.latencyMs ?? 0 });
    if (!ev.event.target?.server) keepLast(this.topicAnswers, { t: ev.t, server });
    if (region === 'region-2' && this.healedAt && this.healToFirstMs === null && ev.t >= this.healedAt) {
      this.healToFirstMs = ev.t - this.healedAt;
      this.healBy = server;
    }
  }

  private setStatus(st: LabStatus): void {
    this.components = st.components;
    const w = st.wan;
    if (!w) { this.wanState = null; return; }
    const lp = w.lastPartition;
    this.kept = lp !== undefined;
    if (lp !== undefined) {
      // The server's account: a view opened after the heal shows it too.
      const healedAt = lp?.healedAt ?? 0;
      if (healedAt !== this.healedAt) { this.healedAt = healedAt; this.healToFirstMs = null; this.healBy = null; }
      if (lp?.firstSuccess && healedAt) { this.healToFirstMs = lp.firstSuccess.t - healedAt; this.healBy = lp.firstSuccess.server; }
    } else if (this.wanState === 'cut' && w.state === 'up') {
      this.healedAt = w.changedAt;
      this.healToFirstMs = null;
      this.healBy = null;
    }
    this.wanState = w.state;
  }

  /** Points for a message between two nodes, when they are in different regions: along the WAN. */
  segment(from: string, to: string, layout: Layout, status: LabStatus | null): Point[] | null {
    const a = layout.routers.get(from);
    const b = layout.routers.get(to);
    const ca = this.components.find((c) => c.name === from);
    const cb = this.components.find((c) => c.name === to);
    if (!a || !b || !status?.wan || !regionOf(ca) || regionOf(ca) === regionOf(cb)) return null;
    return wanWave(a, b, status.wan.delayMs);
  }

  /** Region 2's notifications go to broker-2, not to the broker the view draws: into broker-2's queue. */
  notifyPath(hops: Hop[], layout: Layout): Point[] | null {
    const first = hops[0];
    const svc = first && 'node' in first ? first.node : null;
    const c = this.components.find((x) => x.name === svc);
    if (!svc || regionOf(c) !== 'region-2' || !hops.some((x) => 'exchange' in x || 'queue' in x)) return null;
    const box = layout.services.get(svc);
    if (!box) return null;
    const a = serviceAnchor(box);
    const queue = hops.find((x): x is { queue: string } => 'queue' in x)?.queue;
    const b2 = this.components.find((x) => x.kind === 'broker' && x.region === 'region-2');
    const slot = queue && b2 ? broker2Slots(this.model().visibleQueues(MAX_QUEUES, b2.name).map((q) => q.name)).find((q) => q.name === queue) : undefined;
    if (!slot) return [a, { x: (a.x + B2.x) / 2, y: a.y }, { x: B2.x, y: B2.y + 40 }];
    // Into the queue's pipe, where it waits like region 1's notifications do.
    return [a, { x: (a.x + B2.x) / 2, y: a.y }, { x: (a.x + B2.x) / 2, y: slot.in.y }, slot.in, { x: slot.in.x + 24, y: slot.in.y }];
  }

  /** Whether a service's notifications go to the broker the view draws (region 1's). */
  notifiesDrawnBroker(c: ComponentStatus): boolean {
    return !c.region || c.region === 'region-1';
  }

  draw(layout: Layout, status: LabStatus | null): void {
    const w = status?.wan;
    const on = !!w && layout.routers.size > 0 && this.components.some((c) => c.region);
    this.panel.hidden = !on;
    this.g.attr('display', on ? null : 'none');
    if (!on || !w) return;
    const g = this.g;
    const bands = g.selectAll<SVGGElement, Region>('g.region').data(['region-1', 'region-2'] as Region[]).join((e) => {
      const x = e.append('g').attr('class', 'region');
      x.append('rect').attr('class', 'band').attr('rx', 12);
      x.append('text').attr('class', 'region-name');
      return x;
    });
    bands.attr('data-region', (d) => d);
    bands.select('rect.band').attr('x', 2).attr('y', (d) => BAND[d].y).attr('width', VIEW_W - 4).attr('height', (d) => BAND[d].h);
    bands.select('text.region-name').attr('x', 282).attr('y', (d) => BAND[d].y + 24)
      .text((d) => `${d.replace('-', ' ')} · ${w.regions.find((r) => r.name === d)?.namespace ?? ''}`);

    // The WAN: one wave per inter-router connection across it, and a label on the divide.
    const r1 = [...layout.routers.values()].filter((r) => regionOf(this.components.find((c) => c.name === r.name)) === 'region-1');
    const r2 = [...layout.routers.values()].filter((r) => regionOf(this.components.find((c) => c.name === r.name)) === 'region-2');
    const links = r2.flatMap((b) => r1.map((a) => ({ key: `${b.name}|${a.name}`, pts: wanWave(b, a, w.delayMs) })));
    g.selectAll<SVGPathElement, (typeof links)[number]>('path.wan-link').data(links, (d) => d.key).join('path')
      .attr('class', 'wan-link').classed('cut', w.state === 'cut')
      .attr('d', (d) => 'M' + d.pts.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('L'));
    const cutWord = w.cutMode === 'silent' ? 'CUT (silent)' : 'CUT';
    // Cut, the delay is beside the point (and the longer word would run out of the diagram).
    const label = w.state === 'cut' ? `WAN ${cutWord}` : `WAN up · ${w.delayMs} ms each way${w.jitterMs ? ` ±${w.jitterMs}` : ''}`;
    g.selectAll<SVGTextElement, string>('text.wan-label').data([label]).join('text')
      .attr('class', 'wan-label').classed('cut', w.state === 'cut').attr('data-state', w.state)
      .attr('x', 622).attr('y', SPLIT + 5).text((d) => d);
    // The straight mesh lines across the divide give way to the wave.
    this.svg.selectAll<SVGLineElement, [string, string]>('g.mesh line').style('display', (d) => {
      const [a, b] = [regionOf(this.components.find((c) => c.name === d[0])), regionOf(this.components.find((c) => c.name === d[1]))];
      return a && b && a !== b ? 'none' : null;
    });

    // Region 1's broker box is narrower here: its title names the broker only.
    const b1 = this.components.find((c) => c.kind === 'broker' && c.region === 'region-1');
    if (b1?.state === 'running') this.svg.select('g.broker text.title').text(`${b1.name} · ${b1.product ?? 'RabbitMQ'}`);

    // Region 2's own broker, with its queues.
    const b2 = this.components.find((c) => c.kind === 'broker' && c.region === 'region-2');
    const queues2 = b2 ? this.model().visibleQueues(MAX_QUEUES, b2.name) : [];
    g.selectAll<SVGGElement, ComponentStatus>('g.broker-2').data(b2 ? [b2] : [], (d) => d.name).join((e) => {
      const x = e.append('g').attr('class', 'broker-2');
      x.append('rect').attr('class', 'body').attr('rx', 10);
      x.append('text').attr('class', 'title');
      x.append('text').attr('class', 'sub');
      x.append('g').attr('class', 'queues');
      return x;
    }).attr('data-state', (d) => d.state).attr('data-name', (d) => d.name)
      .classed('dead', (d) => !isUp(d.state))
      .call((s) => {
        s.select('rect.body').attr('x', B2.x).attr('y', B2.y).attr('width', B2.w).attr('height', B2.h);
        s.select('text.title').attr('x', B2.x + 14).attr('y', B2.y + 28).text((d) => `${d.name} · ${d.product ?? 'RabbitMQ'}`);
        s.select('text.sub').attr('x', B2.x + 14).attr('y', B2.y + 54)
          .text((d) => {
            if (d.state !== 'running') return d.state.toUpperCase();
            return queues2.length ? "region 2's notifications" : "region 2's notifications · no queue yet";
          });
        drawQueues(s.select<SVGGElement>('g.queues'), broker2Slots(queues2.map((q) => q.name)), queues2);
      });

    // The side column: the WAN, p50 per destination region, heal to first success.
    const now = this.stream.now();
    const p50 = (r: Region): [string, string] => {
      const recent = this.latencies[r].filter((x) => now - x.t < 30_000).map((x) => x.ms).sort((a, b) => a - b);
      return recent.length
        ? [fmtMs(percentile(recent, 50)), `p50 of the last ${recent.length} calls answered in ${r} (30 s)`]
        : ['–', `no call answered in ${r} in the last 30 s`];
    };
    const [p1, t1] = p50('region-1');
    const [p2, t2] = p50('region-2');
    // Calls to the topic, by the server that answered (closest / balanced picked it).
    const byServer = new Map<string, number>();
    for (const x of this.topicAnswers) if (now - x.t < 30_000) byServer.set(x.server, (byServer.get(x.server) ?? 0) + 1);
    const answered = [...byServer].sort((a, b) => a[0].localeCompare(b[0])).map(([s, n]) => `${s} ${n}`).join(' · ') || '–';
    this.panel.replaceChildren(
      h('div', { class: `row wan ${w.state}`, 'data-testid': 'wan-state', 'data-state': w.state },
        h('b', {}, 'WAN'), h('span', {}, w.state === 'cut' ? cutWord : `${w.delayMs} ms each way`)),
      h('div', { class: 'row', 'data-testid': 'p50-region-1', title: t1 }, h('b', {}, 'p50 region 1'), h('span', {}, p1)),
      h('div', {
        class: 'row', 'data-testid': 'p50-region-2',
        title: w.state === 'cut' ? 'no credit across a cut WAN: calls to region 2 time out' : t2,
      },
        h('b', {}, 'p50 region 2'), h('span', {}, w.state === 'cut' ? 'time out' : p2)),
      h('div', {
        class: 'row', 'data-testid': 'topic-answered-by',
        title: 'calls to the topic in the last 30 s, by the server whose reply it was',
      },
        h('b', {}, 'topic answered by'), h('span', {}, answered)),
      ...(this.healedAt && w.state === 'up' && (this.kept || (this.healToFirstMs !== null && now - this.healedAt < 120_000))
        ? [h('div', {
          class: 'row heal', 'data-testid': 'heal-to-first', 'data-ms': this.healToFirstMs ?? '',
          title: `WAN healed at ${new Date(this.healedAt).toLocaleTimeString()}`
            + (this.healBy ? `; first call answered across by ${this.healBy}` : ''),
        }, h('b', {}, 'heal → 1st call'),
        h('span', {}, this.healToFirstMs === null ? 'waiting…' : `${(this.healToFirstMs / 1000).toFixed(2)} s`))]
        : []),
    );
  }
}
