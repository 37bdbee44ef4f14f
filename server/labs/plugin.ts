// The labs plugin: the workbook's HTTP API, thin routes over the labs
// service (service.ts). Each route validates its input at the edge and asks
// the service; errors go to the lab server's one error middleware.
import type { Request } from 'express';
import { join } from 'node:path';
import { z } from 'zod';
import type { ResetState } from '../../common/wire.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import { openLab } from '../backends/index.js';
import type { ServerContext, ServerPlugin } from '../http/context.js';
import { parseBody } from '../http/errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { CheckDef } from './checks/index.js';
import { LabsService, type LabOperations } from './service.js';

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
  /** The checks lab files may name; default: every check of the project. */
  checks?: ReadonlyMap<string, CheckDef>;
}

export type { ResetState, LabOperations };

export const progressBody = z.strictObject({
  step: z.number({ error: 'must be the step index, a whole number from 0' }).int().min(0).max(100).optional(),
  action: z.string().regex(/^(run|edit):\d{1,3}$/, { error: 'must look like "run:0" or "edit:1"' }).optional(),
}, { error: 'unknown field: allowed are "step" and "action"' });
export const emptyBody = z.strictObject({}, { error: 'this request takes no body fields' });

export function labsPlugin(opts: LabsPluginOptions): ServerPlugin {
  let service: LabsService | null = null;
  const learner = (_req: Request) => 'owner'; // workshop seats will name theirs
  const lab = (req: Request) => String(req.params.lab);

  return {
    name: 'labs',
    activate(ctx: ServerContext) {
      const s = service = new LabsService({
        lab: opts.lab ?? openLab(ctx.home),
        home: ctx.home,
        database: opts.database ?? join(ctx.home, 'server', 'labs.sqlite'),
        labsDir: opts.labsDir ?? join(PACKAGE_ROOT, 'labs'),
        labsRoot: opts.labsDir ? undefined : PACKAGE_ROOT,
        runtime: opts.runtime,
        basePort: opts.basePort,
        checks: opts.checks,
      });
      const api = ctx.api;
      api.get('/labs', (req, res) => { res.json({ labs: s.list(learner(req)) }); });
      api.get('/labs/:lab', (req, res) => { res.json(s.open(learner(req), lab(req))); });
      api.post('/labs/:lab/checks/:check', async (req, res) => { res.json(await s.check(learner(req), lab(req), String(req.params.check))); });
      api.get('/labs/:lab/start', async (req, res) => { res.json(await s.startState(lab(req))); });
      api.post('/labs/:lab/edits/:n/preview', async (req, res) => {
        s.lab(lab(req)); // an unknown lab is named before the body is
        parseBody(emptyBody, req.body);
        res.json(await s.previewEdit(lab(req), Number(req.params.n)));
      });
      api.post('/labs/:lab/edits/:n/apply', async (req, res) => {
        s.lab(lab(req));
        parseBody(emptyBody, req.body);
        res.json(await s.applyEdit(learner(req), lab(req), Number(req.params.n)));
      });
      api.get('/labs/:lab/progress', (req, res) => { res.json(s.progress(learner(req), lab(req))); });
      api.post('/labs/:lab/progress', (req, res) => {
        s.lab(lab(req));
        res.json(s.setProgress(learner(req), lab(req), parseBody(progressBody, req.body)));
      });
      api.get('/labs/:lab/reset', (req, res) => { res.json(s.reset(lab(req))); });
      api.post('/labs/:lab/reset', (req, res) => {
        s.lab(lab(req));
        parseBody(emptyBody, req.body);
        res.status(202).json(s.startReset(learner(req), lab(req)));
      });
    },
    dispose() {
      service?.close();
      service = null;
    },
  };
}
