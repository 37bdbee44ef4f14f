// A broker's queues as the flow view draws them: a pipe per queue, filled by
// its depth (log scale), named with what waits in it. Shared by the broker
// box and, in a multi-region lab, region 2's own broker.
import { select, type Selection } from 'd3';
import type { BrokerSnapshot } from '../../common/wire.js';
import { fmtCount, fmtRate } from '../common/index.js';
import type { QueueSlot } from './layout.js';

/** Draws `slots` into `g` with the depths and rates of `queues` (the broker's snapshot). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function drawQueues(g: Selection<SVGGElement, any, any, any>, slots: QueueSlot[], queues: BrokerSnapshot['queues']): void {
  const qinfo = new Map(queues.map((q) => [q.name, q]));
  const maxDepth = Math.max(20, ...[...qinfo.values()].map((q) => q.messages));
  const qs = g.selectAll<SVGGElement, QueueSlot>('g.queue').data(slots, (d) => d.name);
  qs.exit().remove();
  const qe = qs.enter().append('g').attr('class', 'queue');
  qe.append('rect').attr('class', 'pipe').attr('rx', 5);
  qe.append('rect').attr('class', 'fill').attr('rx', 5);
  qe.append('text').attr('class', 'qname');
  qe.merge(qs).each(function (q) {
    const info = qinfo.get(q.name);
    const depth = info?.messages ?? 0;
    const frac = depth <= 0 ? 0 : Math.max(0.02, Math.log1p(depth) / Math.log1p(maxDepth));
    const s = select(this).attr('data-queue', q.name).attr('data-depth', depth);
    s.select('rect.pipe').attr('x', q.x).attr('y', q.y).attr('width', q.w).attr('height', q.h);
    s.select('rect.fill').attr('x', q.x).attr('y', q.y).attr('height', q.h).attr('width', q.w * frac);
    // Messages land at the left end of the pipe; the text starts after that landing spot.
    const label = s.select<SVGTextElement>('text.qname').attr('x', q.x + 40).attr('y', q.y + q.h / 2 + 6)
      .classed('no-consumer', !!info && info.consumers === 0)
      .text(queueLabel(q.name, info, depth));
    fitText(label.node(), q.w - 48);
    s.select('title').remove();
    s.append('title').text(info
      ? `${q.name} (vhost ${info.vhost}): ${depth} messages, ${info.consumers} consumers, in ${fmtRate(info.publishRate)}, out ${fmtRate(info.deliverRate)}`
      : q.name);
  });
}

/** A queue's label: its name (cut at 24 characters) and, once the broker reports it, what waits in it. */
function queueLabel(name: string, info: BrokerSnapshot['queues'][number] | undefined, depth: number): string {
  const shown = name.length > 24 ? `${name.slice(0, 22)}…` : name;
  if (!info) return shown;
  return `${shown}: ${fmtCount(depth)} waiting${info.consumers === 0 ? ', no consumer' : ''}`;
}

/** Shrink an SVG label's font until it fits its width (never below 11 px on screen), then cut it with an ellipsis, instead of running out of its box. */
export function fitText(node: SVGTextElement | null, width: number): void {
  if (!node) return;
  node.style.fontSize = '';
  const full = node.textContent ?? ''; // just set by the caller
  let len = 0;
  try { len = node.getComputedTextLength(); } catch { return; } // not rendered yet
  if (len <= width) return;
  // The diagram itself scales down on small screens: the floor is 11 px as
  // the room reads it, so in user units it grows as the scale shrinks.
  const scale = node.getScreenCTM()?.a || 1;
  const floor = Math.ceil(110 / Math.min(1, scale)) / 10;
  const size = parseFloat(getComputedStyle(node).fontSize) || 15;
  node.style.fontSize = `${Math.max(floor, Math.floor(size * width / len * 10) / 10)}px`;
  // Still too long at the floor: cut the end and say so with an ellipsis.
  let text = full;
  while (text.length > 1 && node.getComputedTextLength() > width) {
    text = text.slice(0, -1);
    node.textContent = `${text.trimEnd()}…`;
  }
}
