// Backend panel: every component of the lab with its state, product and
// uptime, and the buttons that act on it (start, stop, kill, restart); the
// traffic rate; bringing the lab up or down with progress; recording. It
// acts through the HTTP API and shows the result from the event stream, so
// what it shows is what the lab did, not what was asked.
//
// One owner (BackendPanelController) keeps the lab's status from the stream
// and acts; its parts (the component table, the WAN row, the recording
// button) draw from it.
import type { LabEvent, LabStatus, Topology } from '../../common/wire.js';
import { TOPOLOGIES } from '../../common/wire.js';
import { TRAFFIC_RATE } from '../../common/rules.js';
import type { ApiRequestError, LabClient, LabStream } from '../api/client.js';
import { h } from '../common/index.js';
import { Disposable, interval } from '../common/disposable.js';
import { ComponentTable } from './components.js';
import type { PanelOwner } from './owner.js';
import { RecordingControl } from './recording.js';
import { mountWanControl, type WanControl } from './wan.js';
import './panel.css';

export interface BackendPanel {
  readonly element: HTMLElement;
  dispose(): void;
}

/** Uptimes tick once a second. */
const TICK_MS = 1000;

class BackendPanelController extends Disposable implements BackendPanel, PanelOwner {
  readonly element: HTMLElement;
  readonly readOnly: boolean;
  private readonly message = h('div', { class: 'hm-panel-msg', role: 'status', 'aria-live': 'polite', 'data-testid': 'panel-message' });
  private readonly topoSelect = h('select', { class: 'hm-select', 'aria-label': 'topology' }, ...TOPOLOGIES.map((t) => h('option', { value: t }, t)));
  private readonly progress = h('ul', { class: 'hm-panel-progress', 'data-testid': 'panel-progress' });
  private readonly rateInput = h('input', {
    class: 'hm-input', type: 'number', min: TRAFFIC_RATE.min, max: TRAFFIC_RATE.max, step: 1, value: 10, 'aria-label': 'traffic rate (operations per second)',
  });
  private readonly table: ComponentTable;
  private readonly wan: WanControl;
  private status: LabStatus | null = null;
  private readonly progressLines = new Map<string, string>();

  constructor(el: HTMLElement, readonly client: LabClient, private readonly stream: LabStream) {
    super();
    const readOnly = this.readOnly = stream.mode === 'replay';
    const upBtn = h('button', { class: 'hm-btn hm-primary', type: 'button' }, 'Up');
    const downBtn = h('button', { class: 'hm-btn hm-danger', type: 'button' }, 'Down');
    const rateBtn = h('button', { class: 'hm-btn', type: 'button' }, 'Set rate');
    this.table = new ComponentTable(this);
    const recording = new RecordingControl(this);
    // multi-region: the WAN's row, above recording (hidden for other topologies).
    this.wan = mountWanControl(client, this.act, readOnly);
    this.element = h('div', { class: 'hm-panel hm-root', 'data-testid': 'backend-panel' },
      h('h2', {}, 'Backends', readOnly ? h('span', { class: 'hm-muted' }, ' · replay: controls off') : null),
      h('div', { class: 'hm-panel-row' }, h('label', {}, 'Lab '), this.topoSelect, upBtn, downBtn),
      this.progress,
      this.table.element,
      h('div', { class: 'hm-panel-row' }, h('label', {}, 'Traffic '), this.rateInput, h('span', { class: 'hm-muted' }, 'ops/s'), rateBtn),
      this.wan.element,
      h('div', { class: 'hm-panel-row' }, recording.element),
      this.message);
    el.append(this.element);
    this.register(() => this.element.remove()); // registered first: undone last

    /** The server may accept a long operation (202) and finish it later: say so, and let the progress events tell the end. */
    const accepted = (what: string) => (r: unknown) =>
      (r as { accepted?: unknown } | null)?.accepted === true ? h('span', {}, `${what}: under way, progress above`) : r;
    upBtn.onclick = () => {
      this.progressLines.clear();
      const what = `bringing the ${this.topoSelect.value} lab up`;
      void this.act(upBtn, what, () => client.up(this.topoSelect.value as Topology).then(accepted(what)));
    };
    downBtn.onclick = () => {
      this.progressLines.clear();
      void this.act(downBtn, 'bringing the lab down', () => client.down().then(accepted('bringing the lab down')));
    };
    rateBtn.onclick = () => {
      const rate = Number(this.rateInput.value);
      if (!Number.isFinite(rate) || rate < TRAFFIC_RATE.min || rate > TRAFFIC_RATE.max) {
        this.say(`traffic rate: give a number of operations per second between ${TRAFFIC_RATE.min} and ${TRAFFIC_RATE.max}`, 'error');
        return;
      }
      void this.act(rateBtn, `traffic ${rate}/s`, () => client.traffic(rate));
    };
    for (const b of [upBtn, downBtn, rateBtn, recording.element, this.topoSelect, this.rateInput]) (b as HTMLButtonElement).disabled = readOnly;

    this.register(stream.subscribe((ev) => this.take(ev)));
    this.register(interval(() => this.render(), TICK_MS));
    this.render();
  }

