// The flow view: the lab's topology drawn with D3 (SVG), live messages as
// particles on a canvas above it, counters and charts around it. It reads a
// LabStream only, so it shows a live lab and a recording the same way.
import { select, type Selection } from 'd3';
// Registers selection.transition()/interrupt(); a bare import keeps the bundler from dropping it.
import 'd3-transition';
import type { LabEvent, RouterSnapshot } from '../../common/wire.js';
import type { LabStream, StreamState } from '../api/client.js';
import { fmtCount, fmtMs, fmtRate, h, percentile, themeColors, type ThemeColors } from '../common/index.js';
import { FlowModel, alive, edgeKey, type FlowKind, type FlowMessage, type Hop } from './model.js';
import { attachCurve, computeLayout, serviceAnchor, MAX_QUEUES, VIEW_H, VIEW_W, type Layout, type Point } from './layout.js';
import { ParticleLayer } from './particles.js';
import { drawQueues, fitText } from './queues.js';
import { RegionOverlay, regionLayout } from './regions.js';
import { LatencyChart, QueueDepthChart, RatesChart, RATE_SERIES } from './charts.js';
import type { FlowView, FlowViewOptions, FlowViewStats } from './types.js';
import './flow.css';

export type { FlowView, FlowViewOptions, FlowViewStats } from './types.js';

type Sel<E extends Element> = Selection<E, unknown, null, undefined>;
type AnySel = Selection<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const STATE_WORD: Record<string, string> = { running: 'running', starting: 'starting…', stopped: 'STOPPED', failed: 'DEAD' };

