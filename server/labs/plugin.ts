// The labs plugin: the workbook's HTTP API. Lists labs and their steps,
// runs checks against the learner's real environment, previews and applies
// edits to the lab's config files, keeps progress in SQLite, and resets the
// environment to a lab's starting state.
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Topology } from '../../common/wire.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import { DEFAULT_BASE_PORT, openLab } from '../backends/index.js';
import type { ServerContext, ServerPlugin } from '../http/context.js';
import { HttpError, parseBody } from '../http/errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { CHECKS, CheckFailure, createCheckContext } from './checks/index.js';
import { loadLabs } from './catalog.js';
import type { LabAction, LabFile } from './format.js';
import { applySettings, lineDiff } from './ini-edit.js';
import { ProgressStore } from './progress.js';
import { startState, topologyMismatch, upBeforeBegun } from './start-state.js';
import type { ResetState } from '../../common/wire.js';

/** What reset needs from the lab server's runtime, when one is there (progress events, one operation at a time). */
export interface LabOperations {
  up(topology: Topology): Promise<unknown>;
  down(): Promise<void>;
}

export interface LabsPluginOptions {
  /** The learner's lab environment; default: the lab in the server's home. */
  lab?: LabEnvironmentApi;
  /** The lab server's runtime; reset goes through it so the UI sees progress. Default: the environment itself. */
  runtime?: LabOperations;
  /** Where lab folders are; default: labs/ of the package. */
  labsDir?: string;
  /** Port block for a lab never brought up before. */
  basePort?: number;
  /** SQLite file; default: <home>/server/labs.sqlite */
  database?: string;
}

export type { ResetState };

export const progressBody = z.strictObject({
  step: z.number({ error: 'must be the step index, a whole number from 0' }).int().min(0).max(100).optional(),
  action: z.string().regex(/^(run|edit):\d{1,3}$/, { error: 'must look like "run:0" or "edit:1"' }).optional(),
}, { error: 'unknown field: allowed are "step" and "action"' });
export const emptyBody = z.strictObject({}, { error: 'this request takes no body fields' });

const wrap = (fn: (req: Request, res: Response) => Promise<void> | void) => (req: Request, res: Response, next: NextFunction) => {
  Promise.resolve().then(() => fn(req, res)).catch(next);
};

