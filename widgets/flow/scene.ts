// What the flow view's parts share: the one owner they ask for state (the
// model, the stream, the colours, the size), and the words they all use.
import type { LabStream } from '../api/client.js';
import { fmtMs, percentile, type ThemeColors } from '../common/index.js';
import type { FlowKind, FlowModel } from './model.js';

/** The flow view as its parts see it: they read state here and keep none of the lab's. */
export interface FlowScene {
  /** The model of what the stream told so far (a new one when a looping replay starts over). */
  readonly model: FlowModel;
  readonly stream: LabStream;
  readonly colors: ThemeColors;
  readonly kindColor: Readonly<Record<FlowKind, string>>;
  /** A small view (a demo slide): a short header, the legend under the diagram. */
  readonly compact: boolean;
}

export const FLOW_KINDS: readonly FlowKind[] = ['rpc', 'reply', 'cast', 'fanout', 'notify', 'failed'];

export function kindColors(colors: ThemeColors): Record<FlowKind, string> {
  return { rpc: colors.rpc, reply: colors.reply, cast: colors.cast, fanout: colors.fanout, notify: colors.notify, failed: colors.failed };
}

export const STATE_WORD: Record<string, string> = { running: 'running', starting: 'starting…', stopped: 'STOPPED', failed: 'DEAD' };

/** "killed with SIGKILL (a crash): it stays down..." -> "killed with SIGKILL": fits under a node. */
export function shortDetail(detail: string): string {
  const s = detail.split(/[(:;]/)[0].trim();
  return s.length > 26 ? `${s.slice(0, 25)}…` : s;
}

/** "p50 3.1 ms · p95 7.0 ms" of recent RPC calls (sorted), or '' with none. */
export function latencyText(sorted: ArrayLike<number>): string {
  return sorted.length ? `p50 ${fmtMs(percentile(sorted, 50))} · p95 ${fmtMs(percentile(sorted, 95))}` : '';
}
