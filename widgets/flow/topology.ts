// The flow view's topology layer: the lab drawn with D3 in SVG (routers,
// the mesh between them, services attached to their router or the broker,
// the broker with its queues, regions and the WAN), and the paths a message
// takes across that drawing, for the particles above it.
import { select, type Selection } from 'd3';
// Registers selection.transition()/interrupt(); a bare import keeps the bundler from dropping it.
import 'd3-transition';
import type { ComponentStatus, RouterSnapshot } from '../../common/wire.js';
import { Disposable } from '../common/disposable.js';
import { fmtCount, fmtRate, h } from '../common/index.js';
import { alive, edgeKey, type FlowMessage, type FlowModel, type Hop } from './model.js';
import { attachCurve, computeLayout, serviceAnchor, MAX_QUEUES, VIEW_H, VIEW_W, type Layout, type Point } from './layout.js';
import { drawQueues, fitText } from './queues.js';
import { RegionOverlay, regionLayout } from './regions.js';
import { shortDetail, STATE_WORD, type FlowScene } from './scene.js';

type Sel<E extends Element> = Selection<E, unknown, null, undefined>;
type AnySel = Selection<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class TopologyLayer extends Disposable {
  /** The SVG's box in the stage. */
  readonly element = h('div', { class: 'hm-flow-svg' });
  private readonly gBroker: Sel<SVGGElement>;
  private readonly gMesh: Sel<SVGGElement>;
  private readonly gAttach: Sel<SVGGElement>;
  private readonly gRouters: Sel<SVGGElement>;
  private readonly gServices: Sel<SVGGElement>;
  private readonly regions: RegionOverlay;
  private layout: Layout = computeLayout([], []);
  private layoutKey = '';
  private drawnVersion = -1;
  /** What the SVG shows each service attached to, to animate a change. */
  private readonly attachedTo = new Map<string, string>();
  /** Curves between services and routers, per layout. */
  private readonly curves = new Map<string, Point[]>();

  /** side: the side column, where the regions' figures go. */
  constructor(private readonly scene: FlowScene, side: HTMLElement) {
    super();
    const svg: Sel<SVGSVGElement> = select(this.element).append('svg')
      .attr('viewBox', `0 0 ${VIEW_W} ${VIEW_H}`).attr('preserveAspectRatio', 'xMidYMid meet');
    this.gBroker = svg.append('g').attr('class', 'broker-layer');
    this.gMesh = svg.append('g').attr('class', 'mesh');
    this.gAttach = svg.append('g').attr('class', 'attach');
    this.gRouters = svg.append('g').attr('class', 'routers');
    this.gServices = svg.append('g').attr('class', 'services');
    // Multi-region: the regions under everything else, the WAN between them.
    const gRegions = svg.insert<SVGGElement>('g', ':first-child').attr('class', 'regions-layer');
    this.regions = this.register(new RegionOverlay(gRegions, side, scene.stream, svg, () => this.model));
  }

  private get model(): FlowModel { return this.scene.model; }

  /** A new picture (a looping replay starting over): draw every attachment afresh, none as a failover. */
  reset(): void {
    this.attachedTo.clear();
    this.drawnVersion = -1;
  }

  /** Lay the diagram out again when the components or the shown queues changed; true when it did. */
  relayout(): boolean {
    const { model } = this;
    const queues = model.visibleQueues(MAX_QUEUES).map((q) => q.name);
    const key = model.components.map((c) => `${c.name}:${c.kind}`).join(',') + '|' + queues.join(',');
    if (key === this.layoutKey) return false;
    this.layoutKey = key;
    this.layout = regionLayout(model.components, queues) ?? computeLayout(model.components, queues);
    this.curves.clear();
    this.drawnVersion = -1;
    return true;
  }

  update(): void {
    const { model } = this;
    if (this.drawnVersion !== model.topologyVersion) {
      this.drawnVersion = model.topologyVersion;
      this.drawMesh();
      this.drawAttachments();
    }
    this.drawRouters();
    this.drawServices();
    this.drawBroker();
    this.regions.draw(this.layout, model.status);
  }

  /** Where a message travels on the drawing (null when a node on its way is not drawn), and its reply after it. */
  pathOf(m: FlowMessage): { pts: Point[]; then: { pts: Point[]; kind: FlowMessage['kind'] } | null } | null {
    const pts = this.regions.notifyPath(m.hops, this.layout) ?? this.pointsOf(m.hops);
    if (!pts) return null;
    const thenPts = m.then ? this.pointsOf(m.then.hops) : null;
    return { pts, then: thenPts && m.then ? { pts: thenPts, kind: m.then.kind } : null };
  }

  // ---- Paths: hops to diagram points ---------------------------------------------------
  private point(hop: Hop, role: 'first' | 'mid' | 'last'): Point[] | null {
    if ('node' in hop) {
      const s = this.layout.services.get(hop.node);
      if (s) return [serviceAnchor(s)];
      const r = this.layout.routers.get(hop.node);
      if (r) return [r];
      if (this.layout.broker && this.layout.broker.name === hop.node) return [this.layout.broker.exchange];
      return null;
    }
    if ('exchange' in hop) return this.layout.broker ? [this.layout.broker.exchange] : null;
    const q = this.layout.broker?.queues.find((x) => x.name === hop.queue);
    if (!q) return this.layout.broker ? [this.layout.broker.exchange] : null;
    // Into a queue: the message travels into the pipe and waits there.
    if (role === 'last') return [q.in, { x: q.x + 24, y: q.in.y }];
    return [q.in];
  }

  private curve(service: string, router: string): Point[] | null {
    const key = `${service}|${router}`;
    let c = this.curves.get(key);
    if (c) return c;
    const s = this.layout.services.get(service);
    const r = this.layout.routers.get(router);
    if (!s || !r) return null;
    c = attachCurve(serviceAnchor(s), r, this.layout.routers.values(), router);
    this.curves.set(key, c);
    return c;
  }

  private pointsOf(hops: Hop[]): Point[] | null {
    const pts: Point[] = [];
    for (let i = 0; i < hops.length; i++) {
      const p = this.point(hops[i], i === 0 ? 'first' : i === hops.length - 1 ? 'last' : 'mid');
      if (!p) return null;
      // Between a service and its router, follow the drawn curve.
      const prev = hops[i - 1];
      const cur = hops[i];
      if (prev && 'node' in prev && 'node' in cur) {
        const wan = this.regions.segment(prev.node, cur.node, this.layout, this.model.status);
        if (wan) { pts.push(...wan.slice(1)); continue; }
        const there = this.layout.services.has(prev.node) && this.layout.routers.has(cur.node) ? this.curve(prev.node, cur.node)
          : this.layout.routers.has(prev.node) && this.layout.services.has(cur.node) ? this.curve(cur.node, prev.node)?.slice().reverse() : null;
        if (there) { pts.push(...there.slice(1)); continue; }
      }
      pts.push(...p);
    }
    return pts;
  }


  private drawMesh(): void {
    const links = this.model.meshLinks().filter(([a, b]) => this.layout.routers.has(a) && this.layout.routers.has(b));
    const sel = this.gMesh.selectAll<SVGLineElement, [string, string]>('line').data(links, (d) => edgeKey(d[0], d[1]));
    sel.exit().remove();
    sel.enter().append('line').attr('class', 'mesh-link')
      .merge(sel)
      .attr('x1', (d) => this.layout.routers.get(d[0])!.x).attr('y1', (d) => this.layout.routers.get(d[0])!.y)
      .attr('x2', (d) => this.layout.routers.get(d[1])!.x).attr('y2', (d) => this.layout.routers.get(d[1])!.y);
  }

  private endpointOf(service: string): Point | null {
    const to = this.model.attachment.get(service);
    if (!to) return null;
    const r = this.layout.routers.get(to);
    if (r) return r;
    if (this.layout.broker?.name === to) return this.layout.broker.exchange;
    return null;
  }

  private drawAttachments(): void {
    // RPC: each service to the router (or broker) its connection is on now.
    const rpc = [...this.layout.services.keys()].filter((s) => this.endpointOf(s));
    const pathOf = (d: string): string => {
      const to = this.model.attachment.get(d)!;
      const pts = this.layout.routers.has(to) ? this.curve(d, to) : null;
      const a = serviceAnchor(this.layout.services.get(d)!);
      const b = this.endpointOf(d)!;
      // Always 13 points, so a failover can morph one path into the other.
      const p = pts ?? Array.from({ length: 13 }, (_, i) => ({ x: a.x + ((b.x - a.x) * i) / 12, y: a.y + ((b.y - a.y) * i) / 12 }));
      return 'M' + p.map((q) => `${q.x.toFixed(1)},${q.y.toFixed(1)}`).join('L');
    };
    const sel = this.gAttach.selectAll<SVGPathElement, string>('path.rpc-attach').data(rpc, (d) => d);
    sel.exit().remove();
    const entered = sel.enter().append('path').attr('class', 'rpc-attach').attr('d', pathOf);
    entered.each((d) => { this.attachedTo.set(d, this.model.attachment.get(d)!); });
    sel.each((d, i, nodes) => {
      const now = this.model.attachment.get(d)!;
      const line = select(nodes[i]);
      if (this.attachedTo.get(d) !== now && this.attachedTo.has(d)) {
        // Failover: the connection visibly swings over to the new router.
        line.interrupt().classed('failover', true)
          .transition().duration(900).attr('d', pathOf(d))
          .transition().delay(2500).duration(0).on('end', function () { select(this).classed('failover', false); });
      } else {
        line.attr('d', pathOf(d));
      }
      this.attachedTo.set(d, now);
    });
    // Notifications: each service that has a notification transport, to the broker's exchange.
    const notifyUrl = this.model.status?.transports.notify;
    const notifies = (c: ComponentStatus) =>
      c.kind === 'service' && this.layout.services.has(c.name) && (c.transport?.notify || notifyUrl) && this.regions.notifiesDrawnBroker(c);
    const nsvc = this.layout.broker ? this.model.components.filter(notifies).map((c) => c.name) : [];
    const ns = this.gAttach.selectAll<SVGPathElement, string>('path.notify-attach').data(nsvc, (d) => d);
    ns.exit().remove();
    ns.enter().append('path').attr('class', 'notify-attach').merge(ns).classed('listener', (d) => this.model.notifyOnly.has(d)).attr('d', (d) => {
      const a = serviceAnchor(this.layout.services.get(d)!);
      const x = this.layout.broker!.exchange;
      return `M${a.x},${a.y} C${a.x + 90},${a.y} ${x.x - 90},${x.y} ${x.x},${x.y}`;
    });
  }

  private static deadMark(g: AnySel, cx: number, cy: number, size: number): void {
    // A cross over the node: dead at a glance, even in greyscale.
    g.selectAll('line.x').data([1, -1]).join('line').attr('class', 'x')
      .attr('x1', cx - size).attr('x2', cx + size)
      .attr('y1', (d: number) => cy - size * d).attr('y2', (d: number) => cy + size * d);
  }

  private drawRouters(): void {
    const now = this.scene.stream.now();
    const data = this.model.components.filter((c) => c.kind === 'router' && this.layout.routers.has(c.name));
    const sel = this.gRouters.selectAll<SVGGElement, (typeof data)[number]>('g.router').data(data, (d) => d.name);
    sel.exit().remove();
    const g = sel.enter().append('g').attr('class', 'router').attr('data-name', (d) => d.name);
    g.append('circle').attr('class', 'body');
    g.append('text').attr('class', 'letter');
    g.append('text').attr('class', 'name');
    g.append('text').attr('class', 'rate');
    g.append('g').attr('class', 'xmark');
    const all = g.merge(sel);
    all.each((d, i, nodes) => {
      const p = this.layout.routers.get(d.name)!;
      const gg = select(nodes[i]);
      const dead = !alive(d);
      gg.attr('data-state', d.state).classed('dead', dead).classed('starting', d.state === 'starting');
      gg.select('circle.body').attr('cx', p.x).attr('cy', p.y).attr('r', p.r);
      gg.select('text.letter').attr('x', p.x).attr('y', p.y + 12).text(d.name.replace(/^router-?/, '').toUpperCase().slice(0, 3) || 'R');
      const snap = this.model.routerSnapshots.get(d.name);
      const rate = this.model.perRouter.get(d.name)?.rate(now) ?? 0;
      gg.select('text.name').attr('x', p.x).attr('y', p.y + p.r + 24).text(d.name);
      gg.select('text.rate').attr('x', p.x).attr('y', p.y + p.r + 46)
        .text(dead
          ? `${STATE_WORD[d.state]}${d.detail ? ` · ${shortDetail(d.detail)}` : ''}`
          : `${fmtRate(rate)}${snap ? ` · ${fmtCount(clientDeliveries(snap.snap))} in` : ''}`);
      const xm = gg.select<SVGGElement>('g.xmark');
      if (dead) TopologyLayer.deadMark(xm, p.x, p.y, p.r * 0.75); else xm.selectAll('*').remove();
    });
    // Mesh links of a dead router are dead too; live ones grow with the traffic they carry.
    this.gMesh.selectAll<SVGLineElement, [string, string]>('line')
      .classed('dead', (d) => [d[0], d[1]].some((n) => { const c = this.model.components.find((x) => x.name === n); return !c || !alive(c); }))
      .style('stroke-width', (d) => `${(4 + Math.min(9, Math.log2(1 + (this.model.perEdge.get(edgeKey(d[0], d[1]))?.rate(now) ?? 0)) * 1.5)).toFixed(1)}px`);
  }

  private drawServices(): void {
    const now = this.scene.stream.now();
    const data = this.model.components.filter((c) => c.kind === 'service' && this.layout.services.has(c.name));
    const sel = this.gServices.selectAll<SVGGElement, (typeof data)[number]>('g.service').data(data, (d) => d.name);
    sel.exit().remove();
    const g = sel.enter().append('g').attr('class', 'service').attr('data-name', (d) => d.name);
    g.append('rect').attr('class', 'body').attr('rx', 8);
    g.append('text').attr('class', 'name');
    g.append('text').attr('class', 'line1');
    g.append('text').attr('class', 'line2');
    g.append('g').attr('class', 'xmark');
    g.merge(sel).each((d, i, nodes) => {
      const b = this.layout.services.get(d.name)!;
      const gg = select(nodes[i]);
      const dead = !alive(d);
      gg.attr('data-state', d.state).classed('dead', dead).classed('starting', d.state === 'starting');
      gg.select('rect.body').attr('x', b.x).attr('y', b.y).attr('width', b.w).attr('height', b.h);
      // RPC services name their router; a notification listener names the broker it reads from.
      const listener = this.model.notifyOnly.has(d.name);
      const on = listener ? this.model.notifyTarget(d.name) : this.model.attachment.get(d.name);
      gg.classed('listener', listener).attr('data-attached', on ?? null);
      gg.select('text.name').attr('x', b.x + 12).attr('y', b.y + 24).text(`${d.name}${on ? `  → ${on}` : ''}`);
      const m = this.model.perComponent.get(d.name);
      const sent = m?.sent.total ?? 0;
      const recv = m?.received.total ?? 0;
      gg.select('text.line1').attr('x', b.x + 12).attr('y', b.y + 46)
        .attr('data-testid', 'counter').attr('data-sent', sent).attr('data-received', recv)
        .text(dead ? STATE_WORD[d.state] : `out ${fmtCount(sent)} · ${fmtRate(m?.sent.rate(now) ?? 0)}`);
      gg.select('text.line2').attr('x', b.x + 12).attr('y', b.y + 66)
        .text(dead
          ? shortDetail(d.detail ?? '')
          : `in ${fmtCount(recv)} · ${fmtRate(m?.received.rate(now) ?? 0)}${m?.failed ? ` · ${fmtCount(m.failed)} failed` : ''}`);
      const xm = gg.select<SVGGElement>('g.xmark');
      if (dead) TopologyLayer.deadMark(xm, b.x + b.w - 26, b.y + b.h / 2, 14); else xm.selectAll('*').remove();
    });
  }

  private drawBroker(): void {
    const b = this.layout.broker;
    const comp = b ? this.model.components.find((c) => c.name === b.name) : undefined;
    const data = b && comp ? [comp] : [];
    const sel = this.gBroker.selectAll<SVGGElement, (typeof data)[number]>('g.broker').data(data, (d) => d.name);
    sel.exit().remove();
    const g = sel.enter().append('g').attr('class', 'broker').attr('data-name', (d) => d.name);
    g.append('rect').attr('class', 'body').attr('rx', 10);
    g.append('text').attr('class', 'title');
    g.append('circle').attr('class', 'exchange');
    g.append('text').attr('class', 'exchange-label');
    g.append('g').attr('class', 'queues');
    g.append('g').attr('class', 'xmark');
    if (!b || !comp) return;
    const gg = g.merge(sel);
    const dead = !alive(comp);
    gg.attr('data-state', comp.state).classed('dead', dead).classed('starting', comp.state === 'starting');
    gg.select('rect.body').attr('x', b.x).attr('y', b.y).attr('width', b.w).attr('height', b.h);
    const title = gg.select<SVGTextElement>('text.title').attr('x', b.x + 14).attr('y', b.y + 26)
      .text(`${comp.name} · ${comp.product ?? 'RabbitMQ'}${dead ? ` · ${STATE_WORD[comp.state]}` : ' · notifications wait in queues'}`);
    fitText(title.node(), b.w - 28);
    gg.select('circle.exchange').attr('cx', b.exchange.x).attr('cy', b.exchange.y).attr('r', 26);
    gg.select('text.exchange-label').attr('x', b.exchange.x).attr('y', b.exchange.y + 46).text('exchange');
    drawQueues(gg.select<SVGGElement>('g.queues'), b.queues, this.model.visibleQueues(MAX_QUEUES));
    const xm = gg.select<SVGGElement>('g.xmark');
    if (dead) TopologyLayer.deadMark(xm, b.exchange.x, b.exchange.y, 24); else xm.selectAll('*').remove();
  }
}

/**
 * Messages the lab's clients sent into a router over their links. The
 * router's own total also counts the mesh's control traffic and the lab's
 * management queries, which rise with no client attached; inter-router
 * links (no address of their own) carry other routers' messages.
 */
function clientDeliveries(snap: RouterSnapshot): number {
  let n = 0;
  for (const l of snap.links) if (l.dir === 'in' && l.address !== null) n += l.deliveries;
  return n;
}
