// The lab workbook: a list of labs with progress, and a lab page (lab-page.ts)
// with the text beside a live terminal and the flow view. The URL's hash
// says which; the page shown is disposed in one call when it changes.
import '../../widgets/common/theme.css';
import './workbook.css';
import { h } from '../../widgets/common/index.js';
import { DisposableStore } from '../../widgets/common/disposable.js';
import { mountSeatBar } from '../../widgets/workshop/index.js';
import { labsApi, type LabSummary } from './api.js';
import { fail } from './lab-live.js';
import { showLab } from './lab-page.js';

const app = document.getElementById('app')!;
/** What the page shown now started (its terminal, its flow view, its listeners). */
let shown = new DisposableStore();

function route(): void {
  try { shown.dispose(); } catch { /* already gone */ }
  const page = shown = new DisposableStore();
  const m = /^#\/([0-9]{2}-[a-z0-9-]+)(?:\/([0-9]+))?$/.exec(location.hash);
  if (m) void showLab(app, m[1], m[2] === undefined ? null : Number(m[2]) - 1).then((lab) => { if (lab) page.add(lab); });
  else void showList();
}

// ---- The lab list ------------------------------------------------------------

async function showList(): Promise<void> {
  document.title = 'Lab workbook · hybrid-messaging-lab';
  let labs: LabSummary[];
  try { labs = await labsApi.list(); } catch (err) { fail(app, err); return; }
  const items = labs.map((l, i) => {
    const pct = l.progress.total ? Math.round((100 * l.progress.passed) / l.progress.total) : 0;
    const done = l.progress.total > 0 && l.progress.passed === l.progress.total;
    return h('li', { class: 'wb-card hm-card', 'data-lab': l.id, 'data-done': done },
      h('a', { href: `#/${l.id}`, class: 'wb-card-link' },
        h('span', { class: 'wb-num' }, String(i + 1)),
        h('span', { class: 'wb-card-title' }, l.title)),
      h('p', { class: 'wb-card-summary' }, l.summary),
      h('div', { class: 'wb-card-meta hm-muted' },
        h('span', {}, `${l.minutes} min`), h('span', {}, `starts from ${l.topology}`), h('span', {}, `${l.steps.length} steps`)),
      h('div', {
        class: 'wb-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': l.progress.total, 'aria-valuenow': l.progress.passed,
        'aria-label': `${l.title}: ${l.progress.passed} of ${l.progress.total} checks passed`,
      },
        h('div', { class: 'wb-progress-bar', style: `width:${pct}%` })),
      h('div', { class: 'wb-progress-text' }, done ? 'done: every check passed' : `${l.progress.passed} of ${l.progress.total} checks passed`));
  });
  app.replaceChildren(
    h('header', { class: 'wb-top' },
      h('a', { href: '/', class: 'wb-home' }, 'hybrid-messaging-lab'),
      h('h1', {}, 'Lab workbook')),
    h('main', { class: 'wb-list-page' },
      h('p', { class: 'wb-lead' }, 'oslo.messaging with two transports: RPC through an AMQP 1.0 router mesh, notifications through RabbitMQ. '
        + 'Each lab runs on real processes on this machine; the checks read them to tell you whether a step really worked.'),
      h('ol', { class: 'wb-list' }, ...items)));
  (app.querySelector('.wb-card-link') as HTMLElement | null)?.focus();
}

window.addEventListener('hashchange', route);
route();
// In a workshop seat: the seat's name and the "Ask for help" button.
void mountSeatBar();
