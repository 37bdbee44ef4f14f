// The lab API: the CLI's operations over HTTP, at paths other tools can rely
// on. GET /api/status, POST /api/lab/up|down, POST /api/components/NAME/ACTION,
// POST /api/traffic, recordings. Long operations (up, down) answer 202 at
// once and report through `progress` events on /api/events, ending with a
// progress event of component 'lab' and state 'done' or 'failed'; send
// {"wait": true} to hold the request until the operation has finished.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ComponentStatus, LabEvent, LabStatus, Topology } from '../../common/wire.js';
import { isUp, topologySchema, trafficRateSchema } from '../../common/rules.js';
import { isRecordingName, recordingNameSchema } from '../../common/recording.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import { EventBus, LabObserver, Recorder, RecordingExists, listRecordings, type ManagementConnect, type RecorderOptions } from '../observe/index.js';
import type { ServerContext, ServerPlugin } from './context.js';
import { HttpError, parseBody } from './errors.js';
import { wanChangeSchema } from '../backends/environment.js';
import { PACKAGE_ROOT } from '../paths.js';


export const upBody = z.strictObject({
  topology: topologySchema(),
  trafficRate: trafficRateSchema().optional(),
  wait: z.boolean().optional(),
}, { error: 'unknown field: allowed are "topology", "trafficRate", "wait"' });
export const downBody = z.strictObject({ wait: z.boolean().optional() }, { error: 'unknown field: allowed is "wait"' });
export const trafficBody = z.strictObject({ rate: trafficRateSchema() }, { error: 'unknown field: allowed is "rate"' });
export const recordingBody = z.strictObject({
  action: z.enum(['start', 'stop'], { error: 'must be "start" or "stop"' }),
  name: recordingNameSchema.optional(),
  scenario: z.string().max(300).optional(),
}, { error: 'unknown field: allowed are "action", "name", "scenario"' });
const ACTIONS = ['start', 'stop', 'kill', 'restart'] as const;
type Action = (typeof ACTIONS)[number];

export interface LabRuntimeOptions {
  lab: LabEnvironmentApi;
  connect: ManagementConnect;
  home: string; // where recordings/ goes
  basePort?: number; // passed to up()
  qdrouterd?: string;
  publicDir?: string; // default: public/ of the package
  maxMessagesPerSecond?: number;
  /** Caps of recordings made through the API (size, duration). */
  recording?: Pick<RecorderOptions, 'maxBytes' | 'maxDurationMs'>;
}

export interface Operation { operation: 'up' | 'down'; topology?: Topology; startedAt: number }
/** How the last operation ended: error is null when it succeeded. */
export interface OperationOutcome extends Operation { endedAt: number; error: string | null }

/**
 * One lab, observed and operated: the bus every live endpoint reads, the
 * observer feeding it, the recorder, and the one long operation allowed at a
 * time. Shared by the lab API, the event stream and `hmlab serve --up`.
 */
export class LabRuntime {
  readonly bus = new EventBus();
  readonly observer: LabObserver;
  readonly recorder: Recorder;
  current: Operation | null = null;
  /** The last operation that ended, so a caller that was not watching learns whether the lab came up. */
  last: OperationOutcome | null = null;
  readonly publicDir: string;

  constructor(readonly opts: LabRuntimeOptions) {
    this.observer = new LabObserver(opts.lab, this.bus, { connect: opts.connect, maxMessagesPerSecond: opts.maxMessagesPerSecond });
    this.recorder = new Recorder(this.bus, opts.recording);
    this.publicDir = opts.publicDir ?? join(PACKAGE_ROOT, 'public');
  }

  get recordingsDir(): string { return join(this.opts.home, 'recordings'); }

  private progress(e: Omit<Extract<LabEvent, { type: 'progress' }>, 'type' | 't'>): void {
    this.bus.publish({ type: 'progress', t: Date.now(), ...e });
  }

  private begin(op: Operation): void {
    if (this.current) {
      const ago = Math.round((Date.now() - this.current.startedAt) / 1000);
      throw new HttpError(409, `the lab is busy: "${this.current.operation}" started ${ago} s ago; wait for it to finish`);
    }
    this.current = op;
  }

  /** Bring the lab up; resolves when every component is running (rejects on failure). */
  up(topology: Topology, trafficRate?: number): Promise<LabStatus> {
    this.begin({ operation: 'up', topology, startedAt: Date.now() }); // throws now, not in the promise: the caller answers 409 at once
    return this.runUp(topology, trafficRate);
  }

