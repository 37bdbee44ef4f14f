// The backend panel's WAN row (multi-region only): the WAN's state and delay,
// a delay to set, and cut / heal. Acts through POST /api/wan; shows what the
// status then says, not what was asked.
import type { LabStatus } from '../../common/wire.js';
import type { LabClient } from '../api/client.js';
import { h } from '../common/index.js';
import type { Act } from './owner.js';

export interface WanControl {
  readonly element: HTMLElement;
  update(status: LabStatus | null): void;
}

export function mountWanControl(client: LabClient, act: Act, readOnly: boolean): WanControl {
  const state = h('span', { class: 'hm-pill', 'data-testid': 'panel-wan-state' });
  const delay = h('input', { class: 'hm-input', type: 'number', min: 0, max: 5000, step: 1, value: 40, 'aria-label': 'WAN delay each way (ms)' });
  const setBtn = h('button', { class: 'hm-btn', type: 'button' }, 'Set delay');
  const cutBtn = h('button', { class: 'hm-btn hm-danger', type: 'button', 'data-action': 'wan-cut' }, 'Cut');
  const healBtn = h('button', { class: 'hm-btn', type: 'button', 'data-action': 'wan-heal' }, 'Heal');
  const element = h('div', { class: 'hm-panel-row', 'data-testid': 'panel-wan', hidden: '' },
    h('label', {}, 'WAN '), state, delay, h('span', { class: 'hm-muted' }, 'ms each way'), setBtn, cutBtn, healBtn);
  setBtn.onclick = () => {
    const ms = Number(delay.value);
    if (!Number.isFinite(ms) || ms < 0 || ms > 5000) return;
    void act(setBtn, `WAN delay ${ms} ms each way`, () => client.wan({ delayMs: ms }));
  };
  cutBtn.onclick = () => void act(cutBtn, 'cutting the WAN', () => client.wan({ state: 'cut' }));
  healBtn.onclick = () => void act(healBtn, 'healing the WAN', () => client.wan({ state: 'up' }));
  for (const b of [setBtn, cutBtn, healBtn, delay]) (b as HTMLButtonElement).disabled = readOnly;
  return {
    element,
    update(status) {
      const w = status?.wan;
      element.hidden = !w;
      if (!w) return;
      state.dataset.state = w.state === 'up' ? 'running' : 'failed';
      state.textContent = w.state === 'up' ? `up · ${w.delayMs} ms` : w.cutMode === 'silent' ? 'cut (silent)' : 'cut';
      if (document.activeElement !== delay) delay.value = String(w.delayMs);
      if (!readOnly) { cutBtn.disabled = w.state === 'cut' || !!cutBtn.dataset.busy; healBtn.disabled = w.state === 'up' || !!healBtn.dataset.busy; }
    },
  };
}
