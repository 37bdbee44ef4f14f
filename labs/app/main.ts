// The lab workbook: a list of labs with progress, and a lab page with the
// text beside a live terminal and the flow view. Buttons in the text run
// commands in the terminal, preview and apply edits, and run checks on the
// server; progress lives on the server, so a reload picks up where it was.
import '../../widgets/common/theme.css';
import './workbook.css';
import { h } from '../../widgets/common/index.js';
import { mountTerminal, runInTerminal, type TerminalHandle } from '../../widgets/terminal/index.js';
import { mountFlowView, type FlowView } from '../../widgets/flow/index.js';
import { createStream, type LabStream } from '../../widgets/api/index.js';
import { mountSeatBar } from '../../widgets/workshop/index.js';
import { labsApi, type CheckResult, type DiffLine, type LabDetail, type LabStartState, type LabSummary, type MeasureChart } from './api.js';

const app = document.getElementById('app')!;
let cleanup: (() => void)[] = [];

function disposeAll(): void {
  for (const f of cleanup.splice(0)) { try { f(); } catch { /* already gone */ } }
}

function route(): void {
  disposeAll();
  const m = /^#\/([0-9]{2}-[a-z0-9-]+)(?:\/([0-9]+))?$/.exec(location.hash);
  if (m) void showLab(m[1], m[2] === undefined ? null : Number(m[2]) - 1);
  else void showList();
}

function fail(where: HTMLElement, err: unknown): void {
  where.replaceChildren(h('p', { class: 'hm-error', role: 'alert' }, (err as Error).message ?? String(err)));
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
      h('div', { class: 'wb-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': l.progress.total, 'aria-valuenow': l.progress.passed, 'aria-label': `${l.title}: ${l.progress.passed} of ${l.progress.total} checks passed` },
        h('div', { class: 'wb-progress-bar', style: `width:${pct}%` })),
      h('div', { class: 'wb-progress-text' }, done ? 'done: every check passed' : `${l.progress.passed} of ${l.progress.total} checks passed`));
  });
  app.replaceChildren(
    h('header', { class: 'wb-top' },
      h('a', { href: '/', class: 'wb-home' }, 'hybrid-messaging-lab'),
      h('h1', {}, 'Lab workbook')),
    h('main', { class: 'wb-list-page' },
      h('p', { class: 'wb-lead' }, 'oslo.messaging with two transports: RPC through an AMQP 1.0 router mesh, notifications through RabbitMQ. Each lab runs on real processes on this machine; the checks read them to tell you whether a step really worked.'),
      h('ol', { class: 'wb-list' }, ...items)));
  (app.querySelector('.wb-card-link') as HTMLElement | null)?.focus();
}

// ---- A lab page --------------------------------------------------------------

/** Columns the lab terminal holds whole: qdstat's widest table (addresses) and hmlab status fit. */
const TERMINAL_COLUMNS = 132;
/** The monospace font's advance per em (Source Code Pro: 600/1000). */
const MONO_ADVANCE = 0.6;
/** Padding, the screen's inset and xterm's scrollbar around the character cells. */
const TERMINAL_CHROME_PX = 44;
const TEXT_MIN_PX = 360;

/**
 * The terminal's font size and the side column's width for this window: the
 * largest size from 14 px down to 10.5 px at which TERMINAL_COLUMNS fit next to a
 * text column of at least TEXT_MIN_PX (or 30% of the window, when wider).
 */
function terminalFit(viewport: number): { fontSize: number; sidePx: number } {
  const text = Math.max(TEXT_MIN_PX, Math.round(viewport * 0.3));
  const cells = (viewport - text - TERMINAL_CHROME_PX) / (TERMINAL_COLUMNS * MONO_ADVANCE);
  const fontSize = Math.min(14, Math.max(10.5, Math.floor(cells * 2) / 2));
  const sidePx = Math.ceil(TERMINAL_COLUMNS * MONO_ADVANCE * fontSize + TERMINAL_CHROME_PX);
  return { fontSize, sidePx: Math.min(sidePx, Math.max(0, viewport - TEXT_MIN_PX)) };
}

