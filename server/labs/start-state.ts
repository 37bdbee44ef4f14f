// Where a lab starts, and how the running environment differs from it: the
// workbook says so when a lab is opened on another lab's state, and no check
// passes on a topology the lab does not run on.
import { readFile } from 'node:fs/promises';
import type { LabStartState, LabStatus } from '../../common/wire.js';
import { defaultTrafficRate, parseOpenstackConf, redactUrl, renderOpenstackConf, type OpenstackConf } from '../backends/index.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import type { LabFile } from './format.js';
import { applySettings } from './ini-edit.js';

/** At most this many differences are listed: enough to see why, short enough to read. */
const MAX_LISTED = 6;

const live = (st: LabStatus) => st.components.filter((c) => c.state !== 'stopped');

/** A check of `lab` cannot pass while another topology runs: the hint says how to get to the lab's start. */
export function topologyMismatch(lab: LabFile, st: LabStatus): string | null {
  if (!st.topology || st.topology === lab.meta.topology || !live(st).length) return null;
  const way = lab.meta.start === 'down'
    ? `press "Reset lab" (or run "hmlab down"), then do step 1: it brings the ${lab.meta.topology} lab up`
    : `press "Reset lab" to bring the ${lab.meta.topology} lab to this lab's starting point`;
  return `Not this lab's environment: the running lab is ${st.topology}, this lab works on ${lab.meta.topology}. ${way}.`;
}

/**
 * A lab that starts down has the learner bring its topology up: a lab of that
 * topology that already ran before the learner began this one is not their work.
 */
export function upBeforeBegun(lab: LabFile, st: LabStatus, begunAt: number | null): string | null {
  if (lab.meta.start !== 'down' || st.topology !== lab.meta.topology) return null;
  const since = live(st).map((c) => c.startedAt ?? Infinity);
  if (!since.length) return null;
  const upAt = Math.min(...since);
  if (begunAt !== null && upAt >= begunAt) return null;
  return `The ${st.topology} lab was already running before you began this lab, so what it shows is not this lab's work: ` +
    'press "Reset lab" (it stops everything), then do step 1.';
}

/** The settings of openstack.conf as section/key -> value. */
function settings(conf: OpenstackConf): Map<string, string> {
  const out = new Map<string, string>();
  for (const [section, keys] of Object.entries(conf)) for (const [key, e] of Object.entries(keys)) out.set(`[${section}] ${key}`, e.value);
  return out;
}

const shown = (key: string, value: string | undefined) => (value === undefined ? 'unset' : /transport_url$/.test(key) ? redactUrl(value) ?? value : value);

/**
 * How the environment differs from the lab's starting point (as its Reset
 * leaves it): what runs, the topology, etc/openstack.conf, the traffic rate.
 * `fill` turns the lab's setup placeholders into this learner's endpoints.
 */
export async function startState(lab: LabFile, env: LabEnvironmentApi, fill: (value: string) => string): Promise<LabStartState> {
  const st = await env.status();
  const want = lab.meta.topology;
  const running = live(st);
  const differences: string[] = [];
  const mismatch = topologyMismatch(lab, st);
  if (lab.meta.start === 'down') {
    if (running.length) {
      const names = running.map((c) => c.name).join(', ');
      differences.push(
        `${st.topology ? `A ${st.topology} lab` : 'A lab'} is running (${names}); ` +
        `this lab starts with nothing running, and its step 1 brings the ${want} lab up.`,
      );
    }
    return { lab: lab.id, atStart: !differences.length, topologyDiffers: mismatch !== null, running: st.topology, differences };
  }
  if (!running.length) {
    differences.push(`Nothing is running; this lab starts with the ${want} lab up.`);
    return { lab: lab.id, atStart: false, topologyDiffers: true, running: null, differences };
  }
  if (mismatch) differences.push(`The running lab is ${st.topology}; this lab starts from ${want}.`);
  else {
    const stopped = new Set(lab.meta.setup?.stop ?? []);
    for (const c of st.components) {
      const expected = stopped.has(c.name) ? 'stopped' : 'running';
      if (expected === 'running' && c.state !== 'running') differences.push(`${c.name} is ${c.state}; this lab starts with it running.`);
      if (expected === 'stopped' && c.state !== 'stopped') differences.push(`${c.name} is ${c.state}; this lab starts with it stopped.`);
    }
    const plan = env.ports();
    if (plan) {
      let current: Map<string, string> | null = null;
      try { current = settings(parseOpenstackConf(await readFile(env.paths.openstackConf, 'utf8'))); } catch { /* unreadable: the checks say why */ }
      const edits = Object.entries(lab.meta.setup?.edit ?? {})
        .flatMap(([section, keys]) => Object.entries(keys).map(([key, value]) => ({ section, key, value: fill(value) })));
      const expected = settings(parseOpenstackConf(applySettings(renderOpenstackConf(want, plan), edits)));
      if (current) {
        for (const key of new Set([...expected.keys(), ...current.keys()])) {
          if (expected.get(key) === current.get(key)) continue;
          differences.push(`etc/openstack.conf ${key} is ${shown(key, current.get(key))}; this lab starts with ${shown(key, expected.get(key))}.`);
        }
      }
    }
    const startRate = defaultTrafficRate();
    if (st.trafficRate !== undefined && st.trafficRate !== startRate) {
      differences.push(`The conductor runs at ${st.trafficRate} operations per second; this lab starts at ${startRate}.`);
    }
  }
  const listed = differences.length > MAX_LISTED
    ? [...differences.slice(0, MAX_LISTED - 1), `… and ${differences.length - MAX_LISTED + 1} more.`]
    : differences;
  return { lab: lab.id, atStart: !differences.length, topologyDiffers: mismatch !== null, running: st.topology, differences: listed };
}
