// The labs service: what the workbook can do with the labs, without HTTP.
// Lists labs and their steps, runs checks against the learner's real
// environment, previews and applies edits to the lab's config files, keeps
// progress in SQLite, and resets the environment to a lab's starting state.
// Errors the learner can act on are HttpErrors (status, sentence, field);
// anything else is a defect the lab server answers 500 and logs.
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  CheckResult, EditResult, LabDetail, LabProgress, LabStartState, LabSummary, ResetState, StepAction, Topology,
} from '../../common/wire.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import { DEFAULT_BASE_PORT, LabError } from '../backends/index.js';
import { HttpError } from '../http/errors.js';
import { CHECKS, CheckFailure, createCheckContext, type CheckDef } from './checks/index.js';
import { loadLabs } from './catalog.js';
import type { LabAction, LabFile } from './format.js';
import { applySettings, lineDiff } from './ini-edit.js';
import { ProgressStore } from './progress.js';
import { startState, topologyMismatch, upBeforeBegun } from './start-state.js';

/** What reset needs from the lab server's runtime, when one is there (progress events, one operation at a time). */
export interface LabOperations {
  up(topology: Topology): Promise<unknown>;
  down(): Promise<void>;
}

export interface LabsServiceOptions {
  /** The learner's lab environment. */
  lab: LabEnvironmentApi;
  /** The lab home the checks read (events, logs). */
  home: string;
  /** SQLite file of the progress. */
  database: string;
  /** Where lab folders are, and the root their file names are shown from. */
  labsDir: string;
  labsRoot?: string;
  /** The lab server's runtime; reset goes through it so the UI sees progress. Default: the environment itself. */
  runtime?: LabOperations;
  /** Port block for a lab never brought up before. */
  basePort?: number;
  /** The checks lab files may name; default: every check of the project. */
  checks?: ReadonlyMap<string, CheckDef>;
}

type CheckAction = Extract<LabAction, { kind: 'check' }>;
type EditAction = Extract<LabAction, { kind: 'edit' }>;

/**
 * A defect in the server's own code (a check that reads a field of undefined,
 * a bad index), as opposed to the learner's environment being unreadable:
 * a defect is not something a hint can help the learner with.
 */
export function isProgrammingError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof EvalError || err instanceof URIError;
}

/** Fill the ${...} the server knows; leave the others as written. */
const fillKnown = (text: string, values: Record<string, string>) => text.replace(/\$\{([a-z-]+)\}/g, (m, k: string) => values[k] ?? m);

