// In a workshop, the workbook shows which seat this is, any warning the
// host must pass on (no isolation), and an "Ask for help" button. Outside a
// workshop the lab server answers /workshop/me with 204 and nothing is shown.
import { h } from '../common/index.js';

interface Me { label: string; attendee: string; help: { question: string } | null; warnings: string[]; hostTyping: boolean }

export async function mountSeatBar(parent: HTMLElement = document.body): Promise<HTMLElement | null> {
  let me: Me;
  try {
    const res = await fetch('/workshop/me', { credentials: 'same-origin' });
    if (res.status !== 200) return null;
    me = await res.json() as Me;
  } catch { return null; }
  const status = h('span', { class: 'ws-seat-status' }, me.help ? `asked: ${me.help.question}` : '');
  const input = h('input', { type: 'text', maxlength: 500, placeholder: 'what do you need?', 'aria-label': 'question for the host' });
  const button = h('button', { type: 'button' }, 'Ask for help');
  button.addEventListener('click', async () => {
    const question = input.value.trim();
    if (!question) { status.textContent = 'write a line saying what you need first'; input.focus(); return; }
    const res = await fetch('/workshop/help', {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question }),
    });
    status.textContent = res.ok ? `asked: ${question} (the host sees it)` : `could not ask: ${res.status}`;
    if (res.ok) input.value = '';
  });
  const barStyle = 'display:flex;gap:8px;align-items:center;padding:4px 12px;' +
    'background:var(--hm-bg-raised);border-bottom:1px solid var(--hm-border);font-size:14px';
  const bar = h('div', { class: 'ws-seat-bar', style: barStyle },
    h('strong', {}, `Seat ${me.label}`), me.attendee ? h('span', {}, me.attendee) : null,
    ...me.warnings.map((w) => h('span', { style: 'color:#ffe8a3' }, w)),
    h('span', { style: 'flex:1' }), input, button, status);
  parent.prepend(bar);
  // Whether the host has the seat's terminal open to type, or the help request was answered.
  const typing = h('strong', { class: 'ws-host-typing', style: 'color:#ffb224', hidden: true }, 'the host is typing in your terminal');
  bar.insertBefore(typing, input);
  setInterval(async () => {
    try {
      const res = await fetch('/workshop/me', { credentials: 'same-origin' });
      if (!res.ok) return;
      const now = await res.json() as Me;
      typing.hidden = !now.hostTyping;
      if (!now.help && /^asked:/.test(status.textContent ?? '')) status.textContent = 'the host answered';
    } catch { /* the next poll tries again */ }
  }, 3000);
  return bar;
}
