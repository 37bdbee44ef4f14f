// The multi-region topology's plumbing: one network namespace per region,
// and the relays that join them. Region 2's relay carries router-c's
// inter-router connections to region 1 through the shaped WAN forward; a
// relay in the host's namespace makes every router and broker of both
// regions reachable on the host's loopback at the same port numbers, so the
// lab server, `hmlab qdstat` and the readiness probes need no change.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceEvent, WanStatus } from '../../common/wire.js';
import { answeredBy } from '../../common/rpc.js';
import { bridgeHalves, type Forward, type RelayConfig } from '../isolation/index.js';
import type { LabPaths, PortPlan } from './types.js';
import { LabError } from './errors.js';
import { REGIONS, regionOf } from './templates.js';

export interface RelayPlan {
  name: string; // relay-host, relay-region-1, relay-region-2
  region: string | null; // null: the host's namespace
  config: RelayConfig;
  configFile: string;
  readyFile: string;
}

/** Namespace names for the regions of the lab in `home` (stable, so a crash's leftovers are found again). */
export function regionNamespaces(home: string): Record<string, string> {
  const h = createHash('sha1').update(home).digest('hex').slice(0, 8);
  return Object.fromEntries(REGIONS.map((r, i) => [r.name, `hmlab-r${i + 1}-${h}`]));
}

export function wanFile(paths: LabPaths): string {
  return join(paths.etc, 'wan.json');
}

/** Ports of a region that the host reaches: its routers' normal listeners, its broker's AMQP and management ports. */
function observedPorts(region: (typeof REGIONS)[number], plan: PortPlan): { name: string; port: number }[] {
  const out = region.routers.map((r) => ({ name: r, port: plan.routers[r].normal }));
  if (region.broker === 'broker-2') {
    if (!plan.broker2) throw new LabError('bad-config', 'state.json has no ports for broker-2: run "hmlab down" and "hmlab up --topology multi-region"');
    out.push({ name: 'broker-2', port: plan.broker2.amqp }, { name: 'broker-2-management', port: plan.broker2.management });
  } else {
    out.push({ name: 'broker', port: plan.brokerAmqp }, { name: 'broker-management', port: plan.brokerManagement });
  }
  return out;
}

export function relayPlans(paths: LabPaths, plan: PortPlan): RelayPlan[] {
  const sockDir = join(paths.run, 'sock');
  const sock = (name: string) => {
    const p = join(sockDir, `${name}.sock`);
    if (Buffer.byteLength(p) > 107) {
      throw new LabError(
        'bad-input',
        `the lab home ${paths.home} is too long for the Unix sockets joining the regions (${p} is over 107 bytes): use a shorter --home`,
        'home',
      );
    }
    return p;
  };
  const host: Forward[] = [];
  const inRegion = new Map<string, Forward[]>(REGIONS.map((r) => [r.name, []]));
  for (const region of REGIONS) {
    for (const { name, port } of observedPorts(region, plan)) {
      const b = bridgeHalves(`observe-${name}`, port, sock(`obs-${port}`));
      host.push(b.near);
      inRegion.get(region.name)!.push(b.far);
    }
  }
  // The WAN: router-c (region 2) dials router-a and router-b (region 1).
  for (const peer of REGIONS[0].routers) {
    const b = bridgeHalves(`wan-to-${peer}`, plan.routers[peer].interRouter, sock(`wan-${peer}`), true);
    inRegion.get(REGIONS[1].name)!.push(b.near);
    inRegion.get(REGIONS[0].name)!.push(b.far);
  }
  const make = (name: string, region: string | null, forwards: Forward[]): RelayPlan => ({
    name,
    region,
    configFile: join(paths.etc, `${name}.json`),
    readyFile: join(paths.run, `${name}.ready`),
    config: { forwards, wanFile: wanFile(paths), readyFile: join(paths.run, `${name}.ready`) },
  });
  return [make('relay-host', null, host), ...REGIONS.map((r) => make(`relay-${r.name}`, r.name, inRegion.get(r.name)!))];
}

/** Region of the server that answered a call (a topic call's reply names it), or null. */
export function answeredRegion(e: ServiceEvent): string | null {
  const server = answeredBy(e);
  return server ? regionOf(server) : null;
}

/** The conductor's calls since `since` (epoch ms), read from the end of its event file. */
export function callsSince(paths: LabPaths, since: number, maxBytes = 4 * 1024 * 1024): ServiceEvent[] {
  const file = join(paths.events, 'conductor.jsonl');
  let text = '';
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  const out: ServiceEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"rpc.call"')) continue;
    try {
      const e = JSON.parse(line) as ServiceEvent;
      if (e.kind === 'rpc.call' && e.t >= since) out.push(e);
    } catch { /* a partial first or last line */ }
  }
  return out;
}

/** The first call answered by a server in region 2 (by name or to the topic) after `since`, or null. */
export function firstCrossRegionSuccess(paths: LabPaths, since: number): ServiceEvent | null {
  return callsSince(paths, since).find((e) => answeredRegion(e) === REGIONS[1].name) ?? null;
}

/**
 * The last partition as the lab server shows it: when the WAN was cut and
 * healed (from the WAN settings), and the first call answered across after
 * the heal. Finding that call reads the conductor's event file: at most once
 * a second, every 10 s once the heal is two minutes old, and never again
 * once found for that heal.
 */
export class PartitionMemory {
  private healedAt = 0;
  private first: ServiceEvent | null = null;
  private lookedAt = 0;

  constructor(private readonly paths: LabPaths) {}

  describe(cutAt: number | undefined, healedAt: number | undefined, now = Date.now()): WanStatus['lastPartition'] {
    if (!cutAt) return null;
    if (!healedAt || healedAt < cutAt) return { cutAt, healedAt: null, firstSuccess: null };
    if (healedAt !== this.healedAt) { this.healedAt = healedAt; this.first = null; this.lookedAt = 0; }
    const every = now - healedAt < 120_000 ? 1000 : 10_000;
    if (!this.first && now - this.lookedAt >= every) {
      this.lookedAt = now;
      this.first = firstCrossRegionSuccess(this.paths, healedAt);
    }
    const f = this.first;
    return {
      cutAt,
      healedAt,
      firstSuccess: f ? { t: f.t, server: answeredBy(f) ?? '', latencyMs: f.latencyMs ?? 0, topic: !f.target?.server } : null,
    };
  }
}
