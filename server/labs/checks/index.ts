// Every check a lab file can name, by id. Checks run on the server against
// the learner's own environment.
import type { CheckDef } from './registry.js';
import { brokerChecks } from './broker-labs.js';
import { couplingChecks } from './coupling.js';
import { meshChecks } from './mesh.js';
import { durableChecks } from './durable.js';
import { measureChecks } from './measure.js';
import { operateChecks } from './operate.js';
import { regionChecks } from './regions.js';

export type { CheckDef } from './registry.js';
export type { CheckContext, CheckResult, ConfView } from './context.js';
export { CheckFailure, createCheckContext } from './context.js';
export { machine, type Measurement } from './measure.js';

export const CHECKS: ReadonlyMap<string, CheckDef> = new Map(
  [...brokerChecks, ...couplingChecks, ...meshChecks, ...durableChecks, ...measureChecks, ...operateChecks, ...regionChecks].map((c) => [c.id, c]),
);
export const CHECK_IDS: ReadonlySet<string> = new Set(CHECKS.keys());
