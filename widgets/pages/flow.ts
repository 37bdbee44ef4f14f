// The standalone flow page (/flow): the flow view of the lab with the
// backend panel in a drawer. ?replay=NAME plays a recording instead of the
// live lab (&loop=1 to repeat it); with no lab server it falls back to the
// dual-backends recording.
import { createStreamFromLocation, LabClient, type CreatedStream } from '../api/client.js';
import { mountFlowView, type FlowView } from '../flow/index.js';
import { mountBackendPanel } from '../panel/index.js';
import { h } from '../common/index.js';
import './flow-page.css';

const app = document.getElementById('app')!;

async function main(): Promise<void> {
  let created: CreatedStream;
  try {
    created = await createStreamFromLocation('dual-backends');
  } catch (err) {
    app.append(h('div', { class: 'hm-card hm-error', style: 'margin:2em' }, (err as Error).message));
    return;
  }
  const { stream, reason } = created;
  const wide = window.innerWidth >= 1500 || new URLSearchParams(location.search).get('panel') === '1';
  const drawer = h('aside', { class: 'hm-flowpage-drawer', 'data-open': wide ? '1' : '0' });
  const toggle = h('button', { class: 'hm-btn hm-flowpage-toggle', type: 'button', 'data-testid': 'panel-toggle' }, wide ? 'Backends ▸' : '◂ Backends');
  toggle.onclick = () => {
    const open = drawer.dataset.open !== '1';
    drawer.dataset.open = open ? '1' : '0';
    toggle.textContent = open ? 'Backends ▸' : '◂ Backends';
  };
  const viewBox = h('main', { class: 'hm-flowpage-main' });
  const nav = h('nav', { class: 'hm-flowpage-nav' },
    h('a', { href: '/' }, '← hybrid-messaging-lab'),
    h('span', { class: 'hm-muted', 'data-testid': 'stream-reason' }, reason),
    h('span', { style: 'flex:1' }),
    toggle);
  app.append(nav, h('div', { class: 'hm-flowpage-body' }, viewBox, drawer));

  const view: FlowView = mountFlowView(viewBox, stream);
  const panel = mountBackendPanel(drawer, new LabClient(), stream);
  // For the browser tests and the frame-time benchmark.
  (window as unknown as { hmlabFlow: unknown }).hmlabFlow = { view, stream, mode: created.mode };
  window.addEventListener('pagehide', () => { panel.dispose(); view.dispose(); stream.close(); });
}

void main();
