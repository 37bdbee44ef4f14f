// Rules the server, the CLI and the browser all apply, written once: which
// topologies and services a lab has, how fast its traffic may run, which
// component states count as up. zod schemas carry the messages, so every edge
// (HTTP, CLI, lab files) says the same thing about the same mistake.
import { z } from 'zod';
import { TOPOLOGIES, type ComponentState, type Topology } from './wire.js';

/** A message prefix naming the field: "--rate must be ..." on the CLI, "must be ..." where the error names the field. */
const named = (name: string | undefined) => (name ? `${name} ` : '');

/** One of TOPOLOGIES; `name` prefixes the message (e.g. "--topology"). */
export function topologySchema(name?: string) {
  return z.enum(TOPOLOGIES as [Topology, ...Topology[]], { error: `${named(name)}must be one of ${TOPOLOGIES.join(', ')}` });
}

export function isTopology(t: unknown): t is Topology {
  return (TOPOLOGIES as readonly unknown[]).includes(t);
}

/** The conductor's traffic in operations per second: 0 pauses it, 1000 is as fast as a lab is asked to go. */
export const TRAFFIC_RATE = { min: 0, max: 1000 } as const;

/**
 * A traffic rate within TRAFFIC_RATE. `name` prefixes the messages;
 * `coerce` accepts the string a command line gives.
 */
export function trafficRateSchema(opts: { name?: string; coerce?: boolean } = {}) {
  const n = named(opts.name);
  const base = opts.coerce
    ? z.coerce.number({ error: `${n}must be a number of operations per second` })
    : z.number({ error: `${n}must be a number of operations per second` });
  return base
    .min(TRAFFIC_RATE.min, { error: `${n}must be ${TRAFFIC_RATE.min} (paused) or more` })
    .max(TRAFFIC_RATE.max, { error: `${n}must be at most ${TRAFFIC_RATE.max} operations per second` });
}

/** The OpenStack services of every single-region lab (multi-region adds compute-3). */
export const SERVICES = ['compute-1', 'compute-2', 'conductor', 'telemetry'] as const;

/** Running, or on its way: a component that holds (or is about to hold) its port and its connections. */
export function isUp(state: ComponentState): boolean {
  return state === 'running' || state === 'starting';
}
