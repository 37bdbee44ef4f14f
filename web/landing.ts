// Landing page: where to go (deck, labs, flow view, recordings) and what runs
// right now: the lab's topology, which router product carries RPC, the state
// of every component.
import { ApiRequestError, LabClient } from '../widgets/api/client.js';
import type { LabStatus, RecordingInfo } from '../common/wire.js';
import { h } from '../widgets/common/index.js';
import './landing.css';

const box = document.getElementById('status')!;
const client = new LabClient();

function routerLine(st: LabStatus): string {
  const routers = st.components.filter((c) => c.kind === 'router');
  if (routers.length === 0) return st.topology === 'broker-only' ? 'RPC goes through the broker (broker-only topology, no router)' : 'no router in this lab';
  const products = [...new Set(routers.map((r) => r.product).filter(Boolean))].join(', ');
  const what = st.router === 'qdrouterd' ? 'Apache Qpid Dispatch Router' : 'the embedded router (qdrouterd is not installed)';
  return `RPC router: ${products || st.router} × ${routers.length}: ${what}`;
}

function show(st: LabStatus): void {
  const running = st.components.filter((c) => c.state === 'running').length;
  const down = st.components.filter((c) => c.state === 'failed' || c.state === 'stopped');
  box.replaceChildren(
    h('h2', {}, st.topology ? `Lab is up: ${st.topology}` : 'No lab running'),
    h('p', { class: 'router', 'data-testid': 'landing-router' },
      st.topology ? routerLine(st) : 'Bring one up from the flow view, the labs, or "hmlab up --topology hybrid".'),
    st.components.length
      ? h('p', {}, `${running} of ${st.components.length} components running`,
        down.length ? h('span', { class: 'hm-error' }, ` · down: ${down.map((c) => c.name).join(', ')}`) : '')
      : '',
    h('p', { class: 'hm-muted hm-mono' }, `RPC transport: ${st.transports.rpc ?? '–'}`, h('br'), `notification transport: ${st.transports.notify ?? '–'}`),
  );
}

async function refresh(): Promise<void> {
  try {
    show(await client.status());
  } catch (err) {
    const e = err as ApiRequestError;
    box.replaceChildren(
      h('h2', {}, e.status === 401 ? 'Not signed in' : 'No lab server'),
      h('p', {}, e.status === 401
        ? 'Open the URL that "hmlab serve" printed: it carries the token, and this browser keeps it afterwards.'
        : 'These are static pages: the deck and the flow view play recorded demos. Run "npm start" for a live lab.'),
    );
  }
}

async function listRecordings(): Promise<void> {
  try {
    const list = (await client.recordings()) as RecordingInfo[];
    if (!Array.isArray(list) || list.length === 0) return;
    const ul = document.getElementById('recordings')!;
    ul.replaceChildren(...list.map((r) => h('li', {},
      h('a', { href: `/flow?replay=${encodeURIComponent(r.name)}${r.source === 'home' ? '&source=home' : ''}&loop=1` }, r.name),
      h('span', { class: 'hm-muted' }, ` ${r.source === 'home' ? 'recorded in this lab' : 'shipped'} · ${(r.bytes / 1024).toFixed(0)} KiB`))));
  } catch { /* keep the shipped list */ }
}

void refresh();
void listRecordings();
setInterval(() => void refresh(), 3000);