  private say(text: string, kind: 'ok' | 'error' = 'ok'): void {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  readonly act = async (btn: HTMLButtonElement, what: string, fn: () => Promise<unknown>): Promise<void> => {
    btn.disabled = true;
    btn.dataset.busy = '1';
    this.say(`${what}…`);
    try {
      const result = await fn();
      // An action may word its own outcome (a node); otherwise "done".
      if (result instanceof Node) { this.message.replaceChildren(result); this.message.dataset.kind = 'ok'; } else this.say(`${what}: done`);
    } catch (err) {
      const e = err as ApiRequestError;
      this.say(`${what} failed: ${e.message}${e.field ? ` (field "${e.field}")` : ''}`, 'error');
    } finally {
      delete btn.dataset.busy;
      btn.disabled = this.readOnly;
      this.render();
    }
  };

  private render(): void {
    const { status } = this;
    if (status?.topology && document.activeElement !== this.topoSelect) this.topoSelect.value = status.topology;
    this.table.update(status?.components ?? [], this.stream.now());
    this.progress.replaceChildren(...[...this.progressLines.entries()].map(([comp, line]) => h('li', {}, h('b', {}, comp), ` ${line}`)));
    if (status?.trafficRate !== undefined && document.activeElement !== this.rateInput) this.rateInput.value = String(status.trafficRate);
    this.wan.update(status);
  }

  private take(ev: LabEvent): void {
    switch (ev.type) {
      case 'hello':
      case 'status':
        this.status = structuredClone(ev.status);
        this.render();
        break;
      case 'component': {
        const c = this.status?.components.find((x) => x.name === ev.name);
        if (c) {
          if (ev.state === 'running' && c.state !== 'running') c.startedAt = ev.t;
          c.state = ev.state; c.pid = ev.pid;
          if (ev.detail !== undefined) c.detail = ev.detail;
        }
        this.render();
        break;
      }
      case 'progress': {
        this.progressLines.set(ev.component, `${ev.message} (${(ev.elapsedMs / 1000).toFixed(1)} s)`);
        // The operation as a whole ends with a progress of component "lab".
        const took = `${ev.operation ?? 'operation'} done in ${(ev.elapsedMs / 1000).toFixed(1)} s`;
        if (ev.component === 'lab' && ev.state === 'done') this.say(`${took}: ${ev.message}`);
        if (ev.component === 'lab' && ev.state === 'failed') this.say(`${ev.operation ?? 'operation'} failed: ${ev.message}`, 'error');
        this.render();
        break;
      }
      case 'error':
        this.say(ev.message, 'error');
        break;
      default:
        break;
    }
  }
}

export function mountBackendPanel(el: HTMLElement, client: LabClient, stream: LabStream): BackendPanel {
  return new BackendPanelController(el, client, stream);
}
