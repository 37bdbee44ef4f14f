// A lab page of the workbook: the text of the lab step by step beside a
// live terminal and the flow view. Buttons in the text run commands in the
// terminal, preview and apply edits, and run checks on the server; progress
// lives on the server, so a reload picks up where it was.
//
// One owner (LabPage) keeps the lab, the step and the progress; its parts
// (the start notice, the terminal, the flow view) ask it or are told.
import { h } from '../../widgets/common/index.js';
import { Disposable, listen } from '../../widgets/common/disposable.js';
import { runInTerminal } from '../../widgets/terminal/index.js';
import { labsApi, type CheckResult, type DiffLine, type LabDetail, type LabProgress, type LabStartState, type LabSummary, type MeasureChart } from './api.js';
import { fail, LabFlow, LabTerminal } from './lab-live.js';

/** Show lab `id` at step `wantStep` (0-based; null: where the learner left it). */
export async function showLab(app: HTMLElement, id: string, wantStep: number | null): Promise<Disposable | null> {
  let lab: LabDetail;
  try { lab = await labsApi.get(id); } catch (err) { fail(app, err); return null; }
  return new LabPage(app, lab, wantStep);
}

/**
 * Says prominently when what runs is not where this lab starts, with Reset
 * at hand; the learner may dismiss it until the next reset.
 */
class StartNotice {
  readonly element = h('div', { class: 'wb-start', role: 'alert', hidden: true });
  private dismissed = false;

  /** started: whether the learner did anything in this lab yet. reset: press the page's Reset button. */
  constructor(private readonly lab: LabDetail, private readonly started: () => boolean, private readonly reset: () => void) {}

  /** After a reset: say it again if it still holds. */
  rearm(): void { this.dismissed = false; }

  async refresh(): Promise<void> {
    const { lab, element: box } = this;
    let s: LabStartState;
    try { s = await labsApi.start(lab.id); } catch { return; } // the checks report an unreachable lab
    const show = !this.dismissed && (s.topologyDiffers || (!this.started() && !s.atStart));
    box.hidden = !show;
    box.dataset.checked = String(Date.now()); // for readers waiting on the comparison
    if (!show) { box.replaceChildren(); return; }
    const resetHere = h('button', { type: 'button', class: 'hm-btn hm-danger' }, 'Reset lab');
    resetHere.addEventListener('click', () => this.reset());
    const keep = h('button', { type: 'button', class: 'hm-btn' }, s.topologyDiffers ? 'Dismiss' : 'Keep this state');
    keep.addEventListener('click', () => { this.dismissed = true; box.hidden = true; });
    // Another topology under a lab that starts up: the title says it all; otherwise list what differs.
    const list = !s.topologyDiffers || lab.start === 'down';
    box.replaceChildren(
      h('strong', { class: 'wb-start-title' }, s.topologyDiffers
        ? `Not this lab's environment: ${s.running ? `the ${s.running} lab runs` : 'nothing runs'}, this lab works on ${lab.topology}.`
        : 'What runs now is not where this lab starts:'),
      ...(list ? [h('ul', {}, ...s.differences.map((d) => h('li', {}, d)))] : []),
      h('p', {}, s.topologyDiffers
        ? 'No check of this lab can pass on it.'
        : 'The steps assume the starting point.'),
      h('div', { class: 'wb-start-buttons' }, resetHere, keep, h('span', { class: 'hm-muted' }, 'Reset also clears this lab\'s progress.')));
  }
}

class LabPage extends Disposable {
  private step: number;
  private readonly progress: LabProgress;
  private readonly checkIds: string[];
  /** The lab after this one, for the last step's link (the list is the catalogue's order). */
  private nextLab: LabSummary | null | undefined;
  private readonly status = h('div', { class: 'wb-status', role: 'status', 'aria-live': 'polite' });
  private readonly resetBtn: HTMLButtonElement;
  private readonly stepNav = h('nav', { class: 'wb-steps', 'aria-label': 'Steps' });
  private readonly body = h('article', { class: 'wb-text' });
  private readonly prev = h('button', { type: 'button', class: 'hm-btn', title: 'Previous step (Alt+←)' }, '← Previous');
  private readonly next = h('button', { type: 'button', class: 'hm-btn hm-primary', title: 'Next step (Alt+→)' }, 'Next →');
  private readonly finish = h('div', { class: 'wb-finish', hidden: true });
  private readonly start: StartNotice;
  private readonly terminal: LabTerminal;

