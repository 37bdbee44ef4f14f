// The host dashboard: the room live (every 2 s from GET /host/api/room),
// per-seat actions, actions for all, where the room is stuck, the host log.
import '../common/theme.css';
import './host.css';
import { h } from '../common/index.js';
import type { WorkshopRoom, WorkshopSeatView } from '../../common/wire.js';
import { TRAFFIC_RATE } from '../../common/rules.js';

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(path, {
    method, credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) as unknown : null;
  if (!res.ok) throw new Error((data as { error?: string } | null)?.error ?? `${res.status} ${res.statusText}`);
  return data;
}

const ago = (t: number | null) => {
  if (!t) return '—';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

export function mountHostDashboard(root: HTMLElement): { refresh(): Promise<void> } {
  root.classList.add('ws-host');
  const msg = h('div', { class: 'ws-msg', role: 'status' });
  const say = (t: string) => { msg.textContent = t; };
  const act = (label: string, fn: () => Promise<unknown>, confirmText?: string) => {
    const b = h('button', { type: 'button' }, label);
    b.addEventListener('click', () => {
      if (confirmText && !confirm(confirmText)) return;
      b.disabled = true;
      say(`${label}…`);
      fn().then(() => { say(`${label}: done`); void refresh(); }, (err: Error) => say(`${label}: ${err.message}`)).finally(() => { b.disabled = false; });
    });
    return b;
  };
  let room: WorkshopRoom | null = null;
  let rateSet = false; // the rate box starts at the room's rate, then is the host's to edit
  const labSelect = h('select', { 'aria-label': 'lab' });

  const seatRow = (s: WorkshopSeatView) => {
    const labTitle = (id: string | null) => room?.labs.find((l) => l.id === id)?.title ?? id ?? '—';
    const open = (label: string, to: string) => h('a', { href: `/host/seats/${s.seat}/open?to=${encodeURIComponent(to)}`, target: `seat-${s.seat}` }, label);
    const currentLab = s.lab ?? labSelect.value;
    const seatApi = `/host/api/seats/${s.seat}`;
    return h('tr', { class: s.help ? 'ws-help' : '', 'data-seat': s.label },
      h('td', {}, h('strong', {}, s.label)),
      h('td', {}, s.attendee || (s.taken ? '(no name)' : '')),
      h('td', {}, h('span', { class: 'ws-state', 'data-state': s.state }, s.state), s.reason ? h('div', { class: 'ws-reason' }, s.reason) : null),
      h('td', {}, s.lab ? `${labTitle(s.lab)} · step ${(s.step ?? 0) + 1}` : '—',
        s.help ? h('div', { class: 'ws-question' }, `asks: ${s.help.question}`) : null),
      h('td', {}, h('div', { class: 'ws-bars' }, ...s.labs.map((l) => h('div',
        { class: 'ws-bar', title: `${l.title}: ${l.passed}/${l.total} checks`, 'data-lab': l.id, 'data-passed': l.passed },
        h('span', { style: `width:${l.total ? (100 * l.passed) / l.total : 0}%` }))))),
      h('td', {}, h('div', { class: 'ws-comps' },
        ...s.components.map((c) => h('span', { class: 'ws-comp', 'data-state': c.state, title: `${c.name}: ${c.state}` })))),
      h('td', {}, ago(s.lastActivity)),
      h('td', {}, s.memoryBytes === null ? '—' : `${Math.round(s.memoryBytes / 1048576)} MiB · ${s.processes} proc`),
      h('td', {}, h('div', { class: 'ws-row-actions' },
        s.state === 'ready' ? open('workbook', '/labs/') : null,
        s.state === 'ready' ? open('flow', '/flow') : null,
        s.state === 'ready' ? open('watch terminal', '/terminal?name=main&readonly=1') : null,
        s.state === 'ready' ? open('type in terminal', '/terminal?name=main') : null,
        s.help ? act('answered', () => call('POST', `${seatApi}/answered`, {})) : null,
        s.state === 'ready' && currentLab
          ? act('restart lab', () => call('POST', `${seatApi}/reset`, { lab: currentLab, clearProgress: false }),
            `Restart seat ${s.label}'s lab (progress and configuration kept)?`)
          : null,
        s.state === 'ready' && currentLab
          ? act('reset lab', () => call('POST', `${seatApi}/reset`, { lab: currentLab, clearProgress: true }),
            `Reset seat ${s.label} to the start of ${labTitle(currentLab)}? Its progress in that lab is cleared.`)
          : null,
        s.state === 'stopped' || s.state === 'failed' ? act('start', () => call('POST', `${seatApi}/start`, {})) : null,
        s.taken
          ? act('free', () => call('POST', `${seatApi}/free`, {}), `Free seat ${s.label}? Its attendee loses the seat, its files and progress.`)
          : null)));
  };

  const seatsBody = h('tbody');
  const stuckBody = h('tbody');
  const logBox = h('div', { class: 'ws-log' });
  const warnBox = h('div');
  const joinBox = h('span', { class: 'ws-join' });
  const rateInput = h('input', { type: 'number', min: String(TRAFFIC_RATE.min), max: String(TRAFFIC_RATE.max), step: 'any' });
  // resumes at the rate the seats started with (hmlab workshop serve --traffic-rate), not the lab's default
  const resume = act('resume traffic', () => (room
    ? call('POST', '/host/api/all/traffic', { rate: room.traffic.start })
    : Promise.reject(new Error('the room has not been read yet: try again in a moment'))));
  const counts = h('span', { class: 'hm-muted' });

  root.replaceChildren(
    h('div', { class: 'ws-top' }, h('h1', {}, 'Workshop: the room'), h('span', {}, 'join: '), joinBox, counts,
      h('a', { href: '/host/api/join.svg', target: '_blank' }, 'join QR code')),
    warnBox,
    h('div', { class: 'ws-actions' },
      h('span', {}, 'Everyone to'), labSelect,
      act('go', () => call('POST', '/host/api/all/lab', { lab: labSelect.value }),
        'Move every seat to the start of this lab (its progress in that lab is cleared)?'),
      act('pause all traffic', () => call('POST', '/host/api/all/traffic', { rate: 0 })),
      resume,
      h('label', { class: 'ws-rate' }, 'traffic per seat ', rateInput, ' operations/s'),
      act('set for all', () => call('POST', '/host/api/all/traffic', { rate: rateInput.valueAsNumber })),
      h('a', { href: '/host/api/progress.csv', download: 'workshop-progress.csv', class: 'ws-row-actions' }, 'export progress (CSV)')),
    msg,
    h('table', { class: 'ws-seats' },
      h('thead', {}, h('tr', {},
        ...['seat', 'attendee', 'state', 'on', 'checks per lab', 'components', 'last activity', 'uses', 'actions'].map((t) => h('th', {}, t)))),
      seatsBody),
    h('h2', {}, 'Where the room is stuck'),
    h('table', { class: 'ws-stuck' },
      h('thead', {}, h('tr', {}, ...['lab · step', 'on this lab', 'passed', 'failing checks say'].map((t) => h('th', {}, t)))),
      stuckBody),
    h('h2', {}, 'Host actions'),
    logBox,
  );

  async function refresh(): Promise<void> {
    try {
      room = await call('GET', '/host/api/room') as WorkshopRoom;
    } catch (err) {
      say(`cannot read the room: ${(err as Error).message}`);
      return;
    }
    joinBox.textContent = room.joinUrl;
    const taken = room.seats.filter((s) => s.taken).length;
    const help = room.seats.filter((s) => s.help).length;
    const traffic = room.traffic.now === 0 ? 'traffic paused' : `traffic ${room.traffic.now} operations/s per seat`;
    counts.textContent = `${taken} of ${room.seats.length} seats taken · ${traffic}${help ? ` · ${help} asking for help` : ''}`;
    resume.textContent = `resume traffic (${room.traffic.start}/s)`;
    if (document.activeElement !== rateInput && !rateSet) { rateInput.value = String(room.traffic.now || room.traffic.start); rateSet = true; }
    warnBox.replaceChildren(...room.warnings.map((w) => h('div', { class: 'ws-warn' }, w)));
    if (labSelect.options.length !== room.labs.length) {
      const keep = labSelect.value;
      labSelect.replaceChildren(...room.labs.map((l) => h('option', { value: l.id }, l.title)));
      if (keep) labSelect.value = keep;
    }
    // Seats asking for help first, the oldest question on top; then by seat.
    const seats = [...room.seats].sort((a, b) => (a.help ? a.help.at : Infinity) - (b.help ? b.help.at : Infinity) || a.seat - b.seat);
    seatsBody.replaceChildren(...seats.map(seatRow));
    const stuckRow = (r: WorkshopRoom['stuck'][number]) => h('tr', {},
      h('td', {}, `${room!.labs.find((l) => l.id === r.lab)?.title ?? r.lab} · step ${r.step + 1}: ${r.title}`),
      h('td', {}, String(r.seats)),
      h('td', {}, String(r.passed)),
      h('td', { class: 'ws-hint' }, ...r.hints.map((x) => h('div', {}, `${x.seats} seat${x.seats === 1 ? '' : 's'}: ${x.hint}`))));
    stuckBody.replaceChildren(...(room.stuck.length
      ? room.stuck.map(stuckRow)
      : [h('tr', {}, h('td', { colspan: 4, class: 'hm-muted' }, 'no checks run yet'))]));
    const logLine = (e: WorkshopRoom['log'][number]) => {
      const who = e.seat ? `seat ${String(e.seat).padStart(2, '0')}  ` : 'room     ';
      return `${new Date(e.at).toLocaleTimeString()}  ${who}${e.action}${e.detail ? `: ${e.detail}` : ''}`;
    };
    logBox.replaceChildren(...room.log.map((e) => h('div', {}, logLine(e))));
  }
  void refresh();
  setInterval(() => void refresh(), 2000);
  return { refresh };
}