async function showLab(id: string, wantStep: number | null): Promise<void> {
  let lab: LabDetail;
  try { lab = await labsApi.get(id); } catch (err) { fail(app, err); return; }
  document.title = `${lab.title} · Lab workbook`;
  let step = Math.min(Math.max(wantStep ?? lab.state.step, 0), lab.steps.length - 1);

  const status = h('div', { class: 'wb-status', role: 'status', 'aria-live': 'polite' });
  const resetBtn = h('button', { type: 'button', class: 'hm-btn hm-danger', title: `Stop the lab environment and bring it back to this lab's starting state (${lab.topology}); clears this lab's progress` }, 'Reset lab');
  const stepNav = h('nav', { class: 'wb-steps', 'aria-label': 'Steps' });
  const body = h('article', { class: 'wb-text' });
  const prev = h('button', { type: 'button', class: 'hm-btn', title: 'Previous step (Alt+←)' }, '← Previous');
  const next = h('button', { type: 'button', class: 'hm-btn hm-primary', title: 'Next step (Alt+→)' }, 'Next →');
  const termEl = h('div', { class: 'wb-terminal' });
  const flowEl = h('div', { class: 'wb-flow' });
  const startBox = h('div', { class: 'wb-start', role: 'alert', hidden: true });
  const finish = h('div', { class: 'wb-finish', hidden: true });
  const labEl = h('div', { class: 'wb-lab' },
    h('section', { class: 'wb-text-col', 'aria-label': 'Lab text' }, startBox, stepNav, body, h('div', { class: 'wb-pager' }, prev, finish, next)),
    h('section', { class: 'wb-side', 'aria-label': 'Terminal and message flow' }, termEl, flowEl));

  app.replaceChildren(
    h('header', { class: 'wb-top' },
      h('a', { href: '#/', class: 'wb-home', title: 'All labs' }, '← Labs'),
      h('h1', {}, lab.title),
      h('span', { class: 'wb-meta hm-muted' }, `${lab.minutes} min · starts from ${lab.topology}`),
      h('span', { class: 'wb-spacer' }),
      status, resetBtn),
    labEl);

  const say = (text: string, kind: 'info' | 'error' | 'ok' = 'info') => { status.textContent = text; status.dataset.kind = kind; };

  // Live parts: one terminal ("main"), the flow view of this lab server.
  let term: TerminalHandle | null = null;
  let fit = terminalFit(window.innerWidth);
  const mountTerm = () => {
    term?.dispose();
    termEl.replaceChildren();
    labEl.style.setProperty('--wb-side-width', `${fit.sidePx}px`);
    try {
      term = mountTerminal(termEl, { name: 'main', fontSize: fit.fontSize });
    } catch (err) {
      term = null;
      fail(termEl, err);
    }
  };
  mountTerm();
  cleanup.push(() => term?.dispose());
  // The font size is fixed per terminal: a window resized across sizes gets a fresh
  // terminal (the same shell, its screen kept by the server).
  let resizeTimer = 0;
  const onResize = () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      const next = terminalFit(window.innerWidth);
      if (next.fontSize !== fit.fontSize) { fit = next; mountTerm(); } else { fit = next; labEl.style.setProperty('--wb-side-width', `${fit.sidePx}px`); }
    }, 250);
  };
  window.addEventListener('resize', onResize);
  cleanup.push(() => { window.removeEventListener('resize', onResize); window.clearTimeout(resizeTimer); });
  void (async () => {
    let stream: LabStream | null = null;
    let view: FlowView | null = null;
    let gone = false;
    cleanup.push(() => { gone = true; view?.dispose(); stream?.close(); });
    try {
      stream = (await createStream()).stream;
      if (gone) { stream.close(); return; }
      view = mountFlowView(flowEl, stream, { charts: false, title: 'Message flow' });
    } catch (err) {
      fail(flowEl, err);
    }
  })();

  const progress = { ...lab.state };
  const checkIds = lab.steps.flatMap((s) => (s.actions.filter((a) => a.kind === 'check') as { id: string }[]).map((c) => c.id));
  const started = () => progress.actions.length > 0 || Object.keys(progress.checks).length > 0;

  // The lab after this one, for the last step's link (the list is the catalogue's order).
  let nextLab: LabSummary | null | undefined;
  void labsApi.list().then((all) => { nextLab = all[all.findIndex((l) => l.id === lab.id) + 1] ?? null; renderFinish(); }).catch(() => { nextLab = null; });

  /** On the last step: whether the lab is complete, and the way on. */
  const renderFinish = () => {
    const last = step === lab.steps.length - 1;
    next.hidden = last;
    finish.hidden = !last;
    if (!last) return;
    const passed = checkIds.filter((id) => progress.checks[id]?.pass).length;
    const complete = passed === checkIds.length;
    finish.dataset.complete = String(complete);
    const onward = nextLab
      ? h('a', { href: `#/${nextLab.id}`, class: 'hm-btn hm-primary wb-next-lab' }, `Next lab: ${nextLab.title} →`)
      : h('a', { href: '#/', class: 'hm-btn wb-next-lab' }, 'All labs');
    finish.replaceChildren(
      h('span', { class: 'wb-finish-text' }, complete ? '✓ Lab complete: every check passed.' : `Last step: ${passed} of ${checkIds.length} checks passed.`),
      onward);
  };

  /** Says prominently when what runs is not where this lab starts, with Reset at hand. */
  let startDismissed = false;
  const refreshStart = async () => {
    let s: LabStartState;
    try { s = await labsApi.start(lab.id); } catch { return; } // the checks report an unreachable lab
    const show = !startDismissed && (s.topologyDiffers || (!started() && !s.atStart));
    startBox.hidden = !show;
    startBox.dataset.checked = String(Date.now()); // for readers waiting on the comparison
    if (!show) { startBox.replaceChildren(); return; }
    const resetHere = h('button', { type: 'button', class: 'hm-btn hm-danger' }, 'Reset lab');
    resetHere.addEventListener('click', () => resetBtn.click());
    const keep = h('button', { type: 'button', class: 'hm-btn' }, s.topologyDiffers ? 'Dismiss' : 'Keep this state');
    keep.addEventListener('click', () => { startDismissed = true; startBox.hidden = true; });
    // Another topology under a lab that starts up: the title says it all; otherwise list what differs.
    const list = !s.topologyDiffers || lab.start === 'down';
    startBox.replaceChildren(
      h('strong', { class: 'wb-start-title' }, s.topologyDiffers
        ? `Not this lab's environment: ${s.running ? `the ${s.running} lab runs` : 'nothing runs'}, this lab works on ${lab.topology}.`
        : 'What runs now is not where this lab starts:'),
      ...(list ? [h('ul', {}, ...s.differences.map((d) => h('li', {}, d)))] : []),
      h('p', {}, s.topologyDiffers
        ? 'No check of this lab can pass on it.'
        : 'The steps assume the starting point.'),
      h('div', { class: 'wb-start-buttons' }, resetHere, keep, h('span', { class: 'hm-muted' }, 'Reset also clears this lab\'s progress.')));
  };

  const renderNav = () => {
    stepNav.replaceChildren(...lab.steps.map((s, i) => {
      const checks = s.actions.filter((a) => a.kind === 'check') as { id: string }[];
      const done = checks.length > 0 && checks.every((c) => progress.checks[c.id]?.pass);
      const b = h('button', { type: 'button', class: 'wb-step-tab', 'aria-current': i === step ? 'step' : null, 'data-done': done, title: s.title },
        h('span', { class: 'wb-step-num' }, done ? '✓' : String(i + 1)), h('span', { class: 'wb-step-title' }, s.title));
      b.addEventListener('click', () => go(i));
      return b;
    }));
  };

  const renderStep = () => {
    const s = lab.steps[step];
    body.innerHTML = (step === 0 ? lab.introHtml : '') + s.html; // server-rendered Markdown, raw HTML is refused in lab files
    allowBreaksAfterSlashes(body);
    for (const el of body.querySelectorAll<HTMLElement>('.action')) {
      const kind = el.dataset.kind;
      const n = Number(el.dataset.index);
      if ((kind === 'run' || kind === 'edit') && progress.actions.includes(`${kind}:${n}`)) el.dataset.done = 'true';
      if (kind === 'check') {
        // A pass stays earned; an old failure is stale once the learner moved on.
        const rec = progress.checks[el.dataset.check ?? ''];
        if (rec?.pass) showResult(el, { pass: true, hint: rec.hint });
      }
    }
    prev.disabled = step === 0;
    renderNav();
    renderFinish();
  };

  /** After a run or an edit the lab has changed: a failure shown before no longer holds. */
  const clearFailures = () => {
    for (const box of body.querySelectorAll<HTMLElement>('.action.check[data-pass="false"]')) {
      delete box.dataset.pass;
      const el = box.querySelector<HTMLElement>('.result');
      if (el) { el.replaceChildren(); delete el.dataset.state; }
    }
  };

  const go = (i: number) => {
    if (i < 0 || i >= lab.steps.length) return;
    step = i;
    history.replaceState(null, '', `#/${lab.id}/${i + 1}`);
    say(''); // what the last step's button did belongs to that step
    renderStep();
    body.scrollTop = 0;
    (body.querySelector('h2') as HTMLElement | null)?.setAttribute('tabindex', '-1');
    (body.querySelector('h2') as HTMLElement | null)?.focus();
    void labsApi.progress(lab.id, { step: i }).catch(() => { /* position is a convenience */ });
  };
  prev.addEventListener('click', () => go(step - 1));
  next.addEventListener('click', () => go(step + 1));
  const onKey = (e: KeyboardEvent) => {
    if (!e.altKey) return;
    if (e.key === 'ArrowRight') { e.preventDefault(); go(step + 1); }
    if (e.key === 'ArrowLeft') { e.preventDefault(); go(step - 1); }
  };
  window.addEventListener('keydown', onKey);
  cleanup.push(() => window.removeEventListener('keydown', onKey));

  body.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button') : null;
    const box = btn?.closest<HTMLElement>('.action');
    if (!btn || !box) return;
    const n = Number(box.dataset.index);
    btn.disabled = true;
    try {
      if (btn.classList.contains('do-run')) {
        const cmd = box.querySelector('code')?.textContent ?? '';
        await runInTerminal(box.dataset.terminal || 'main', cmd);
        box.dataset.done = 'true';
        progress.actions = [...progress.actions, `run:${n}`];
        clearFailures();
        say(`sent to the ${box.dataset.terminal || 'main'} terminal`, 'ok');
        void labsApi.progress(lab.id, { action: `run:${n}` }).catch(() => {});
        term?.focus();
      } else if (btn.classList.contains('do-preview')) {
        const r = await labsApi.preview(lab.id, n);
        showDiff(box, r.diff, r.changed ? `The change to ${r.file}:` : `${r.file} already has these settings.`);
      } else if (btn.classList.contains('do-apply')) {
        const r = await labsApi.apply(lab.id, n);
        showDiff(box, r.diff, r.changed ? `Applied to ${r.file}:` : `${r.file} already had these settings; nothing to change.`);
        box.dataset.done = 'true';
        clearFailures();
        progress.actions = [...progress.actions, `edit:${n}`];
        say(`${r.file} ${r.changed ? 'changed' : 'unchanged'}`, 'ok');
      } else if (btn.classList.contains('do-check')) {
        const id = box.dataset.check ?? '';
        showResult(box, null);
        const r = await labsApi.check(lab.id, id);
        const prevPass = progress.checks[id]?.pass ?? false;
        progress.checks = { ...progress.checks, [id]: { check: id, pass: r.pass || prevPass, hint: r.hint, at: Date.now() } };
        showResult(box, r);
        renderNav();
        renderFinish();
        void refreshStart();
      }
    } catch (err) {
      say((err as Error).message, 'error');
      if (btn.classList.contains('do-check')) showResult(box, { pass: false, hint: (err as Error).message });
    } finally {
      btn.disabled = false;
    }
  });

  resetBtn.addEventListener('click', async () => {
    if (!confirm(`Reset "${lab.title}"? This stops the lab environment, brings it back to the lab's starting state (${lab.topology}${lab.start === 'down' ? ', stopped' : ''}) and clears this lab's progress.`)) return;
    resetBtn.disabled = true;
    try {
      let st = await labsApi.reset(lab.id);
      say(`Resetting: ${st.message}…`);
      while (st.state === 'running') {
        await new Promise((r) => setTimeout(r, 1000));
        st = await labsApi.resetState(lab.id);
        const secs = st.startedAt ? Math.round((Date.now() - st.startedAt) / 1000) : 0;
        if (st.state === 'running') say(`Resetting: ${st.message}… ${secs} s`);
      }
      say(st.message, st.state === 'failed' ? 'error' : 'ok');
      if (st.state === 'done') {
        // Stopping a lab ends the shells of its home too: attach to a fresh one.
        if (term?.state === 'exited' || term?.state === 'failed') mountTerm();
        const fresh = await labsApi.get(lab.id);
        Object.assign(progress, fresh.state);
        startDismissed = false;
        go(0);
        say(st.message, 'ok');
        void refreshStart();
      }
    } catch (err) {
      say((err as Error).message, 'error');
    } finally {
      resetBtn.disabled = false;
    }
  });

  renderStep();
  void refreshStart();
  if (wantStep === null && step > 0) history.replaceState(null, '', `#/${lab.id}/${step + 1}`);
}