  constructor(app: HTMLElement, private readonly lab: LabDetail, wantStep: number | null) {
    super();
    document.title = `${lab.title} · Lab workbook`;
    this.step = Math.min(Math.max(wantStep ?? lab.state.step, 0), lab.steps.length - 1);
    this.progress = { ...lab.state };
    this.checkIds = lab.steps.flatMap((s) => (s.actions.filter((a) => a.kind === 'check') as { id: string }[]).map((c) => c.id));
    this.resetBtn = h('button', {
      type: 'button', class: 'hm-btn hm-danger',
      title: `Stop the lab environment and bring it back to this lab's starting state (${lab.topology}); clears this lab's progress`,
    }, 'Reset lab');
    const started = () => this.progress.actions.length > 0 || Object.keys(this.progress.checks).length > 0;
    this.start = new StartNotice(lab, started, () => this.resetBtn.click());
    const termEl = h('div', { class: 'wb-terminal' });
    const flowEl = h('div', { class: 'wb-flow' });
    const labEl = h('div', { class: 'wb-lab' },
      h('section', { class: 'wb-text-col', 'aria-label': 'Lab text' },
        this.start.element, this.stepNav, this.body, h('div', { class: 'wb-pager' }, this.prev, this.finish, this.next)),
      h('section', { class: 'wb-side', 'aria-label': 'Terminal and message flow' }, termEl, flowEl));
    app.replaceChildren(
      h('header', { class: 'wb-top' },
        h('a', { href: '#/', class: 'wb-home', title: 'All labs' }, '← Labs'),
        h('h1', {}, lab.title),
        h('span', { class: 'wb-meta hm-muted' }, `${lab.minutes} min · starts from ${lab.topology}`),
        h('span', { class: 'wb-spacer' }),
        this.status, this.resetBtn),
      labEl);

    // Live parts: one terminal ("main"), the flow view of this lab server.
    this.terminal = this.register(new LabTerminal(termEl, labEl));
    this.register(new LabFlow(flowEl));

    void labsApi.list().then((all) => {
      this.nextLab = all[all.findIndex((l) => l.id === lab.id) + 1] ?? null;
      this.renderFinish();
    }).catch(() => { this.nextLab = null; });

    this.prev.addEventListener('click', () => this.go(this.step - 1));
    this.next.addEventListener('click', () => this.go(this.step + 1));
    this.register(listen(window, 'keydown', (e) => {
      if (!e.altKey) return;
      if (e.key === 'ArrowRight') { e.preventDefault(); this.go(this.step + 1); }
      if (e.key === 'ArrowLeft') { e.preventDefault(); this.go(this.step - 1); }
    }));
    this.body.addEventListener('click', (ev) => void this.onAction(ev));
    this.resetBtn.addEventListener('click', () => void this.reset());

    this.renderStep();
    void this.start.refresh();
    if (wantStep === null && this.step > 0) history.replaceState(null, '', `#/${lab.id}/${this.step + 1}`);
  }