export function mountFlowView(el: HTMLElement, stream: LabStream, opts: FlowViewOptions = {}): FlowView {
  const colors: ThemeColors = themeColors(el);
  const kindColor: Record<FlowKind, string> = {
    rpc: colors.rpc, reply: colors.reply, cast: colors.cast, fanout: colors.fanout, notify: colors.notify, failed: colors.failed,
  };

  // ---- DOM skeleton --------------------------------------------------------------
  const conn = h('span', { class: 'hm-conn', 'data-testid': 'flow-connection' }, 'connecting…');
  const routerLabel = h('span', { class: 'hm-flow-product', 'data-testid': 'flow-router-product' }, 'RPC router: –');
  const topoLabel = h('span', { class: 'hm-flow-topology hm-muted' }, '');
  const bar = h('header', { class: 'hm-flow-bar' },
    h('span', { class: 'hm-flow-title' }, opts.title ?? 'Message flow'), routerLabel, topoLabel, h('span', { class: 'hm-flow-spacer' }), conn);
  const svgHost = h('div', { class: 'hm-flow-svg' });
  const canvas = h('canvas', { class: 'hm-flow-canvas' });
  const totals = h('div', { class: 'hm-flow-totals', 'data-testid': 'flow-totals' });
  const legend = h('div', { class: 'hm-flow-legend' },
    ...(['rpc', 'reply', 'cast', 'fanout', 'notify', 'failed'] as FlowKind[]).map((k) =>
      h('span', {}, h('i', { style: `background:${kindColor[k]}` }), { rpc: 'RPC request', reply: 'reply', cast: 'cast', fanout: 'fanout', notify: 'notification', failed: 'failed' }[k])),
    h('span', { class: 'hm-muted' }, 'slowed down to be seen'));
  const banner = h('div', { class: 'hm-flow-banner', 'data-testid': 'flow-banner' });
  const empty = h('div', { class: 'hm-flow-empty' }, 'Waiting for the lab… (no components yet)');
  const stage = h('div', { class: 'hm-flow-stage' }, svgHost, canvas, empty);
  // Counters, legend and notices get a column of their own: they can never cover a node.
  const side = h('div', { class: 'hm-flow-side', 'data-testid': 'flow-side' }, totals, legend, banner);
  const body = h('div', { class: 'hm-flow-body' }, stage, side);
  const showCharts = opts.charts !== false;
  const chartBoxes = showCharts ? {
    queue: h('div', { class: 'hm-flow-chart' }),
    rates: h('div', { class: 'hm-flow-chart' }),
    latency: h('div', { class: 'hm-flow-chart' }),
  } : null;
  const latencyTitle = h('span', { class: 'hm-muted' }, '');
  const chartsRow = chartBoxes ? h('div', { class: 'hm-flow-charts' },
    h('section', { class: 'hm-card' }, h('h3', {}, 'Broker queue depth'), chartBoxes.queue),
    h('section', { class: 'hm-card' }, h('h3', {}, 'Messages per second'), chartBoxes.rates),
    h('section', { class: 'hm-card' }, h('h3', {}, 'RPC call latency ', latencyTitle), chartBoxes.latency)) : null;
  const root = h('div', { class: 'hm-flow hm-root', 'data-testid': 'flow-view' }, bar, body, chartsRow);
  el.append(root);

  const svg: Sel<SVGSVGElement> = select(svgHost).append('svg')
    .attr('viewBox', `0 0 ${VIEW_W} ${VIEW_H}`).attr('preserveAspectRatio', 'xMidYMid meet');
  const gBroker = svg.append('g').attr('class', 'broker-layer');
  const gMesh = svg.append('g').attr('class', 'mesh');
  const gAttach = svg.append('g').attr('class', 'attach');
  const gRouters = svg.append('g').attr('class', 'routers');
  const gServices = svg.append('g').attr('class', 'services');
  // Multi-region: the regions under everything else, the WAN between them.
  const regions = new RegionOverlay(svg.insert<SVGGElement>('g', ':first-child').attr('class', 'regions-layer'), side, stream, svg, () => model);

  const charts = chartBoxes ? {
    queue: new QueueDepthChart(chartBoxes.queue, colors),
    rates: new RatesChart(chartBoxes.rates, colors),
    latency: new LatencyChart(chartBoxes.latency, colors),
  } : null;

  // ---- State ---------------------------------------------------------------------------
  let model = new FlowModel();
  const particles = new ParticleLayer();
  let layout: Layout = computeLayout([], []);
  let layoutKey = '';
  let drawnVersion = -1;
  const attachedTo = new Map<string, string>(); // what the SVG shows, to animate changes
  let eventsSeen = 0;
  let ingestMs = 0;
  const frameWork: number[] = [];
  const frameGaps: number[] = [];
  let lastFrame = 0;
  let disposed = false;
  /** Below this width the view is compact: a short header, a narrow side column. */
  const COMPACT_BELOW = 1000;
  let compact = false;

  function resetModel(): void {
    model = new FlowModel();
    particles.clear();
    attachedTo.clear();
    charts?.queue.reset();
    charts?.rates.reset();
    drawnVersion = -1;
  }

  // ---- Paths: hops to diagram points ---------------------------------------------------
  function point(hop: Hop, role: 'first' | 'mid' | 'last'): Point[] | null {
    if ('node' in hop) {
      const s = layout.services.get(hop.node);
      if (s) return [serviceAnchor(s)];
      const r = layout.routers.get(hop.node);
      if (r) return [r];
      if (layout.broker && layout.broker.name === hop.node) return [layout.broker.exchange];
      return null;
    }
    if ('exchange' in hop) return layout.broker ? [layout.broker.exchange] : null;
    const q = layout.broker?.queues.find((x) => x.name === hop.queue);
    if (!q) return layout.broker ? [layout.broker.exchange] : null;
    // Into a queue: the message travels into the pipe and waits there.
    if (role === 'last') return [q.in, { x: q.x + 24, y: q.in.y }];
    return [q.in];
  }

  // Curves between services and routers, per layout.
  const curves = new Map<string, Point[]>();
  function curve(service: string, router: string): Point[] | null {
    const key = `${service}|${router}`;
    let c = curves.get(key);
    if (c) return c;
    const s = layout.services.get(service);
    const r = layout.routers.get(router);
    if (!s || !r) return null;
    c = attachCurve(serviceAnchor(s), r, layout.routers.values(), router);
    curves.set(key, c);
    return c;
  }

  function pointsOf(hops: Hop[]): Point[] | null {
    const pts: Point[] = [];
    for (let i = 0; i < hops.length; i++) {
      const p = point(hops[i], i === 0 ? 'first' : i === hops.length - 1 ? 'last' : 'mid');
      if (!p) return null;
      // Between a service and its router, follow the drawn curve.
      const prev = hops[i - 1];
      const cur = hops[i];
      if (prev && 'node' in prev && 'node' in cur) {
        const wan = regions.segment(prev.node, cur.node, layout, model.status);
        if (wan) { pts.push(...wan.slice(1)); continue; }
        const there = layout.services.has(prev.node) && layout.routers.has(cur.node) ? curve(prev.node, cur.node)
          : layout.routers.has(prev.node) && layout.services.has(cur.node) ? curve(cur.node, prev.node)?.slice().reverse() : null;
        if (there) { pts.push(...there.slice(1)); continue; }
      }
      pts.push(...p);
    }
    return pts;
  }

  function launch(m: FlowMessage): void {
    const pts = regions.notifyPath(m.hops, layout) ?? pointsOf(m.hops);
    if (!pts) return;
    const then = m.then;
    const thenPts = then ? pointsOf(then.hops) : null;
    particles.emit(pts, kindColor[m.kind], m.weight, thenPts && then ? (w) => particles.emit(thenPts, kindColor[then.kind], w) : null);
  }

  // ---- Drawing the diagram -------------------------------------------------------------
  function relayoutIfNeeded(): void {
    const queues = model.visibleQueues(MAX_QUEUES).map((q) => q.name);
    const key = model.components.map((c) => `${c.name}:${c.kind}`).join(',') + '|' + queues.join(',');
    if (key === layoutKey) return;
    layoutKey = key;
    layout = regionLayout(model.components, queues) ?? computeLayout(model.components, queues);
    curves.clear();
    particles.clear();
    drawnVersion = -1;
  }

  function redraw(): void {
    if (disposed) return;
    relayoutIfNeeded();
    empty.hidden = model.components.length > 0 || stream.state === 'closed';
    if (!empty.hidden && model.status) empty.textContent = 'No lab is running: bring one up from the Backends panel, or with "hmlab up --topology hybrid-mesh".';
    drawHeader();
    if (drawnVersion !== model.topologyVersion) {
      drawnVersion = model.topologyVersion;
      drawMesh();
      drawAttachments();
    }
    drawRouters();
    drawServices();
    drawBroker();
    regions.draw(layout, model.status);
    drawTotals();
    drawBanner();
  }

  function drawHeader(): void {
    const st = model.status;
    const routers = model.components.filter((c) => c.kind === 'router');
    if (routers.length === 0) {
      routerLabel.textContent = st?.topology === 'broker-only' ? 'RPC over the broker (no router)' : 'RPC router: –';
    } else {
      const products = [...new Set(routers.map((r) => r.product).filter((p): p is string => !!p))];
      const kind = st?.router === 'qdrouterd' ? 'Qpid Dispatch Router' : st?.router === 'embedded' ? 'embedded router' : '';
      const full = `RPC router: ${products.join(', ') || st?.router || 'unknown'}${kind ? ` (${kind})` : ''} × ${routers.length}`;
      // A small view still says which router runs, in fewer words; the full line is its tooltip.
      const short = `RPC: ${st?.router === 'embedded' ? 'embedded router' : st?.router ?? (products[0] || 'router')} × ${routers.length}`;
      routerLabel.textContent = compact ? short : full;
      routerLabel.title = full;
    }
    routerLabel.dataset.router = st?.router ?? '';
    topoLabel.textContent = st?.topology ? `topology: ${st.topology}` : '';
  }

  function drawMesh(): void {
    const links = model.meshLinks().filter(([a, b]) => layout.routers.has(a) && layout.routers.has(b));
    const sel = gMesh.selectAll<SVGLineElement, [string, string]>('line').data(links, (d) => edgeKey(d[0], d[1]));
    sel.exit().remove();
    sel.enter().append('line').attr('class', 'mesh-link')
      .merge(sel)
      .attr('x1', (d) => layout.routers.get(d[0])!.x).attr('y1', (d) => layout.routers.get(d[0])!.y)
      .attr('x2', (d) => layout.routers.get(d[1])!.x).attr('y2', (d) => layout.routers.get(d[1])!.y);
  }

  function endpointOf(service: string): Point | null {
    const to = model.attachment.get(service);
    if (!to) return null;
    const r = layout.routers.get(to);
    if (r) return r;
    if (layout.broker?.name === to) return layout.broker.exchange;
    return null;
  }

  function drawAttachments(): void {
    // RPC: each service to the router (or broker) its connection is on now.
    const rpc = [...layout.services.keys()].filter((s) => endpointOf(s));
    const pathOf = (d: string): string => {
      const to = model.attachment.get(d)!;
      const pts = layout.routers.has(to) ? curve(d, to) : null;
      const a = serviceAnchor(layout.services.get(d)!);
      const b = endpointOf(d)!;
      // Always 13 points, so a failover can morph one path into the other.
      const p = pts ?? Array.from({ length: 13 }, (_, i) => ({ x: a.x + ((b.x - a.x) * i) / 12, y: a.y + ((b.y - a.y) * i) / 12 }));
      return 'M' + p.map((q) => `${q.x.toFixed(1)},${q.y.toFixed(1)}`).join('L');
    };
    const sel = gAttach.selectAll<SVGPathElement, string>('path.rpc-attach').data(rpc, (d) => d);
    sel.exit().remove();
    const entered = sel.enter().append('path').attr('class', 'rpc-attach').attr('d', pathOf);
    entered.each((d) => { attachedTo.set(d, model.attachment.get(d)!); });
    sel.each(function (d) {
      const now = model.attachment.get(d)!;
      const line = select(this);
      if (attachedTo.get(d) !== now && attachedTo.has(d)) {
        // Failover: the connection visibly swings over to the new router.
        line.interrupt().classed('failover', true)
          .transition().duration(900).attr('d', pathOf(d))
          .transition().delay(2500).duration(0).on('end', function () { select(this).classed('failover', false); });
      } else {
        line.attr('d', pathOf(d));
      }
      attachedTo.set(d, now);
    });
    // Notifications: each service that has a notification transport, to the broker's exchange.
    const notifyUrl = model.status?.transports.notify;
    const nsvc = layout.broker ? model.components.filter((c) => c.kind === 'service' && layout.services.has(c.name) && (c.transport?.notify || notifyUrl) && regions.notifiesDrawnBroker(c)).map((c) => c.name) : [];
    const ns = gAttach.selectAll<SVGPathElement, string>('path.notify-attach').data(nsvc, (d) => d);
    ns.exit().remove();
    ns.enter().append('path').attr('class', 'notify-attach').merge(ns).classed('listener', (d) => model.notifyOnly.has(d)).attr('d', (d) => {
      const a = serviceAnchor(layout.services.get(d)!);
      const x = layout.broker!.exchange;
      return `M${a.x},${a.y} C${a.x + 90},${a.y} ${x.x - 90},${x.y} ${x.x},${x.y}`;
    });
  }

  function deadMark(g: AnySel, cx: number, cy: number, size: number): void {
    // A cross over the node: dead at a glance, even in greyscale.
    g.selectAll('line.x').data([1, -1]).join('line').attr('class', 'x')
      .attr('x1', cx - size).attr('x2', cx + size)
      .attr('y1', (d: number) => cy - size * d).attr('y2', (d: number) => cy + size * d);
  }

  function drawRouters(): void {
    const now = stream.now();
    const data = model.components.filter((c) => c.kind === 'router' && layout.routers.has(c.name));
    const sel = gRouters.selectAll<SVGGElement, (typeof data)[number]>('g.router').data(data, (d) => d.name);
    sel.exit().remove();
    const g = sel.enter().append('g').attr('class', 'router').attr('data-name', (d) => d.name);
    g.append('circle').attr('class', 'body');
    g.append('text').attr('class', 'letter');
    g.append('text').attr('class', 'name');
    g.append('text').attr('class', 'rate');
    g.append('g').attr('class', 'xmark');
    const all = g.merge(sel);
    all.each(function (d) {
      const p = layout.routers.get(d.name)!;
      const gg = select(this);
      const dead = !alive(d);
      gg.attr('data-state', d.state).classed('dead', dead).classed('starting', d.state === 'starting');
      gg.select('circle.body').attr('cx', p.x).attr('cy', p.y).attr('r', p.r);
      gg.select('text.letter').attr('x', p.x).attr('y', p.y + 12).text(d.name.replace(/^router-?/, '').toUpperCase().slice(0, 3) || 'R');
      const snap = model.routerSnapshots.get(d.name);
      const rate = model.perRouter.get(d.name)?.rate(now) ?? 0;
      gg.select('text.name').attr('x', p.x).attr('y', p.y + p.r + 24).text(d.name);
      gg.select('text.rate').attr('x', p.x).attr('y', p.y + p.r + 46)
        .text(dead ? `${STATE_WORD[d.state]}${d.detail ? ` · ${shortDetail(d.detail)}` : ''}` : `${fmtRate(rate)}${snap ? ` · ${fmtCount(clientDeliveries(snap.snap))} in` : ''}`);
      const xm = gg.select<SVGGElement>('g.xmark');
      if (dead) deadMark(xm, p.x, p.y, p.r * 0.75); else xm.selectAll('*').remove();
    });
    // Mesh links of a dead router are dead too; live ones grow with the traffic they carry.
    gMesh.selectAll<SVGLineElement, [string, string]>('line')
      .classed('dead', (d) => [d[0], d[1]].some((n) => { const c = model.components.find((x) => x.name === n); return !c || !alive(c); }))
      .style('stroke-width', (d) => `${(4 + Math.min(9, Math.log2(1 + (model.perEdge.get(edgeKey(d[0], d[1]))?.rate(now) ?? 0)) * 1.5)).toFixed(1)}px`);
  }

  function drawServices(): void {
    const now = stream.now();
    const data = model.components.filter((c) => c.kind === 'service' && layout.services.has(c.name));
    const sel = gServices.selectAll<SVGGElement, (typeof data)[number]>('g.service').data(data, (d) => d.name);
    sel.exit().remove();
    const g = sel.enter().append('g').attr('class', 'service').attr('data-name', (d) => d.name);
    g.append('rect').attr('class', 'body').attr('rx', 8);
    g.append('text').attr('class', 'name');
    g.append('text').attr('class', 'line1');
    g.append('text').attr('class', 'line2');
    g.append('g').attr('class', 'xmark');
    g.merge(sel).each(function (d) {
      const b = layout.services.get(d.name)!;
      const gg = select(this);
      const dead = !alive(d);
      gg.attr('data-state', d.state).classed('dead', dead).classed('starting', d.state === 'starting');
      gg.select('rect.body').attr('x', b.x).attr('y', b.y).attr('width', b.w).attr('height', b.h);
      // RPC services name their router; a notification listener names the broker it reads from.
      const listener = model.notifyOnly.has(d.name);
      const on = listener ? model.notifyTarget(d.name) : model.attachment.get(d.name);
      gg.classed('listener', listener).attr('data-attached', on ?? null);
      gg.select('text.name').attr('x', b.x + 12).attr('y', b.y + 24).text(`${d.name}${on ? `  → ${on}` : ''}`);
      const m = model.perComponent.get(d.name);
      const sent = m?.sent.total ?? 0;
      const recv = m?.received.total ?? 0;
      gg.select('text.line1').attr('x', b.x + 12).attr('y', b.y + 46)
        .attr('data-testid', 'counter').attr('data-sent', sent).attr('data-received', recv)
        .text(dead ? STATE_WORD[d.state] : `out ${fmtCount(sent)} · ${fmtRate(m?.sent.rate(now) ?? 0)}`);
      gg.select('text.line2').attr('x', b.x + 12).attr('y', b.y + 66)
        .text(dead ? shortDetail(d.detail ?? '') : `in ${fmtCount(recv)} · ${fmtRate(m?.received.rate(now) ?? 0)}${m?.failed ? ` · ${fmtCount(m.failed)} failed` : ''}`);
      const xm = gg.select<SVGGElement>('g.xmark');
      if (dead) deadMark(xm, b.x + b.w - 26, b.y + b.h / 2, 14); else xm.selectAll('*').remove();
    });
  }

  function drawBroker(): void {
    const b = layout.broker;
    const comp = b ? model.components.find((c) => c.name === b.name) : undefined;
    const data = b && comp ? [comp] : [];
    const sel = gBroker.selectAll<SVGGElement, (typeof data)[number]>('g.broker').data(data, (d) => d.name);
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
    drawQueues(gg.select<SVGGElement>('g.queues'), b.queues, model.visibleQueues(MAX_QUEUES));
    const xm = gg.select<SVGGElement>('g.xmark');
    if (dead) deadMark(xm, b.exchange.x, b.exchange.y, 24); else xm.selectAll('*').remove();
  }

  function drawTotals(): void {
    const now = stream.now();
    const server = model.serverRates && now - model.serverRates.t < 3000 ? model.serverRates.perSecond : null;
    const rate = (k: string) => server?.[k] ?? model.perKind.get(k)?.rate(now) ?? 0;
    const total = (k: string) => model.perKind.get(k)?.total ?? 0;
    const lat = model.sortedLatencies();
    const p50 = percentile(lat, 50);
    const p95 = percentile(lat, 95);
    const failed = model.perKind.get('rpc.failed')?.total ?? 0;
    const row = (label: string, k: string, color: string) =>
      h('div', { class: 'row', 'data-kind': k, 'data-total': total(k), 'data-ok': k === 'rpc.call' ? total(k) - failed : null }, h('i', { style: `background:${color}` }), h('b', {}, label), h('span', { class: 'num' }, fmtCount(total(k))), h('span', { class: 'rate' }, fmtRate(rate(k))));
    totals.replaceChildren(
      row('RPC calls', 'rpc.call', colors.rpc),
      row('casts', 'rpc.cast', colors.cast),
      row('fanouts', 'rpc.fanout', colors.fanout),
      row('notifications', 'notify.sent', colors.notify),
      row('delivered', 'notify.received', colors.reply),
      h('div', { class: 'row lat' }, h('b', {}, 'RPC latency'), h('span', {}, lat.length ? `p50 ${fmtMs(p50)} · p95 ${fmtMs(p95)}` : '–')),
      ...(model.perKind.get('rpc.failed')?.total ? [h('div', { class: 'row failed' }, h('b', {}, 'failed calls'), h('span', { class: 'num' }, fmtCount(model.perKind.get('rpc.failed')!.total)))] : []),
    );
    latencyTitle.textContent = lat.length ? `p50 ${fmtMs(p50)} · p95 ${fmtMs(p95)}` : '';
    latencyTitle.title = `last ${lat.length} successful calls`;
  }

  function drawBanner(): void {
    const now = stream.now();
    const recent = model.failovers.filter((f) => now - f.t < 8000 && now >= f.t - 1000).slice(-2);
    const down = model.components.filter((c) => !alive(c) && c.state !== 'stopped');
    const lines: HTMLElement[] = recent.map((f) => h('div', { class: 'failover' }, `⇄ failover: ${f.service} moved ${f.from ?? '?'} → ${f.to ?? '?'}`));
    for (const c of down) lines.push(h('div', { class: 'dead', title: c.detail ?? '' }, `✖ ${c.name} is down${c.detail ? `: ${shortDetail(c.detail)}` : ''}`));
    if (model.lastError && now - model.lastError.t < 10000) lines.push(h('div', { class: 'dead' }, `! ${model.lastError.message}`));
    banner.replaceChildren(...lines);
  }

  // ---- Loops: particles every frame, text four times a second, charts once a second -----
  const ctx = canvas.getContext('2d');
  let scale = { s: 1, ox: 0, oy: 0, dpr: 1, w: 0, h: 0 };
  function fitCanvas(): void {
    const r = stage.getBoundingClientRect();
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const w = Math.max(1, Math.round(r.width));
    const hgt = Math.max(1, Math.round(r.height));
    if (w === scale.w && hgt === scale.h && dpr === scale.dpr) return;
    canvas.width = w * dpr;
    canvas.height = hgt * dpr;
    const s = Math.min(w / VIEW_W, hgt / VIEW_H);
    scale = { s, ox: (w - VIEW_W * s) / 2, oy: (hgt - VIEW_H * s) / 2, dpr, w, h: hgt };
  }
  // Compact (a demo slide): the legend is one strip under the diagram, so
  // notices in the side column never push it out of view.
  function placeLegend(): void {
    if (compact) body.append(legend); else side.insertBefore(legend, banner);
  }
  function fitSize(): void {
    const now = root.getBoundingClientRect().width < COMPACT_BELOW;
    root.dataset.size = now ? 'compact' : 'wide';
    if (now !== compact) { compact = now; drawHeader(); placeLegend(); }
  }
  const ro = new ResizeObserver(() => { fitSize(); fitCanvas(); });
  ro.observe(stage);
  ro.observe(root);
  fitSize();

  let raf = 0;
  const frame = (now: number) => {
    raf = requestAnimationFrame(frame);
    const t0 = performance.now();
    if (lastFrame) pushRing(frameGaps, now - lastFrame);
    lastFrame = now;
    if (ctx) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(scale.s * scale.dpr, 0, 0, scale.s * scale.dpr, scale.ox * scale.dpr, scale.oy * scale.dpr);
      particles.frame(ctx, now);
    }
    pushRing(frameWork, performance.now() - t0 + ingestMs);
    ingestMs = 0;
  };
  raf = requestAnimationFrame(frame);

  // Redraws and chart updates run between frames; their time counts toward the next frame's work.
  const timed = (fn: () => void) => () => { const t0 = performance.now(); fn(); ingestMs += performance.now() - t0; };
  const textTimer = setInterval(timed(redraw), 250);
  const chartTimer = setInterval(timed(() => {
    if (!charts) return;
    const now = stream.now();
    const server = model.serverRates && now - model.serverRates.t < 3000 ? model.serverRates.perSecond : null;
    const per: Record<string, number> = {};
    for (const s of RATE_SERIES) per[s.key] = server?.[s.key] ?? model.perKind.get(s.key)?.rate(now) ?? 0;
    charts.rates.push(now, per);
    charts.latency.update(model.sortedLatencies());
  }), 1000);
  fitCanvas();
  redraw();

  // ---- Events ----------------------------------------------------------------------------
  // Subscribed last: a stream that already has events replays them at once,
  // inside subscribe(), so everything the handlers touch must exist by now.
  const unsubscribe = stream.subscribe((ev: LabEvent) => {
    const t0 = performance.now();
    eventsSeen++;
    // A looping replay starts over: start the picture over too.
    if (ev.type === 'hello' && model.lastT && ev.t < model.lastT - 1000) resetModel();
    const msgs = model.apply(ev);
    for (const m of msgs) launch(m);
    if (ev.type === 'component' || ev.type === 'failover' || ev.type === 'hello' || ev.type === 'status') {
      redraw(); // a dead router must look dead at once, not at the next tick
    }
    if (ev.type === 'broker' && charts) charts.queue.push(ev.t, model.visibleQueues(MAX_QUEUES));
    ingestMs += performance.now() - t0;
  });
  const unState = stream.onState((s: StreamState, detail: string | null) => {
    conn.dataset.state = s;
    conn.dataset.mode = stream.mode;
    const word = stream.mode === 'replay'
      ? { connecting: 'loading recording…', open: `REPLAY · ${stream.source}`, reconnecting: 'REPLAY', ended: `REPLAY ended · ${stream.source}`, closed: 'REPLAY failed' }[s]
      : { connecting: 'connecting…', open: 'LIVE', reconnecting: 'RECONNECTING…', ended: 'ended', closed: 'disconnected' }[s];
    conn.textContent = word;
    conn.title = detail ?? '';
    if (s === 'closed' && detail) { empty.textContent = detail; empty.hidden = false; }
  });

  return {
    element: root,
    stats(): FlowViewStats {
      const w = [...frameWork].sort((a, b) => a - b);
      const g = [...frameGaps].sort((a, b) => a - b);
      return {
        frames: frameWork.length,
        frameWorkMs: { p50: percentile(w, 50), p95: percentile(w, 95), max: w[w.length - 1] ?? NaN },
        frameIntervalMs: { p50: percentile(g, 50), p95: percentile(g, 95) },
        events: eventsSeen,
        particles: { ...particles.stats },
      };
    },
    resetStats(): void {
      frameWork.length = 0;
      frameGaps.length = 0;
      lastFrame = 0;
      eventsSeen = 0;
    },
    dispose(): void {
      disposed = true;
      cancelAnimationFrame(raf);
      clearInterval(textTimer);
      clearInterval(chartTimer);
      ro.disconnect();
      unsubscribe();
      unState();
      regions.dispose();
      charts?.queue.dispose();
      charts?.rates.dispose();
      charts?.latency.dispose();
      root.remove();
    },
  };
}

/** "killed with SIGKILL (a crash): it stays down..." -> "killed with SIGKILL": fits under a node. */
function shortDetail(detail: string): string {
  const s = detail.split(/[(:;]/)[0].trim();
  return s.length > 26 ? `${s.slice(0, 25)}…` : s;
}

function pushRing(a: number[], v: number): void {
  a.push(v);
  if (a.length > 1200) a.splice(0, a.length - 1200);
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