export class LabsService {
  readonly labs: readonly LabFile[];
  private readonly byId: Map<string, LabFile>;
  private readonly env: LabEnvironmentApi;
  private readonly ops: LabOperations;
  private readonly checks: ReadonlyMap<string, CheckDef>;
  private readonly store: ProgressStore;
  // What checks remember between calls (a count before a crash, a measurement), per lab: a reset forgets only its own lab's.
  private readonly memories = new Map<string, Map<string, unknown>>();
  private resetState: ResetState = { lab: null, state: 'idle', message: '', startedAt: null, finishedAt: null };
  private resetRun: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LabsServiceOptions) {
    const { labs, errors } = loadLabs(opts.labsDir, opts.labsRoot ?? opts.labsDir);
    if (errors.length) throw new Error(`invalid lab files:\n${errors.map((e) => '  ' + e.message).join('\n')}`);
    this.labs = labs;
    this.byId = new Map(labs.map((l) => [l.id, l]));
    this.env = opts.lab;
    this.checks = opts.checks ?? CHECKS;
    this.ops = opts.runtime ?? {
      up: (topology) => this.env.up({ topology, basePort: this.env.ports()?.base ?? opts.basePort }),
      down: () => this.env.down(),
    };
    this.store = new ProgressStore(opts.database);
  }

  close(): void { this.store.close(); }

  // ---- reading ------------------------------------------------------------------------

  lab(id: string): LabFile {
    const lab = this.byId.get(id);
    if (!lab) throw new HttpError(404, `no lab "${id}": GET /api/labs lists them (${[...this.byId.keys()].join(', ')})`, 'lab');
    return lab;
  }

  list(who: string): LabSummary[] {
    return this.labs.map((l) => this.summary(l, who));
  }

  /** The lab's page for this learner; opening a lab begins it. */
  open(who: string, id: string): LabDetail {
    const lab = this.lab(id);
    this.store.begin(who, lab.id);
    const values = this.runValues();
    return {
      ...this.summary(lab, who),
      introHtml: lab.introHtml,
      steps: lab.steps.map((s) => ({
        index: s.index,
        title: s.title,
        // Run commands and edit blocks show this learner's own ports once the lab has them.
        html: s.html
          .replace(/<div class="action run"[\s\S]*?<\/div><\/div>/g, (block) => fillKnown(block, values))
          .replace(/<div class="action edit"[\s\S]*?<div class="diff"/g, (block) => fillKnown(block, values)),
        actions: s.actions.map((a): StepAction => (
          a.kind === 'run' ? { kind: a.kind, index: a.index, terminal: a.terminal, command: fillKnown(a.command, values) }
            : a.kind === 'edit' ? { kind: a.kind, index: a.index, file: a.file }
            : { kind: a.kind, index: a.index, id: a.id, description: a.description })),
      })),
      state: this.store.get(who, lab.id),
    };
  }

  /** How the running environment differs from where the lab starts. */
  async startState(id: string): Promise<LabStartState> {
    const lab = this.lab(id);
    const values = this.env.ports() ? this.placeholders() : {};
    return startState(lab, this.env, (v) => fillKnown(v, values));
  }

  progress(who: string, id: string): LabProgress {
    return this.store.get(who, this.lab(id).id);
  }

  // ---- checks -------------------------------------------------------------------------

  /**
   * Run one check of a lab against the environment and record its result. The
   * learner's state (a backend down, a setting missing) is a failed check with
   * a hint; an unreadable lab (LabError) and a defect of the check propagate.
   */
  async check(who: string, id: string, checkId: string): Promise<CheckResult> {
    const lab = this.lab(id);
    const inLab = lab.actions.some((a) => a.kind === 'check' && a.id === checkId);
    const def = this.checks.get(checkId);
    if (!inLab || !def) {
      const ids = lab.actions.filter((a): a is CheckAction => a.kind === 'check').map((a) => a.id).join(', ');
      throw new HttpError(404, `lab "${lab.id}" has no check "${checkId}"; its checks: ${ids}`, 'check');
    }
    let result: CheckResult;
    try {
      // Another lab's environment is not this lab's work: no check passes on it.
      const st = await this.env.status();
      const mismatch = topologyMismatch(lab, st) ?? upBeforeBegun(lab, st, this.store.begunAt(who, lab.id));
      result = mismatch ? { pass: false, hint: mismatch } : await def.run(createCheckContext(this.opts.home, this.env, this.memoryOf(lab.id)));
    } catch (err) {
      if (err instanceof LabError || isProgrammingError(err)) throw err;
      // A missing backend is the learner's state, reported as a failed check with the way out.
      result = { pass: false, hint: err instanceof CheckFailure ? err.message : `The check could not read the lab: ${(err as Error)?.message ?? String(err)}` };
    }
    this.store.recordCheck(who, lab.id, checkId, result.pass, result.hint);
    return result;
  }

  // ---- edits --------------------------------------------------------------------------

  async previewEdit(id: string, n: number): Promise<EditResult> {
    const p = await this.planEdit(this.lab(id), n);
    return { file: p.file, changed: p.changed, diff: p.diff };
  }

  async applyEdit(who: string, id: string, n: number): Promise<EditResult> {
    const lab = this.lab(id);
    const p = await this.planEdit(lab, n);
    if (p.changed) await writeFile(p.path, p.after);
    this.store.recordAction(who, lab.id, `edit:${n}`);
    return { file: p.file, changed: p.changed, diff: p.diff };
  }

  // ---- progress -----------------------------------------------------------------------

  setProgress(who: string, id: string, change: { step?: number; action?: string }): LabProgress {
    const lab = this.lab(id);
    if (change.step !== undefined) {
      if (change.step >= lab.steps.length) throw new HttpError(400, `"step": lab "${lab.id}" has steps 0 to ${lab.steps.length - 1}`, 'step');
      this.store.setStep(who, lab.id, change.step);
    }
    if (change.action) this.store.recordAction(who, lab.id, change.action);
    return this.store.get(who, lab.id);
  }

  // ---- reset --------------------------------------------------------------------------

  /** The last (or running) reset; asking through a lab id checks the id. */
  reset(id?: string): ResetState {
    if (id !== undefined) this.lab(id);
    return this.resetState;
  }

  /** Starts a reset of the lab to its starting state and answers at once; `reset()` follows it, `resetDone()` awaits it. */
  startReset(who: string, id: string): ResetState {
    const lab = this.lab(id);
    if (this.resetState.state === 'running') {
      throw new HttpError(409, `a reset of "${this.resetState.lab}" is already running: wait for it (GET /api/labs/${this.resetState.lab}/reset)`);
    }
    this.resetState = { lab: lab.id, state: 'running', message: 'stopping the lab environment', startedAt: Date.now(), finishedAt: null };
    this.resetRun = this.runReset(who, lab).then(
      (message) => this.finishReset('done', message),
      (err: unknown) => this.finishReset('failed', `reset failed: ${(err as Error)?.message ?? String(err)}`),
    );
    return this.resetState;
  }

  /** Resolves when the reset started last has finished (done or failed). */
  resetDone(): Promise<ResetState> {
    return this.resetRun.then(() => this.resetState);
  }

  private say(message: string): void { this.resetState = { ...this.resetState, message }; }

  private finishReset(state: 'done' | 'failed', message: string): void {
    this.resetState = { ...this.resetState, state, message, finishedAt: Date.now() };
  }

  /** The reset itself; resolves with the sentence that ends it. */
  private async runReset(who: string, lab: LabFile): Promise<string> {
    const st = await this.env.status();
    if (st.components.some((c) => c.state !== 'stopped')) await this.ops.down();
    // The lab's starting state includes its config: regenerate it.
    this.say('removing edited configuration');
    const etc = this.env.paths.etc;
    if (existsSync(etc)) for (const f of await readdir(etc)) if (/\.(conf|json)$/.test(f)) await rm(join(etc, f), { force: true });
    this.memories.delete(lab.id);
    this.store.reset(who, lab.id);
    this.store.begin(who, lab.id); // a reset begins the lab afresh
    if (lab.meta.start !== 'up') return `the lab is down and its configuration removed: start with step 1 (it brings the ${lab.meta.topology} lab up)`;
    this.say(`bringing up the ${lab.meta.topology} lab`);
    await this.ops.up(lab.meta.topology);
    const setup = lab.meta.setup;
    const edits = Object.entries(setup?.edit ?? {}).flatMap(([section, keys]) => Object.entries(keys).map(([key, value]) => ({ section, key, value })));
    if (edits.length) {
      this.say('preparing etc/openstack.conf and restarting the services');
      const values = this.placeholders();
      const text = await readFile(this.env.paths.openstackConf, 'utf8');
      await writeFile(this.env.paths.openstackConf, applySettings(text, edits.map((e) => ({ ...e, value: this.fill(lab, e.value, values) }))));
      await this.env.restart('services');
    }
    for (const name of setup?.stop ?? []) {
      this.say(`stopping ${name}`);
      await this.env.stop(name);
    }
    return `the lab is ready (${lab.meta.topology}${setup?.stop?.length ? `, ${setup.stop.join(', ')} stopped` : ''}): start with step 1`;
  }

  // ---- helpers ------------------------------------------------------------------------

  private memoryOf(labId: string): Map<string, unknown> {
    let m = this.memories.get(labId);
    if (!m) this.memories.set(labId, (m = new Map()));
    return m;
  }

  private summary(lab: LabFile, who: string): LabSummary {
    const p = this.store.get(who, lab.id);
    const checks = lab.actions.filter((a): a is CheckAction => a.kind === 'check');
    return {
      id: lab.id,
      title: lab.meta.title,
      minutes: lab.meta.minutes,
      topology: lab.meta.topology,
      start: lab.meta.start,
      summary: lab.meta.summary,
      steps: lab.steps.map((s) => ({ index: s.index, title: s.title, checks: s.actions.filter((a): a is CheckAction => a.kind === 'check').map((a) => a.id) })),
      checks: checks.map((c) => ({ id: c.id, step: c.step, title: this.checks.get(c.id)?.title ?? c.id, description: c.description })),
      progress: { step: p.step, passed: checks.filter((c) => p.checks[c.id]?.pass).length, total: checks.length, updatedAt: p.updatedAt },
    };
  }

  /** What a run command may name before the lab has ports: its port block. */
  private runValues(): Record<string, string> {
    const plan = this.env.ports();
    const out: Record<string, string> = { 'base-port': String(plan?.base ?? this.opts.basePort ?? DEFAULT_BASE_PORT) };
    if (plan) Object.assign(out, this.placeholders());
    return out;
  }

  /** ${broker}, ${router-a}...: this learner's own endpoints. */
  private placeholders(): Record<string, string> {
    const plan = this.env.ports();
    if (!plan) throw new HttpError(409, 'the lab environment has no ports yet: bring it up first (Reset, or "hmlab up" in the terminal)');
    const out: Record<string, string> = {
      broker: `127.0.0.1:${plan.brokerAmqp}`,
      'broker-management': `127.0.0.1:${plan.brokerManagement}`,
    };
    for (const [name, p] of Object.entries(plan.routers)) out[name] = `127.0.0.1:${p.normal}`;
    return out;
  }

  private fill(lab: LabFile, value: string, values: Record<string, string>): string {
    return value.replace(/\$\{([^}]+)\}/g, (_m, k: string) => {
      const v = values[k];
      if (!v) throw new HttpError(409, `this lab has no ${k} (topology ${lab.meta.topology}); Reset the lab to its starting state`);
      return v;
    });
  }

  private editOf(lab: LabFile, n: number): EditAction {
    const e = lab.actions.find((a): a is EditAction => a.kind === 'edit' && a.index === n);
    if (!e) throw new HttpError(404, `lab "${lab.id}" has no edit number ${n} (it has ${lab.actions.filter((a) => a.kind === 'edit').length})`, 'edit');
    return e;
  }

  private async planEdit(lab: LabFile, n: number) {
    const e = this.editOf(lab, n);
    const values = this.placeholders();
    const settings = e.settings.map((s) => ({ ...s, value: this.fill(lab, s.value, values) }));
    const path = join(this.env.paths.home, e.file);
    let before = '';
    try { before = await readFile(path, 'utf8'); } catch {
      if (e.file === 'etc/openstack.conf') throw new HttpError(409, 'etc/openstack.conf does not exist yet: bring the lab up first (Reset, or "hmlab up")');
    }
    const after = applySettings(before, settings);
    return { path, file: e.file, before, after, changed: before !== after, diff: lineDiff(before, after) };
  }
}
