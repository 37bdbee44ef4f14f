// The flow view's header: its title, which router runs (in fewer words on a
// small view), the topology, and whether the stream is live, a replay or gone.
import type { LabStream, StreamState } from '../api/client.js';
import { h } from '../common/index.js';
import type { FlowScene } from './scene.js';

const LIVE_WORD: Record<StreamState, string> = {
  connecting: 'connecting…', open: 'LIVE', reconnecting: 'RECONNECTING…', ended: 'ended', closed: 'disconnected',
};
const replayWord = (s: StreamState, source: string): string => ({
  connecting: 'loading recording…', open: `REPLAY · ${source}`, reconnecting: 'REPLAY', ended: `REPLAY ended · ${source}`, closed: 'REPLAY failed',
})[s];

export class FlowHeader {
  readonly element: HTMLElement;
  private readonly conn = h('span', { class: 'hm-conn', 'data-testid': 'flow-connection' }, 'connecting…');
  private readonly routerLabel = h('span', { class: 'hm-flow-product', 'data-testid': 'flow-router-product' }, 'RPC router: –');
  private readonly topoLabel = h('span', { class: 'hm-flow-topology hm-muted' }, '');

  constructor(private readonly scene: FlowScene, title: string) {
    this.element = h('header', { class: 'hm-flow-bar' },
      h('span', { class: 'hm-flow-title' }, title), this.routerLabel, this.topoLabel, h('span', { class: 'hm-flow-spacer' }), this.conn);
  }

  update(): void {
    const { model, compact } = this.scene;
    const st = model.status;
    const routers = model.components.filter((c) => c.kind === 'router');
    if (routers.length === 0) {
      this.routerLabel.textContent = st?.topology === 'broker-only' ? 'RPC over the broker (no router)' : 'RPC router: –';
    } else {
      const products = [...new Set(routers.map((r) => r.product).filter((p): p is string => !!p))];
      const kind = st?.router === 'qdrouterd' ? 'Qpid Dispatch Router' : st?.router === 'embedded' ? 'embedded router' : '';
      const full = `RPC router: ${products.join(', ') || st?.router || 'unknown'}${kind ? ` (${kind})` : ''} × ${routers.length}`;
      // A small view still says which router runs, in fewer words; the full line is its tooltip.
      const short = `RPC: ${st?.router === 'embedded' ? 'embedded router' : st?.router ?? (products[0] || 'router')} × ${routers.length}`;
      this.routerLabel.textContent = compact ? short : full;
      this.routerLabel.title = full;
    }
    this.routerLabel.dataset.router = st?.router ?? '';
    this.topoLabel.textContent = st?.topology ? `topology: ${st.topology}` : '';
  }

  showConnection(stream: LabStream, s: StreamState, detail: string | null): void {
    this.conn.dataset.state = s;
    this.conn.dataset.mode = stream.mode;
    this.conn.textContent = stream.mode === 'replay' ? replayWord(s, stream.source) : LIVE_WORD[s];
    this.conn.title = detail ?? '';
  }
}
