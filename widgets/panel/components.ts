// The backend panel's table: every component of the lab with its state,
// product and uptime, and the buttons that act on it.
import type { ComponentStatus } from '../../common/wire.js';
import { isUp } from '../../common/rules.js';
import { COMPONENT_ACTIONS, type ComponentAction } from '../api/client.js';
import { fmtUptime, h } from '../common/index.js';
import type { PanelOwner } from './owner.js';

const ACTION_ENABLED: Record<ComponentAction, (c: ComponentStatus) => boolean> = {
  start: (c) => c.state === 'stopped' || c.state === 'failed',
  stop: (c) => isUp(c.state),
  kill: (c) => isUp(c.state) && c.pid !== null,
  restart: () => true,
};

interface Row {
  tr: HTMLTableRowElement; pill: HTMLElement; detail: HTMLElement; product: HTMLElement; uptime: HTMLElement;
  buttons: Map<ComponentAction, HTMLButtonElement>;
}

export class ComponentTable {
  readonly element: HTMLTableElement;
  private readonly tbody = h('tbody');
  // Rows are kept and updated in place, so a button under the pointer is never replaced mid-click.
  private readonly rows = new Map<string, Row>();
  private readonly emptyRow = h('tr', {}, h('td', { colspan: 4, class: 'hm-muted' }, 'No lab yet: choose a topology and press Up.'));

  constructor(private readonly owner: PanelOwner) {
    this.element = h('table', { class: 'hm-panel-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'component · product'), h('th', {}, 'state'), h('th', {}, 'uptime'), h('th', {}, ''))),
      this.tbody);
  }

  /** now: stream time, for the uptimes. */
  update(comps: ComponentStatus[], now: number): void {
    const trs: HTMLTableRowElement[] = [];
    for (const c of comps) {
      const r = this.rowFor(c);
      r.tr.dataset.state = c.state;
      r.pill.dataset.state = c.state;
      r.pill.textContent = c.state;
      r.detail.textContent = c.detail ?? '';
      r.product.textContent = c.product ?? c.kind;
      r.tr.title = `${c.kind} ${c.name}${c.pid ? `, pid ${c.pid}` : ''}${c.endpoint ? `, ${c.endpoint}` : ''}`;
      r.uptime.textContent = c.state === 'running' && c.startedAt ? fmtUptime(now - c.startedAt) : '–';
      for (const [a, b] of r.buttons) if (!b.dataset.busy) b.disabled = this.owner.readOnly || !ACTION_ENABLED[a](c);
      trs.push(r.tr);
    }
    for (const name of [...this.rows.keys()]) if (!comps.some((c) => c.name === name)) this.rows.delete(name);
    const want = trs.length ? trs : [this.emptyRow];
    const children = this.tbody.children;
    if (want.length !== children.length || want.some((tr, i) => children[i] !== tr)) this.tbody.replaceChildren(...want);
  }

  private rowFor(c: ComponentStatus): Row {
    let r = this.rows.get(c.name);
    if (r) return r;
    const { client, act } = this.owner;
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
    this.rows.set(c.name, r);
    return r;
  }
}