/**
 * Inline code in the prose (addresses, paths) may wrap after a slash, as a
 * reader expects of a path, instead of running out of a narrow text column.
 * A <wbr> is not copied with the text, so a copied address stays whole.
 */
function allowBreaksAfterSlashes(root: HTMLElement): void {
  for (const code of root.querySelectorAll<HTMLElement>('code')) {
    if (code.closest('pre') || !code.textContent?.includes('/')) continue;
    const parts = code.textContent.split(/(?<=\/)/);
    code.replaceChildren(...parts.flatMap((p, i) => (i < parts.length - 1 ? [p, document.createElement('wbr')] : [p])));
  }
}

function showDiff(box: HTMLElement, diff: DiffLine[], caption: string): void {
  const el = box.querySelector<HTMLElement>('.diff');
  if (!el) return;
  el.hidden = false;
  el.replaceChildren(h('div', { class: 'wb-diff-caption' }, caption),
    h('pre', { class: 'wb-diff' }, ...diff.map((l) => h('div', { class: 'wb-diff-line', 'data-op': l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx' }, `${l.op} ${l.text}`))));
}

function showResult(box: HTMLElement, r: CheckResult | null): void {
  const el = box.querySelector<HTMLElement>('.result');
  if (!el) return;
  if (!r) { el.dataset.state = 'running'; el.textContent = 'Checking the lab…'; return; }
  el.dataset.state = r.pass ? 'pass' : 'fail';
  box.dataset.pass = String(r.pass);
  el.replaceChildren(h('strong', {}, r.pass ? '✓ Passed. ' : '✗ Not yet. '), r.hint);
  if (r.data?.chart) el.append(measureChart(r.data.chart));
}

/** Lab 7: the measured numbers side by side, with the machine they came from. */
function measureChart(c: MeasureChart): HTMLElement {
  const rows = c.measurements;
  const maxLat = Math.max(1, ...rows.map((m) => m.latencyMs.p95));
  const maxTput = Math.max(1, ...rows.map((m) => m.callsPerS));
  const bar = (v: number, max: number, cls: string, label: string) =>
    h('div', { class: 'wb-bar-row' }, h('span', { class: 'wb-bar-label' }, label),
      h('span', { class: `wb-bar ${cls}`, style: `width:${Math.max(2, (100 * v) / max)}%` }), h('span', { class: 'wb-bar-value' }, String(v)));
  return h('figure', { class: 'wb-chart' },
    h('figcaption', {}, `RPC calls measured in this lab, on ${c.machine}`),
    h('div', { class: 'wb-chart-group' }, h('div', { class: 'wb-chart-title' }, 'round trip, ms (p50 / p95)'),
      ...rows.flatMap((m) => [bar(m.latencyMs.p50, maxLat, `wb-${m.transport}`, `${m.transport} p50`), bar(m.latencyMs.p95, maxLat, `wb-${m.transport}`, `${m.transport} p95`)])),
    h('div', { class: 'wb-chart-group' }, h('div', { class: 'wb-chart-title' }, 'throughput, calls/s'),
      ...rows.map((m) => bar(m.callsPerS, maxTput, `wb-${m.transport}`, m.transport))),
    h('div', { class: 'hm-muted wb-chart-note' }, rows.map((m) => `${m.transport}: ${m.calls} calls over ${m.windowS} s, ${m.failed} failed`).join(' · ')));
}

window.addEventListener('hashchange', route);
route();
// In a workshop seat: the seat's name and the "Ask for help" button.
void mountSeatBar();
