// Backend panel: every component of the lab with its state, product and
// uptime, and the buttons that act on it (start, stop, kill, restart); the
// traffic rate; bringing the lab up or down with progress; recording. It
// acts through the HTTP API and shows the result from the event stream, so
// what it shows is what the lab did, not what was asked.
import type { ComponentStatus, LabEvent, LabStatus, Topology } from '../../common/wire.js';
import { TOPOLOGIES } from '../../common/wire.js';
import { isUp } from '../../common/rules.js';
import { ApiRequestError, COMPONENT_ACTIONS, type ComponentAction, type LabClient, type LabStream } from '../api/client.js';
import { fmtUptime, h } from '../common/index.js';
import { mountWanControl } from './wan.js';
import './panel.css';

export interface BackendPanel {
  readonly element: HTMLElement;
  dispose(): void;
}

const ACTION_ENABLED: Record<ComponentAction, (c: ComponentStatus) => boolean> = {
  start: (c) => c.state === 'stopped' || c.state === 'failed',
  stop: (c) => isUp(c.state),
  kill: (c) => isUp(c.state) && c.pid !== null,
  restart: () => true,
};

export function mountBackendPanel(el: HTMLElement, client: LabClient, stream: LabStream): BackendPanel {
  const readOnly = stream.mode === 'replay';
  const message = h('div', { class: 'hm-panel-msg', role: 'status', 'aria-live': 'polite', 'data-testid': 'panel-message' });
  const tbody = h('tbody');
  const table = h('table', { class: 'hm-panel-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'component · product'), h('th', {}, 'state'), h('th', {}, 'uptime'), h('th', {}, ''))), tbody);

  const topoSelect = h('select', { class: 'hm-select', 'aria-label': 'topology' }, ...TOPOLOGIES.map((t) => h('option', { value: t }, t)));
  const upBtn = h('button', { class: 'hm-btn hm-primary', type: 'button' }, 'Up');
  const downBtn = h('button', { class: 'hm-btn hm-danger', type: 'button' }, 'Down');
  const progress = h('ul', { class: 'hm-panel-progress', 'data-testid': 'panel-progress' });

  const rateInput = h('input', { class: 'hm-input', type: 'number', min: 0, max: 2000, step: 1, value: 10, 'aria-label': 'traffic rate (operations per second)' });
  const rateBtn = h('button', { class: 'hm-btn', type: 'button' }, 'Set rate');
  const recBtn = h('button', { class: 'hm-btn', type: 'button', 'data-recording': 'off' }, '● Record');

  const root = h('div', { class: 'hm-panel hm-root', 'data-testid': 'backend-panel' },
    h('h2', {}, 'Backends', readOnly ? h('span', { class: 'hm-muted' }, ' · replay: controls off') : null),
    h('div', { class: 'hm-panel-row' }, h('label', {}, 'Lab '), topoSelect, upBtn, downBtn),
    progress,
    table,
    h('div', { class: 'hm-panel-row' }, h('label', {}, 'Traffic '), rateInput, h('span', { class: 'hm-muted' }, 'ops/s'), rateBtn),
    h('div', { class: 'hm-panel-row' }, recBtn),
    message);
  el.append(root);

  // multi-region: the WAN's row, above recording (hidden for other topologies).
  const wan = mountWanControl(client, act, readOnly);
  recBtn.parentElement!.before(wan.element);
  let status: LabStatus | null = null;
  let recording = false;
  const progressLines = new Map<string, string>();

  function say(text: string, kind: 'ok' | 'error' = 'ok'): void {
    message.textContent = text;
    message.dataset.kind = kind;
  }

  /** Run an API call with the button disabled; show its error, with the field, in words. */
  async function act(btn: HTMLButtonElement, what: string, fn: () => Promise<unknown>): Promise<void> {
    btn.disabled = true;
    btn.dataset.busy = '1';
    say(`${what}…`);
    try {
      const result = await fn();
      // An action may word its own outcome (a node); otherwise "done".
      if (result instanceof Node) { message.replaceChildren(result); message.dataset.kind = 'ok'; } else say(`${what}: done`);
    } catch (err) {
      const e = err as ApiRequestError;
      say(`${what} failed: ${e.message}${e.field ? ` (field "${e.field}")` : ''}`, 'error');
    } finally {
      delete btn.dataset.busy;
      btn.disabled = readOnly;
      render();
    }
  }

  /** The server may accept a long operation (202) and finish it later: say so, and let the progress events tell the end. */
  const accepted = (what: string) => (r: unknown) =>
    (r as { accepted?: unknown } | null)?.accepted === true ? h('span', {}, `${what}: under way, progress above`) : r;
  upBtn.onclick = () => {
    progressLines.clear();
    const what = `bringing the ${topoSelect.value} lab up`;
    void act(upBtn, what, () => client.up(topoSelect.value as Topology).then(accepted(what)));
  };
  downBtn.onclick = () => {
    progressLines.clear();
    void act(downBtn, 'bringing the lab down', () => client.down().then(accepted('bringing the lab down')));
  };
  rateBtn.onclick = () => {
    const rate = Number(rateInput.value);
    if (!Number.isFinite(rate) || rate < 0 || rate > 2000) { say('traffic rate: give a number of operations per second between 0 and 2000', 'error'); return; }
    void act(rateBtn, `traffic ${rate}/s`, () => client.traffic(rate));
  };
  function showRecording(active: boolean): void {
    recording = active;
    recBtn.dataset.recording = active ? 'on' : 'off';
    recBtn.textContent = active ? '■ Stop recording' : '● Record';
  }
  recBtn.onclick = () => void act(recBtn, recording ? 'stopping the recording' : 'recording the event stream', async () => {
    const r = await client.recording(recording ? 'stop' : 'start');
    showRecording(!!r.active);
    const name = (r.name ?? r.file ?? '').replace(/\.jsonl$/, '');
    if (!name) return null;
    if (r.active) return h('span', {}, `recording the event stream as "${name}"`);
    // Offer the replay of what was just recorded.
    return h('span', {}, `recorded ${r.events ?? '?'} events as "${name}": `,
      h('a', { href: `/flow?replay=${encodeURIComponent(name)}&source=home`, 'data-testid': 'recording-link' }, 'replay it'));
  });
  if (!readOnly) client.recordingState().then((r) => showRecording(!!r.active)).catch(() => { /* older server: assume off */ });
  for (const b of [upBtn, downBtn, rateBtn, recBtn, topoSelect, rateInput]) (b as HTMLButtonElement).disabled = readOnly;

  // Rows are kept and updated in place, so a button under the pointer is never replaced mid-click.
  interface Row { tr: HTMLTableRowElement; pill: HTMLElement; detail: HTMLElement; product: HTMLElement; uptime: HTMLElement; buttons: Map<ComponentAction, HTMLButtonElement> }
  const rows = new Map<string, Row>();
  const emptyRow = h('tr', {}, h('td', { colspan: 4, class: 'hm-muted' }, 'No lab yet: choose a topology and press Up.'));

  function rowFor(c: ComponentStatus): Row {
    let r = rows.get(c.name);
    if (r) return r;
    const buttons = new Map<ComponentAction, HTMLButtonElement>();
    for (const a of COMPONENT_ACTIONS) {
      const b = h('button', { class: `hm-btn${a === 'kill' ? ' hm-danger' : ''}`, type: 'button', 'data-action': a, title: `${a} ${c.name}` }, a);
      b.onclick = () => void act(b, `${a} ${c.name}`, () => client.component(c.name, a));
      buttons.set(a, b);
    }
    const pill = h('span', { class: 'hm-pill' });
    const detail = h('div', { class: 'small detail' });
    const product = h('div', { class: 'small hm-muted' });
    const uptime = h('td', { class: 'hm-mono' });
    const name = h('b', {}, c.name);
    const tr = h('tr', { 'data-component': c.name },
      h('td', {}, name, product),
      h('td', {}, pill, detail),
      uptime,
      h('td', { class: 'actions' }, ...buttons.values()));
    r = { tr, pill, detail, product, uptime, buttons };
    rows.set(c.name, r);
    return r;
  }

  function render(): void {
    const comps = status?.components ?? [];
    if (status?.topology && document.activeElement !== topoSelect) topoSelect.value = status.topology;
    const now = stream.now();
    const trs: HTMLTableRowElement[] = [];
    for (const c of comps) {
      const r = rowFor(c);
      r.tr.dataset.state = c.state;
      r.pill.dataset.state = c.state;
      r.pill.textContent = c.state;
      r.detail.textContent = c.detail ?? '';
      r.product.textContent = c.product ?? c.kind;
      r.tr.title = `${c.kind} ${c.name}${c.pid ? `, pid ${c.pid}` : ''}${c.endpoint ? `, ${c.endpoint}` : ''}`;
      r.uptime.textContent = c.state === 'running' && c.startedAt ? fmtUptime(now - c.startedAt) : '–';
      for (const [a, b] of r.buttons) if (!b.dataset.busy) b.disabled = readOnly || !ACTION_ENABLED[a](c);
      trs.push(r.tr);
    }
    for (const name of [...rows.keys()]) if (!comps.some((c) => c.name === name)) rows.delete(name);
    const want = trs.length ? trs : [emptyRow];
    if (want.length !== tbody.children.length || want.some((tr, i) => tbody.children[i] !== tr)) tbody.replaceChildren(...want);
    progress.replaceChildren(...[...progressLines.entries()].map(([comp, line]) => h('li', {}, h('b', {}, comp), ` ${line}`)));
    if (status?.trafficRate !== undefined && document.activeElement !== rateInput) rateInput.value = String(status.trafficRate);
    wan.update(status);
  }

  const unsub = stream.subscribe((ev: LabEvent) => {
    switch (ev.type) {
      case 'hello':
      case 'status':
        status = structuredClone(ev.status);
        render();
        break;
      case 'component': {
        const c = status?.components.find((x) => x.name === ev.name);
        if (c) {
          if (ev.state === 'running' && c.state !== 'running') c.startedAt = ev.t;
          c.state = ev.state; c.pid = ev.pid;
          if (ev.detail !== undefined) c.detail = ev.detail;
        }
        render();
        break;
      }
      case 'progress':
        progressLines.set(ev.component, `${ev.message} (${(ev.elapsedMs / 1000).toFixed(1)} s)`);
        // The operation as a whole ends with a progress of component "lab".
        if (ev.component === 'lab' && ev.state === 'done') say(`${ev.operation ?? 'operation'} done in ${(ev.elapsedMs / 1000).toFixed(1)} s: ${ev.message}`);
        if (ev.component === 'lab' && ev.state === 'failed') say(`${ev.operation ?? 'operation'} failed: ${ev.message}`, 'error');
        render();
        break;
      case 'error':
        say(ev.message, 'error');
        break;
      default:
        break;
    }
  });
  // Uptimes tick.
  const timer = setInterval(render, 1000);
  render();

  return {
    element: root,
    dispose(): void {
      clearInterval(timer);
      unsub();
      root.remove();
    },
  };
}