  private async runUp(topology: Topology, trafficRate?: number): Promise<LabStatus> {
    const began = Date.now();
    this.progress({ component: 'lab', message: `bringing up the ${topology} lab`, elapsedMs: 0, operation: 'up', state: 'starting' });
    try {
      const status = await this.opts.lab.up({
        topology, trafficRate, basePort: this.opts.basePort, qdrouterd: this.opts.qdrouterd,
        onProgress: (p) => this.progress({ component: p.component, message: p.message, elapsedMs: p.elapsedMs, operation: 'up', state: p.state }),
      });
      this.progress({ component: 'lab', message: `the ${topology} lab is up`, elapsedMs: Date.now() - began, operation: 'up', state: 'done' });
      this.ended(null);
      return status;
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      this.progress({
        component: 'lab', message: `bringing up the ${topology} lab failed: ${msg}`, elapsedMs: Date.now() - began, operation: 'up', state: 'failed',
      });
      this.ended(msg);
      throw err;
    } finally {
      this.current = null;
      await this.observer.pollStatus();
    }
  }

  private ended(error: string | null): void {
    if (this.current) this.last = { ...this.current, endedAt: Date.now(), error };
  }

  down(): Promise<void> {
    this.begin({ operation: 'down', startedAt: Date.now() });
    return this.runDown();
  }

  private async runDown(): Promise<void> {
    const began = Date.now();
    this.progress({ component: 'lab', message: 'stopping every component of the lab', elapsedMs: 0, operation: 'down', state: 'starting' });
    try {
      await this.opts.lab.down();
      this.progress({ component: 'lab', message: 'the lab is down', elapsedMs: Date.now() - began, operation: 'down', state: 'done' });
      this.ended(null);
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      this.progress({ component: 'lab', message: `stopping the lab failed: ${msg}`, elapsedMs: Date.now() - began, operation: 'down', state: 'failed' });
      this.ended(msg);
      throw err;
    } finally {
      this.current = null;
      await this.observer.pollStatus();
    }
  }

  async component(name: string, action: Action): Promise<ComponentStatus> {
    if (this.current) throw new HttpError(409, `the lab is busy: "${this.current.operation}" is running; wait for it to finish`);
    const status = await this.opts.lab.status();
    const names = status.components.map((c) => c.name);
    const known = names.includes(name) || (name === 'services' && action === 'restart');
    if (!known) {
      throw new HttpError(404, names.length
        ? `no component "${name}" in this lab: use one of ${names.join(', ')}${action === 'restart' ? ', services' : ''}`
        : `no component "${name}": the lab is not up; POST /api/lab/up first`, 'name');
    }
    const began = Date.now();
    this.progress({ component: name, message: `${action} ${name}`, elapsedMs: 0, operation: action, state: 'starting' });
    try {
      const r = await this.opts.lab[action](name);
      this.progress({ component: name, message: `${action} ${name}: done`, elapsedMs: Date.now() - began, operation: action, state: 'done' });
      return r;
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      this.progress({ component: name, message: `${action} ${name} failed: ${msg}`, elapsedMs: Date.now() - began, operation: action, state: 'failed' });
      throw err;
    } finally {
      await this.observer.pollStatus();
    }
  }

  /** The observer runs while someone watches (the event stream, a recording); status is read on demand otherwise. */
  async start(): Promise<void> { this.observer.observeWhileWatched(); }

  async stop(): Promise<void> {
    if (this.recorder.active) await this.recorder.stop();
    await this.observer.dispose();
  }
}

