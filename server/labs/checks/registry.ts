// The shape of a check: an id the lab files name, and a function that reads
// the learner's environment and says pass or fail with a hint.
import type { CheckContext, CheckResult } from './context.js';

export interface CheckDef {
  id: string;
  title: string;
  run(ctx: CheckContext): Promise<CheckResult>;
}
