// What a check can read: the learner's real environment. Every reader goes to
// the source (the config file on disk, RabbitMQ's management API, the router's
// AMQP management, the services' event files), never to what a button did.
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readOpenstackConf, type OpenstackConf } from '../../backends/index.js';
import type { LabEnvironmentApi, PortPlan } from '../../backends/types.js';
import type { ComponentStatus, LabStatus, ServiceEvent } from '../../../common/wire.js';
import { endpointOf } from '../../../common/endpoint.js';
import { queryManagement } from '../../router/index.js';

export interface CheckResult {
  pass: boolean;
  hint: string;
  /** Numbers a check measured, for pages that chart them (lab 7). */
  data?: Record<string, unknown>;
}

/** A setting of openstack.conf, read as oslo.config reads it (section names are case-sensitive). */
export interface ConfView {
  get(section: string, key: string): string | undefined;
  raw: OpenstackConf;
}

export class CheckFailure extends Error {}

export interface CheckContext {
  home: string;
  env: LabEnvironmentApi;
  status(): Promise<LabStatus>;
  ports(): PortPlan | null;
  conf(): Promise<ConfView>;
  rabbit<T = unknown>(path: string): Promise<T>;
  routerQuery(router: string, entityType: string, attributeNames?: string[]): Promise<Record<string, unknown>[]>;
  events(service: string, sinceMs?: number): Promise<ServiceEvent[]>;
  /** Per-home memory for checks that compare two moments (a baseline, a count). */
  memory: Map<string, unknown>;
}

export function component(st: LabStatus, name: string): ComponentStatus | undefined {
  return st.components.find((c) => c.name === name);
}

export function running(st: LabStatus, name: string): boolean {
  return component(st, name)?.state === 'running';
}

export function createCheckContext(home: string, env: LabEnvironmentApi, memory: Map<string, unknown>): CheckContext {
  let statusCache: Promise<LabStatus> | null = null;
  const status = () => (statusCache ??= env.status());
  const ctx: CheckContext = {
    home,
    env,
    memory,
    status,
    ports: () => env.ports(),
    async conf() {
      if (!existsSync(env.paths.openstackConf)) {
        throw new CheckFailure('etc/openstack.conf does not exist yet: bring the lab up first (hmlab up, or the lab\'s Reset button)');
      }
      let raw: OpenstackConf;
      try {
        raw = readOpenstackConf(env.paths.openstackConf);
      } catch (err) {
        // The same error the services would stop with: section and line.
        throw new CheckFailure(`etc/openstack.conf cannot be read as the services read it: ${(err as Error).message}`);
      }
      return {
        raw,
        get(section, key) {
          const v = raw[section]?.[key]?.value;
          return v === undefined ? undefined : v.trim();
        },
      };
    },
    async rabbit<T>(path: string): Promise<T> {
      const st = await status();
      const broker = st.components.find((c) => c.kind === 'broker');
      if (!broker || broker.state !== 'running' || !broker.management) {
        throw new CheckFailure(`the broker is ${broker ? broker.state : 'not part of this lab'}: start it with "hmlab start broker"`);
      }
      let res: Response;
      try {
        res = await fetch(broker.management.replace(/\/$/, '') + path, {
          headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') },
          signal: AbortSignal.timeout(4000),
        });
      } catch (err) {
        throw new CheckFailure(`RabbitMQ's management API at ${broker.management} does not answer (${(err as Error).message}): is the broker still starting? `
          + `Try again in a few seconds`);
      }
      if (res.status === 404) return null as T;
      if (!res.ok) throw new CheckFailure(`RabbitMQ's management API answered ${res.status} for ${path}`);
      return (await res.json()) as T;
    },
    async routerQuery(router, entityType, attributeNames) {
      const st = await status();
      const r = component(st, router);
      if (!r || r.state !== 'running') throw new CheckFailure(`${router} is ${r ? r.state : 'not part of this lab'}: start it with "hmlab start ${router}"`);
      const where = endpointOf(r.management ?? r.endpoint);
      if (!where) throw new CheckFailure(`${router} has no management address in the lab's state: restart it with "hmlab restart ${router}"`);
      try {
        return await queryManagement(where.host, where.port, entityType, attributeNames, { timeoutMs: 3000 });
      } catch (err) {
        throw new CheckFailure(`${router} does not answer management queries (${(err as Error).message}); look at "hmlab logs ${router}"`);
      }
    },
    async events(service, sinceMs = 0) {
      const file = join(env.paths.events, `${service}.jsonl`);
      let text: string;
      try {
        // Only the tail: event files grow for as long as the lab runs.
        const fh = await open(file, 'r');
        try {
          const { size } = await fh.stat();
          const len = Math.min(size, 2 * 1024 * 1024);
          const buf = Buffer.alloc(len);
          await fh.read(buf, 0, len, size - len);
          text = buf.toString('utf8');
          if (len < size) text = text.slice(text.indexOf('\n') + 1);
        } finally {
          await fh.close();
        }
      } catch {
        return [];
      }
      const out: ServiceEvent[] = [];
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as ServiceEvent;
          if (typeof e.t === 'number' && e.t >= sinceMs) out.push(e);
        } catch { /* a line being written */ }
      }
      return out;
    },
  };
  return ctx;
}