export function labApiPlugin(rt: LabRuntime): ServerPlugin {
  return {
    name: 'lab-api',
    async activate(ctx: ServerContext) {
      const api = ctx.api;
      api.get('/status', async (_req, res) => { res.json(await rt.observer.status()); });

      api.post('/lab/up', async (req, res) => {
        const body = parseBody(upBody, req.body);
        // the common mistake answered now rather than as a late progress event
        const live = (await rt.observer.status()).components.filter((c) => isUp(c.state));
        if (live.length && !rt.current) {
          throw new HttpError(409, `a lab is already running here (${live.map((c) => c.name).join(', ')}): POST /api/lab/down first`, 'topology');
        }
        const run = rt.up(body.topology, body.trafficRate);
        if (body.wait) {
          res.json(await run);
          return;
        }
        run.catch(() => { /* reported as a progress event */ });
        res.status(202).json({ accepted: true, operation: 'up', topology: body.topology, events: '/api/events' });
      });

      api.post('/lab/down', async (req, res) => {
        const body = parseBody(downBody, req.body);
        const run = rt.down();
        if (body.wait) {
          await run;
          res.json(await rt.observer.status());
          return;
        }
        run.catch(() => { /* reported as a progress event */ });
        res.status(202).json({ accepted: true, operation: 'down', events: '/api/events' });
      });

      api.get('/lab/operation', (_req, res) => { res.json({ operation: rt.current, last: rt.last }); });

      api.post('/components/:name/:action', async (req, res) => {
        const action = String(req.params.action);
        if (!(ACTIONS as readonly string[]).includes(action)) throw new HttpError(404, `no action "${action}": use start, stop, kill or restart`, 'action');
        parseBody(z.strictObject({}, { error: 'this request takes no body fields' }), req.body);
        res.json(await rt.component(String(req.params.name), action as Action));
      });

      api.post('/traffic', async (req, res) => {
        const body = parseBody(trafficBody, req.body);
        await rt.opts.lab.setTrafficRate(body.rate);
        res.json({ rate: body.rate });
      });

      api.get('/wan', async (_req, res) => {
        const wan = rt.opts.lab.wanStatus();
        if (!wan) {
          throw new HttpError(404, 'this lab has no WAN: bring up the multi-region topology (POST /api/lab/up {"topology": "multi-region"})', 'topology');
        }
        res.json(wan);
      });

      api.post('/wan', async (req, res) => {
        const body = parseBody(wanChangeSchema, req.body);
        res.json(await rt.opts.lab.setWan(body));
        rt.observer.status().then((status) => rt.bus.publish({ type: 'status', t: Date.now(), status })).catch(() => { /* the next poll says it */ });
      });

      api.get('/recordings', (_req, res) => { res.json(listRecordings(join(rt.publicDir, 'recordings'), rt.recordingsDir)); });

      api.get('/recordings/:file', (req, res) => {
        const m = /^(.+)\.jsonl$/.exec(String(req.params.file));
        if (!m || !isRecordingName(m[1])) throw new HttpError(404, 'no such recording: names look like NAME.jsonl', 'file');
        const f = join(rt.recordingsDir, `${m[1]}.jsonl`);
        if (!existsSync(f)) throw new HttpError(404, `no recording "${m[1]}" in this lab home; GET /api/recordings lists them`, 'file');
        res.type('application/x-ndjson');
        createReadStream(f).pipe(res);
      });

      const recordingState = () => ({
        active: rt.recorder.active,
        file: rt.recorder.file ? rt.recorder.file.split(/[\\/]/).pop() : null,
        events: rt.recorder.events,
        bytes: rt.recorder.bytes,
        startedAt: rt.recorder.startedAt || null,
        ...(rt.recorder.stoppedBy ? { stoppedBy: rt.recorder.stoppedBy } : {}),
      });
      api.get('/recording', (_req, res) => { res.json(recordingState()); });
      api.post('/recording', async (req, res) => {
        const body = parseBody(recordingBody, req.body);
        if (body.action === 'start') {
          if (rt.recorder.active) throw new HttpError(409, 'already recording: stop it first with {"action":"stop"}', 'action');
          const name = body.name ?? `lab-${new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '')}`;
          const status = rt.bus.status ?? await rt.observer.status();
          try {
            rt.recorder.start(join(rt.recordingsDir, `${name}.jsonl`), status, body.scenario);
          } catch (err) {
            if (err instanceof RecordingExists) throw new HttpError(409, err.message, 'name');
            throw err;
          }
          res.json({ ...recordingState(), name, url: `/api/recordings/${name}.jsonl` });
        } else {
          if (!rt.recorder.active) {
            const why = rt.recorder.stoppedBy ? `the last recording already stopped because ${rt.recorder.stoppedBy}` : 'not recording';
            throw new HttpError(409, `${why}: start one with {"action":"start"}`, 'action');
          }
          const r = await rt.recorder.stop();
          res.json({ active: false, file: r.file ? r.file.split(/[\\/]/).pop() : null, events: r.events, bytes: r.bytes, durationMs: r.durationMs });
        }
      });

      await rt.start();
    },
    async dispose() { await rt.stop(); },
  };
}