export function labsPlugin(opts: LabsPluginOptions): ServerPlugin {
  let store: ProgressStore | null = null;
  // What checks remember between calls (a count before a crash, a measurement), per lab: a reset forgets only its own lab's.
  const memories = new Map<string, Map<string, unknown>>();
  const memoryOf = (labId: string) => { let m = memories.get(labId); if (!m) memories.set(labId, (m = new Map())); return m; };
  let reset: ResetState = { lab: null, state: 'idle', message: '', startedAt: null, finishedAt: null };
  const { labs, errors } = loadLabs(opts.labsDir ?? join(PACKAGE_ROOT, 'labs'), opts.labsDir ? undefined : PACKAGE_ROOT);
  if (errors.length) throw new Error(`invalid lab files:\n${errors.map((e) => '  ' + e.message).join('\n')}`);
  const byId = new Map(labs.map((l) => [l.id, l]));
  // The environment of the server's home unless one is given; set in activate().
  let env: LabEnvironmentApi = opts.lab as LabEnvironmentApi;
  const ops: LabOperations = opts.runtime ?? {
    up: (topology) => env.up({ topology, basePort: env.ports()?.base ?? opts.basePort }),
    down: () => env.down(),
  };

  const learner = (_req: Request) => 'owner'; // workshop seats will name theirs
  const labOf = (req: Request): LabFile => {
    const id = String(req.params.lab);
    const lab = byId.get(id);
    if (!lab) throw new HttpError(404, `no lab "${id}": GET /api/labs lists them (${[...byId.keys()].join(', ')})`, 'lab');
    return lab;
  };
  const summary = (lab: LabFile, who: string) => {
    const p = store!.get(who, lab.id);
    const checks = lab.actions.filter((a): a is Extract<LabAction, { kind: 'check' }> => a.kind === 'check');
    return {
      id: lab.id,
      title: lab.meta.title,
      minutes: lab.meta.minutes,
      topology: lab.meta.topology,
      start: lab.meta.start,
      summary: lab.meta.summary,
      steps: lab.steps.map((s) => ({ index: s.index, title: s.title, checks: s.actions.filter((a) => a.kind === 'check').map((a) => (a as { id: string }).id) })),
      checks: checks.map((c) => ({ id: c.id, step: c.step, title: CHECKS.get(c.id)?.title ?? c.id, description: c.description })),
      progress: { step: p.step, passed: checks.filter((c) => p.checks[c.id]?.pass).length, total: checks.length, updatedAt: p.updatedAt },
    };
  };

  /** What a run command may name before the lab has ports: its port block. */
  const runValues = (): Record<string, string> => {
    const plan = env.ports();
    const out: Record<string, string> = { 'base-port': String(plan?.base ?? opts.basePort ?? DEFAULT_BASE_PORT) };
    if (plan) Object.assign(out, placeholders());
    return out;
  };
  /** Fill the ${...} the server knows; leave the others as written. */
  const fillKnown = (text: string, values: Record<string, string>) => text.replace(/\$\{([a-z-]+)\}/g, (m, k: string) => values[k] ?? m);

  /** ${broker}, ${router-a}...: this learner's own endpoints. */
  const placeholders = (): Record<string, string> => {
    const plan = env.ports();
    if (!plan) throw new HttpError(409, 'the lab environment has no ports yet: bring it up first (Reset, or "hmlab up" in the terminal)');
    const out: Record<string, string> = {
      broker: `127.0.0.1:${plan.brokerAmqp}`,
      'broker-management': `127.0.0.1:${plan.brokerManagement}`,
    };
    for (const [name, p] of Object.entries(plan.routers)) out[name] = `127.0.0.1:${p.normal}`;
    return out;
  };
  const editOf = (lab: LabFile, n: number) => {
    const e = lab.actions.find((a): a is Extract<LabAction, { kind: 'edit' }> => a.kind === 'edit' && a.index === n);
    if (!e) throw new HttpError(404, `lab "${lab.id}" has no edit number ${n} (it has ${lab.actions.filter((a) => a.kind === 'edit').length})`, 'edit');
    return e;
  };
  const fill = (lab: LabFile, value: string, values: Record<string, string>) => value.replace(/\$\{([^}]+)\}/g, (_m, k: string) => {
    const v = values[k];
    if (!v) throw new HttpError(409, `this lab has no ${k} (topology ${lab.meta.topology}); Reset the lab to its starting state`);
    return v;
  });
  const planEdit = async (lab: LabFile, n: number) => {
    const e = editOf(lab, n);
    const values = placeholders();
    const settings = e.settings.map((s) => ({ ...s, value: fill(lab, s.value, values) }));
    const path = join(env.paths.home, e.file);
    let before = '';
    try { before = await readFile(path, 'utf8'); } catch {
      if (e.file === 'etc/openstack.conf') throw new HttpError(409, 'etc/openstack.conf does not exist yet: bring the lab up first (Reset, or "hmlab up")');
    }
    const after = applySettings(before, settings);
    return { path, file: e.file, before, after, changed: before !== after, diff: lineDiff(before, after) };
  };

  return {
    name: 'labs',
    activate(ctx: ServerContext) {
      env = opts.lab ?? openLab(ctx.home);
      store = new ProgressStore(opts.database ?? join(ctx.home, 'server', 'labs.sqlite'));
      const api = ctx.api;

      api.get('/labs', wrap((req, res) => {
        res.json({ labs: labs.map((l) => summary(l, learner(req))) });
      }));

      api.get('/labs/:lab', wrap((req, res) => {
        const lab = labOf(req);
        store!.begin(learner(req), lab.id); // opening a lab begins it
        const values = runValues();
        res.json({
          ...summary(lab, learner(req)),
          introHtml: lab.introHtml,
          steps: lab.steps.map((s) => ({
            index: s.index,
            title: s.title,
            // Run commands and edit blocks show this learner's own ports once the lab has them.
            html: s.html
              .replace(/<div class="action run"[\s\S]*?<\/div><\/div>/g, (block) => fillKnown(block, values))
              .replace(/<div class="action edit"[\s\S]*?<div class="diff"/g, (block) => fillKnown(block, values)),
            actions: s.actions.map((a) => (a.kind === 'run' ? { kind: a.kind, index: a.index, terminal: a.terminal, command: fillKnown(a.command, values) }
              : a.kind === 'edit' ? { kind: a.kind, index: a.index, file: a.file }
              : { kind: a.kind, index: a.index, id: a.id, description: a.description })),
          })),
          state: store!.get(learner(req), lab.id),
        });
      }));

      api.post('/labs/:lab/checks/:check', wrap(async (req, res) => {
        const lab = labOf(req);
        const id = String(req.params.check);
        const inLab = lab.actions.some((a) => a.kind === 'check' && a.id === id);
        const def = CHECKS.get(id);
        if (!inLab || !def) throw new HttpError(404, `lab "${lab.id}" has no check "${id}"; its checks: ${lab.actions.filter((a) => a.kind === 'check').map((a) => (a as { id: string }).id).join(', ')}`, 'check');
        let result;
        try {
          // Another lab's environment is not this lab's work: no check passes on it.
          const st = await env.status();
          const mismatch = topologyMismatch(lab, st) ?? upBeforeBegun(lab, st, store!.begunAt(learner(req), lab.id));
          result = mismatch ? { pass: false, hint: mismatch } : await def.run(createCheckContext(ctx.home, env, memoryOf(lab.id)));
        } catch (err) {
          // A missing backend is the learner's state, reported as a failed check with the way out.
          result = err instanceof CheckFailure ? { pass: false, hint: err.message } : { pass: false, hint: `The check could not read the lab: ${(err as Error).message}` };
        }
        store!.recordCheck(learner(req), lab.id, id, result.pass, result.hint);
        res.json(result);
      }));

      api.get('/labs/:lab/start', wrap(async (req, res) => {
        const lab = labOf(req);
        const values = env.ports() ? placeholders() : {};
        res.json(await startState(lab, env, (v) => fillKnown(v, values)));
      }));

      api.post('/labs/:lab/edits/:n/preview', wrap(async (req, res) => {
        const lab = labOf(req);
        parseBody(emptyBody, req.body);
        const p = await planEdit(lab, Number(req.params.n));
        res.json({ file: p.file, changed: p.changed, diff: p.diff });
      }));

      api.post('/labs/:lab/edits/:n/apply', wrap(async (req, res) => {
        const lab = labOf(req);
        parseBody(emptyBody, req.body);
        const n = Number(req.params.n);
        const p = await planEdit(lab, n);
        if (p.changed) await writeFile(p.path, p.after);
        store!.recordAction(learner(req), lab.id, `edit:${n}`);
        res.json({ file: p.file, changed: p.changed, diff: p.diff });
      }));

      api.get('/labs/:lab/progress', wrap((req, res) => {
        res.json(store!.get(learner(req), labOf(req).id));
      }));

      api.post('/labs/:lab/progress', wrap((req, res) => {
        const lab = labOf(req);
        const body = parseBody(progressBody, req.body);
        if (body.step !== undefined) {
          if (body.step >= lab.steps.length) throw new HttpError(400, `"step": lab "${lab.id}" has steps 0 to ${lab.steps.length - 1}`, 'step');
          store!.setStep(learner(req), lab.id, body.step);
        }
        if (body.action) store!.recordAction(learner(req), lab.id, body.action);
        res.json(store!.get(learner(req), lab.id));
      }));

      api.get('/labs/:lab/reset', wrap((req, res) => {
        labOf(req);
        res.json(reset);
      }));

      api.post('/labs/:lab/reset', wrap((req, res) => {
        const lab = labOf(req);
        parseBody(emptyBody, req.body);
        if (reset.state === 'running') throw new HttpError(409, `a reset of "${reset.lab}" is already running: wait for it (GET /api/labs/${reset.lab}/reset)`);
        const who = learner(req);
        reset = { lab: lab.id, state: 'running', message: 'stopping the lab environment', startedAt: Date.now(), finishedAt: null };
        const finish = (state: 'done' | 'failed', message: string) => { reset = { ...reset, state, message, finishedAt: Date.now() }; };
        void (async () => {
          try {
            const st = await env.status();
            if (st.components.some((c) => c.state !== 'stopped')) await ops.down();
            // The lab's starting state includes its config: regenerate it.
            reset = { ...reset, message: 'removing edited configuration' };
            const etc = env.paths.etc;
            if (existsSync(etc)) for (const f of await readdir(etc)) if (/\.(conf|json)$/.test(f)) await rm(join(etc, f), { force: true });
            memories.delete(lab.id);
            store!.reset(who, lab.id);
            store!.begin(who, lab.id); // a reset begins the lab afresh
            if (lab.meta.start === 'up') {
              reset = { ...reset, message: `bringing up the ${lab.meta.topology} lab` };
              await ops.up(lab.meta.topology);
              const setup = lab.meta.setup;
              const edits = Object.entries(setup?.edit ?? {}).flatMap(([section, keys]) => Object.entries(keys).map(([key, value]) => ({ section, key, value })));
              if (edits.length) {
                reset = { ...reset, message: 'preparing etc/openstack.conf and restarting the services' };
                const values = placeholders();
                const text = await readFile(env.paths.openstackConf, 'utf8');
                await writeFile(env.paths.openstackConf, applySettings(text, edits.map((e) => ({ ...e, value: fill(lab, e.value, values) }))));
                await env.restart('services');
              }
              for (const name of setup?.stop ?? []) {
                reset = { ...reset, message: `stopping ${name}` };
                await env.stop(name);
              }
              finish('done', `the lab is ready (${lab.meta.topology}${setup?.stop?.length ? `, ${setup.stop.join(', ')} stopped` : ''}): start with step 1`);
            } else {
              finish('done', `the lab is down and its configuration removed: start with step 1 (it brings the ${lab.meta.topology} lab up)`);
            }
          } catch (err) {
            finish('failed', `reset failed: ${(err as Error)?.message ?? String(err)}`);
          }
        })();
        res.status(202).json(reset);
      }));
    },
    dispose() {
      store?.close();
      store = null;
    },
  };
}