  private say(text: string, kind: 'info' | 'error' | 'ok' = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** On the last step: whether the lab is complete, and the way on. */
  private renderFinish(): void {
    const { lab, finish, progress, checkIds, nextLab } = this;
    const last = this.step === lab.steps.length - 1;
    this.next.hidden = last;
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
  }

  private renderNav(): void {
    const { progress } = this;
    this.stepNav.replaceChildren(...this.lab.steps.map((s, i) => {
      const checks = s.actions.filter((a) => a.kind === 'check') as { id: string }[];
      const done = checks.length > 0 && checks.every((c) => progress.checks[c.id]?.pass);
      const b = h('button', { type: 'button', class: 'wb-step-tab', 'aria-current': i === this.step ? 'step' : null, 'data-done': done, title: s.title },
        h('span', { class: 'wb-step-num' }, done ? '✓' : String(i + 1)), h('span', { class: 'wb-step-title' }, s.title));
      b.addEventListener('click', () => this.go(i));
      return b;
    }));
  }

  private renderStep(): void {
    const { lab, body, progress, step } = this;
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
    this.prev.disabled = step === 0;
    this.renderNav();
    this.renderFinish();
  }

  /** After a run or an edit the lab has changed: a failure shown before no longer holds. */
  private clearFailures(): void {
    for (const box of this.body.querySelectorAll<HTMLElement>('.action.check[data-pass="false"]')) {
      delete box.dataset.pass;
      const el = box.querySelector<HTMLElement>('.result');
      if (el) { el.replaceChildren(); delete el.dataset.state; }
    }
  }

  private go(i: number): void {
    const { lab, body } = this;
    if (i < 0 || i >= lab.steps.length) return;
    this.step = i;
    history.replaceState(null, '', `#/${lab.id}/${i + 1}`);
    this.say(''); // what the last step's button did belongs to that step
    this.renderStep();
    body.scrollTop = 0;
    (body.querySelector('h2') as HTMLElement | null)?.setAttribute('tabindex', '-1');
    (body.querySelector('h2') as HTMLElement | null)?.focus();
    void labsApi.progress(lab.id, { step: i }).catch(() => { /* position is a convenience */ });
  }

  /** A button in the text: run a command, preview or apply an edit, run a check. */
  private async onAction(ev: MouseEvent): Promise<void> {
    const { lab, progress } = this;
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
        this.clearFailures();
        this.say(`sent to the ${box.dataset.terminal || 'main'} terminal`, 'ok');
        void labsApi.progress(lab.id, { action: `run:${n}` }).catch(() => {});
        this.terminal.focus();
      } else if (btn.classList.contains('do-preview')) {
        const r = await labsApi.preview(lab.id, n);
        showDiff(box, r.diff, r.changed ? `The change to ${r.file}:` : `${r.file} already has these settings.`);
      } else if (btn.classList.contains('do-apply')) {
        const r = await labsApi.apply(lab.id, n);
        showDiff(box, r.diff, r.changed ? `Applied to ${r.file}:` : `${r.file} already had these settings; nothing to change.`);
        box.dataset.done = 'true';
        this.clearFailures();
        progress.actions = [...progress.actions, `edit:${n}`];
        this.say(`${r.file} ${r.changed ? 'changed' : 'unchanged'}`, 'ok');
      } else if (btn.classList.contains('do-check')) {
        const id = box.dataset.check ?? '';
        showResult(box, null);
        const r = await labsApi.check(lab.id, id);
        const prevPass = progress.checks[id]?.pass ?? false;
        progress.checks = { ...progress.checks, [id]: { check: id, pass: r.pass || prevPass, hint: r.hint, at: Date.now() } };
        showResult(box, r);
        this.renderNav();
        this.renderFinish();
        void this.start.refresh();
      }
    } catch (err) {
      this.say((err as Error).message, 'error');
      if (btn.classList.contains('do-check')) showResult(box, { pass: false, hint: (err as Error).message });
    } finally {
      btn.disabled = false;
    }
  }

  private async reset(): Promise<void> {
    const { lab, resetBtn } = this;
    const ask = `Reset "${lab.title}"? This stops the lab environment, brings it back to the lab's starting state`
      + ` (${lab.topology}${lab.start === 'down' ? ', stopped' : ''}) and clears this lab's progress.`;
    if (!confirm(ask)) return;
    resetBtn.disabled = true;
    try {
      let st = await labsApi.reset(lab.id);
      this.say(`Resetting: ${st.message}…`);
      while (st.state === 'running') {
        await new Promise((r) => setTimeout(r, 1000));
        st = await labsApi.resetState(lab.id);
        const secs = st.startedAt ? Math.round((Date.now() - st.startedAt) / 1000) : 0;
        if (st.state === 'running') this.say(`Resetting: ${st.message}… ${secs} s`);
      }
      this.say(st.message, st.state === 'failed' ? 'error' : 'ok');
      if (st.state === 'done') {
        // Stopping a lab ends the shells of its home too: attach to a fresh one.
        if (this.terminal.state === 'exited' || this.terminal.state === 'failed') this.terminal.mount();
        const fresh = await labsApi.get(lab.id);
        Object.assign(this.progress, fresh.state);
        this.start.rearm();
        this.go(0);
        this.say(st.message, 'ok');
        void this.start.refresh();
      }
    } catch (err) {
      this.say((err as Error).message, 'error');
    } finally {
      resetBtn.disabled = false;
    }
  }
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
    h('pre', { class: 'wb-diff' }, ...diff.map((l) =>
      h('div', { class: 'wb-diff-line', 'data-op': l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx' }, `${l.op} ${l.text}`))));
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
      ...rows.flatMap((m) => [
        bar(m.latencyMs.p50, maxLat, `wb-${m.transport}`, `${m.transport} p50`),
        bar(m.latencyMs.p95, maxLat, `wb-${m.transport}`, `${m.transport} p95`),
      ])),
    h('div', { class: 'wb-chart-group' }, h('div', { class: 'wb-chart-title' }, 'throughput, calls/s'),
      ...rows.map((m) => bar(m.callsPerS, maxTput, `wb-${m.transport}`, m.transport))),
    h('div', { class: 'hm-muted wb-chart-note' }, rows.map((m) => `${m.transport}: ${m.calls} calls over ${m.windowS} s, ${m.failed} failed`).join(' · ')));
}

