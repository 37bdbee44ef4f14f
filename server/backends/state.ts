// state.json: what a lab runs, so a new process (the CLI, a restarted lab
// server) picks up a running lab. Written atomically; every writer re-reads
// it first, because the CLI and the lab server may both update it.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { topologySchema } from '../../common/rules.js';
import { LabError } from './errors.js';

const componentRecord = z.object({
  name: z.string(),
  kind: z.enum(['broker', 'router', 'service']),
  state: z.enum(['starting', 'running', 'stopped', 'failed']),
  pid: z.number().int().nullable(),
  endpoint: z.string().nullable(),
  management: z.string().nullable(),
  product: z.string().nullable(),
  startedAt: z.number().nullable(),
  readyAt: z.number().nullable(),
  detail: z.string().nullable(),
  region: z.string().nullable().optional(),
  namespace: z.string().nullable().optional(),
});
export type ComponentRecord = z.infer<typeof componentRecord>;

const portPlan = z.object({
  base: z.number().int(),
  brokerAmqp: z.number().int(),
  brokerManagement: z.number().int(),
  brokerDist: z.number().int(),
  routers: z.record(z.string(), z.object({ normal: z.number().int(), interRouter: z.number().int() })),
  broker2: z.object({ amqp: z.number().int(), management: z.number().int(), dist: z.number().int() }).optional(),
});

const labState = z.object({
  version: z.literal(1),
  home: z.string(),
  topology: topologySchema(),
  ports: portPlan,
  router: z.enum(['embedded', 'qdrouterd']).nullable(),
  qdrouterd: z.string().nullable(),
  nodeName: z.string(),
  trafficRate: z.number().min(0),
  upAt: z.number(),
  components: z.array(componentRecord),
  /** multi-region: the namespaces, the relays that join them, the WAN connectors' cost. */
  regions: z.object({
    namespaces: z.record(z.string(), z.string()),
    wanCost: z.number().int(),
    relays: z.array(z.object({ name: z.string(), namespace: z.string().nullable(), pid: z.number().int().nullable() })),
  }).optional(),
});
export type LabState = z.infer<typeof labState>;

export function readState(file: string): LabState | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LabError('bad-config', `${file} is not valid JSON: run "hmlab down" and "hmlab up" to start the lab afresh`);
  }
  const r = labState.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new LabError('bad-config', `${file}: "${issue?.path.join('.')}" ${issue?.message}: run "hmlab down" and "hmlab up" to start the lab afresh`);
  }
  return r.data;
}

export function writeState(file: string, state: LabState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, file);
}

/** Re-reads, patches one component, writes back. */
export function patchComponent(file: string, name: string, patch: Partial<ComponentRecord>): void {
  const s = readState(file);
  if (!s) return;
  const c = s.components.find((x) => x.name === name);
  if (!c) return;
  Object.assign(c, patch);
  writeState(file, s);
}
