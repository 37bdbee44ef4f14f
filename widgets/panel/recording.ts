// The backend panel's recording button: record the event stream, stop, and
// offer the replay of what was just recorded.
import { h } from '../common/index.js';
import type { PanelOwner } from './owner.js';

export class RecordingControl {
  readonly element = h('button', { class: 'hm-btn', type: 'button', 'data-recording': 'off' }, '● Record');
  private active = false;

  constructor(owner: PanelOwner) {
    const { client, act } = owner;
    const btn = this.element;
    btn.onclick = () => void act(btn, this.active ? 'stopping the recording' : 'recording the event stream', async () => {
      const r = await client.recording(this.active ? 'stop' : 'start');
      this.show(!!r.active);
      const name = (r.name ?? r.file ?? '').replace(/\.jsonl$/, '');
      if (!name) return null;
      if (r.active) return h('span', {}, `recording the event stream as "${name}"`);
      // Offer the replay of what was just recorded.
      return h('span', {}, `recorded ${r.events ?? '?'} events as "${name}": `,
        h('a', { href: `/flow?replay=${encodeURIComponent(name)}&source=home`, 'data-testid': 'recording-link' }, 'replay it'));
    });
    if (!owner.readOnly) client.recordingState().then((r) => this.show(!!r.active)).catch(() => { /* older server: assume off */ });
  }

  private show(active: boolean): void {
    this.active = active;
    this.element.dataset.recording = active ? 'on' : 'off';
    this.element.textContent = active ? '■ Stop recording' : '● Record';
  }
}
