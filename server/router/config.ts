// qdrouterd.conf parser: the subset the labs use, with qdrouterd's own
// syntax (`section {` and `}` on their own lines, `key: value` inside).
// Anything it does not support becomes a warning naming it and its line.
import { z } from 'zod';

export type Distribution = 'closest' | 'balanced' | 'multicast';
export type Role = 'normal' | 'inter-router';

/** Per-connection limits of a listener or connector (qdrouterd's attribute names and defaults). */
export interface ConnectionSettings {
  maxFrameSize: number; // announced in the Open; larger incoming frames close the connection
  maxSessions: number; // announced as channel-max + 1
  idleTimeoutSeconds: number; // no complete frame for this long closes the connection (0: never)
  initialHandshakeTimeoutSeconds: number; // listeners: no AMQP Open within this long closes it (0: never)
}

export interface ListenerConfig extends ConnectionSettings {
  name?: string;
  host: string;
  port: number;
  role: Role;
  cost: number;
  saslMechanisms: string[];
  authenticatePeer: boolean;
  line: number;
}
export interface ConnectorConfig extends ListenerConfig {}
export interface AddressConfig { prefix: string; distribution: Distribution; line: number }
export interface LogConfig { module: string; enable: string; output?: string; includeTimestamp: boolean; line: number }

/** qdrouterd's `policy` section and the `$default` vhost with its `$default` group. */
export interface PolicyConfig {
  maxConnections: number;
  maxMessageSize: number; // 0: no limit
  enableVhostPolicy: boolean;
  vhost?: {
    maxConnections: number;
    maxMessageSize?: number;
    group: { maxFrameSize?: number; maxSessions?: number; maxSenders: number; maxReceivers: number; maxMessageSize?: number };
    line: number;
  };
}

/** qdrouterd 1.19's defaults (qdrouter.json). */
export const CONNECTION_DEFAULTS: ConnectionSettings = { maxFrameSize: 16384, maxSessions: 32768, idleTimeoutSeconds: 16, initialHandshakeTimeoutSeconds: 0 };
export const POLICY_DEFAULTS = { maxConnections: 65535, maxMessageSize: 0, maxSenders: 2147483647, maxReceivers: 2147483647 };

export interface RouterConfig {
  router: { id: string; mode: 'standalone' | 'interior' };
  policy: PolicyConfig;
  listeners: ListenerConfig[];
  connectors: ConnectorConfig[];
  addresses: AddressConfig[];
  logs: LogConfig[];
  warnings: string[];
}

export class ConfigError extends Error {}

interface RawSection { type: string; line: number; attrs: Map<string, { value: string; line: number; raw: string }> }

/** Turn `sasl-mechanisms` or `saslMechanisms` into the schema's camelCase name. */
function camel(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The error for a key given twice in one section. */
function givenTwice(file: string, n: number, raw: string, section: RawSection, key: string): ConfigError {
  return new ConfigError(`${file}:${n}: "${raw}" is given twice in "${section.type}" (first on line ${section.attrs.get(key)!.line})`);
}

function unquote(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}

export function parseSections(text: string, file = 'config'): RawSection[] {
  const sections: RawSection[] = [];
  let current: RawSection | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i].replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (current === null) {
      const m = /^([A-Za-z][\w.-]*)\s*\{$/.exec(line);
      if (!m) {
        if (/^[A-Za-z][\w.-]*\s*\{.*\}\s*$/.test(line)) {
          throw new ConfigError(`${file}:${n}: one-line sections are not valid qdrouterd.conf syntax; put "{" and "}" on their own lines`);
        }
        throw new ConfigError(`${file}:${n}: expected a section start like "listener {", got "${line}"`);
      }
      current = { type: m[1], line: n, attrs: new Map() };
      continue;
    }
    if (line === '}') { sections.push(current); current = null; continue; }
    const map = /^([A-Za-z][\w-]*)\s*:\s*\{/.exec(line);
    if (map) {
      // a map value (vhost groups) spans lines until its braces balance; qdrouterd reads it as JSON
      let text = line.slice(line.indexOf('{'));
      const open = (t: string) => t.split('{').length - t.split('}').length;
      let j = i;
      while (open(text) > 0) {
        if (++j >= lines.length) throw new ConfigError(`${file}:${n}: the map "${map[1]}" is never closed; add "}"`);
        text += '\n' + lines[j].replace(/(^|\s)#.*$/, '').trim();
      }
      const key = camel(map[1]);
      if (current.attrs.has(key)) throw givenTwice(file, n, map[1], current, key);
      current.attrs.set(key, { value: text, line: n, raw: map[1] });
      i = j;
      continue;
    }
    if (line.endsWith('{')) {
      throw new ConfigError(`${file}:${n}: section "${current.type}" opened on line ${current.line} is not closed before a new one starts; add "}"`);
    }
    const m = /^([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${file}:${n}: expected "key: value" inside "${current.type}", got "${line}"`);
    const key = camel(m[1]);
    if (current.attrs.has(key)) throw givenTwice(file, n, m[1], current, key);
    current.attrs.set(key, { value: unquote(m[2]), line: n, raw: m[1] });
  }
  if (current) throw new ConfigError(`${file}:${current.line}: section "${current.type}" is never closed; add a line with "}"`);
  return sections;
}

const yes = new Set(['yes', 'true', '1', 'on']);
const no = new Set(['no', 'false', '0', 'off']);
const NAMED_PORTS: Record<string, number> = { amqp: 5672, amqps: 5671 };

const supported: Record<string, string[]> = {
  router: ['id', 'mode'],
  listener: [
    'name', 'host', 'port', 'role', 'cost', 'saslMechanisms', 'authenticatePeer',
    'maxFrameSize', 'maxSessions', 'idleTimeoutSeconds', 'initialHandshakeTimeoutSeconds',
  ],
  connector: ['name', 'host', 'port', 'role', 'cost', 'saslMechanisms', 'authenticatePeer', 'maxFrameSize', 'maxSessions', 'idleTimeoutSeconds'],
  policy: ['maxConnections', 'maxMessageSize', 'enableVhostPolicy'],
  vhost: ['hostname', 'id', 'maxConnections', 'maxMessageSize', 'allowUnknownUser', 'groups'],
  address: ['prefix', 'distribution'],
  log: ['module', 'enable', 'output', 'includeTimestamp', 'includeSource'],
};

const GROUP_SETTINGS = ['maxFrameSize', 'maxSessions', 'maxSenders', 'maxReceivers', 'maxMessageSize'];
// group attributes that only say who may connect and where: the embedded router allows everyone everywhere
const GROUP_OPEN_ANYWAY = ['users', 'remoteHosts', 'sources', 'targets', 'sourcePattern', 'targetPattern', 'allowDynamicSource', 'allowAnonymousSender'];
const MAX_INT = 2147483647;

const portSchema = z.union([z.coerce.number().int().min(0).max(65535), z.enum(['amqp', 'amqps']).transform((s) => NAMED_PORTS[s])]);

export function parseConfig(text: string, file = 'config'): RouterConfig {
  const warnings: string[] = [];
  const cfg: RouterConfig = {
    router: { id: '', mode: 'standalone' }, listeners: [], connectors: [], addresses: [], logs: [], warnings,
    policy: { maxConnections: POLICY_DEFAULTS.maxConnections, maxMessageSize: POLICY_DEFAULTS.maxMessageSize, enableVhostPolicy: false },
  };
  const warn = (line: number, text: string) => warnings.push(`${file}:${line}: ${text}`);
  let routerSeen = false;
  let policySeen = false;
  for (const s of parseSections(text, file)) {
    const allowed = supported[s.type];
    if (!allowed) {
      warnings.push(`${file}:${s.line}: section "${s.type}" is not supported by the embedded router; it is ignored`);
      continue;
    }
    for (const [key, a] of s.attrs) {
      if (!allowed.includes(key)) warn(a.line, `attribute "${a.raw}" of "${s.type}" is not supported by the embedded router; it is ignored`);
    }
    const get = (k: string) => s.attrs.get(k);
    const fail = (k: string, fix: string): never => {
      const a = get(k);
      throw new ConfigError(`${file}:${a?.line ?? s.line}: ${s.type} ${k}${a && !a.value.includes('\n') ? ` "${a.value}"` : ''} is invalid: ${fix}`);
    };
    /** A whole number in [min, max]; the fix names the range. */
    const int = (k: string, dflt: number, min: number, max = MAX_INT): number => {
      const a = get(k);
      if (!a) return dflt;
      const r = z.coerce.number().int().min(min).max(max).safeParse(a.value);
      if (!r.success || a.value.trim() === '') return fail(k, `give a whole number from ${min} to ${max}`);
      return r.data;
    };
    const bool = (k: string, dflt: boolean) => {
      const a = get(k);
      if (!a) return dflt;
      const v = a.value.toLowerCase();
      if (yes.has(v)) return true;
      if (no.has(v)) return false;
      return fail(k, 'use yes or no');
    };
    switch (s.type) {
      case 'router': {
        if (routerSeen) throw new ConfigError(`${file}:${s.line}: only one "router" section is allowed`);
        routerSeen = true;
        const mode = get('mode')?.value ?? 'standalone';
        if (mode === 'edge') fail('mode', 'edge mode is not supported by the embedded router; use standalone or interior');
        if (mode !== 'standalone' && mode !== 'interior') fail('mode', 'use standalone or interior');
        const id = get('id')?.value ?? '';
        if (id && !/^[A-Za-z0-9._:-]+$/.test(id)) fail('id', 'use letters, digits, ".", "_", ":" or "-"');
        cfg.router = { id, mode: mode as 'standalone' | 'interior' };
        break;
      }
      case 'listener':
      case 'connector': {
        const portRaw = get('port')?.value;
        if (portRaw === undefined) throw new ConfigError(`${file}:${s.line}: ${s.type} needs a "port"`);
        const port = portSchema.safeParse(portRaw);
        if (!port.success) fail('port', 'give a number between 0 and 65535 (or amqp)');
        const role = get('role')?.value ?? 'normal';
        if (role !== 'normal' && role !== 'inter-router') {
          if (role === 'edge' || role === 'route-container') fail('role', `role ${role} is not supported by the embedded router; use normal or inter-router`);
          fail('role', 'use normal or inter-router');
        }
        const costRaw = get('cost')?.value ?? '1';
        const cost = z.coerce.number().int().min(1).safeParse(costRaw);
        if (!cost.success) fail('cost', 'give a whole number, 1 or more');
        const host = get('host')?.value ?? (s.type === 'listener' ? '127.0.0.1' : '');
        if (!host) throw new ConfigError(`${file}:${s.line}: connector needs a "host"`);
        const mechs = (get('saslMechanisms')?.value ?? 'ANONYMOUS PLAIN').split(/[\s,]+/).filter(Boolean).map((m) => m.toUpperCase());
        if (get('saslMechanisms') && !mechs.includes('ANONYMOUS')) {
          warn(get('saslMechanisms')!.line, 'saslMechanisms without ANONYMOUS: ' +
            'the embedded router offers ANONYMOUS and PLAIN on every listener and cannot require authentication');
        }
        for (const m of mechs) {
          if (m !== 'ANONYMOUS' && m !== 'PLAIN') {
            warn(get('saslMechanisms')!.line, `SASL mechanism ${m} is not supported by the embedded router; only ANONYMOUS and PLAIN are offered`);
          }
        }
        if (s.type === 'listener' && bool('authenticatePeer', false)) {
          warn(get('authenticatePeer')!.line, 'authenticatePeer: the embedded router keeps no user database; ' +
            'it accepts any SASL PLAIN user and never checks passwords');
        }
        const entry = {
          name: get('name')?.value, host, port: port.data as number, role: role as Role, cost: cost.data as number,
          saslMechanisms: mechs, authenticatePeer: bool('authenticatePeer', false), line: s.line,
          // AMQP 1.0 sets 512 as the smallest max-frame-size; qdrouterd's maxSessions 0 means its default
          maxFrameSize: int('maxFrameSize', CONNECTION_DEFAULTS.maxFrameSize, 512),
          maxSessions: int('maxSessions', CONNECTION_DEFAULTS.maxSessions, 0, 65536) || CONNECTION_DEFAULTS.maxSessions,
          idleTimeoutSeconds: int('idleTimeoutSeconds', CONNECTION_DEFAULTS.idleTimeoutSeconds, 0, 86400),
          initialHandshakeTimeoutSeconds: s.type === 'listener'
            ? int('initialHandshakeTimeoutSeconds', CONNECTION_DEFAULTS.initialHandshakeTimeoutSeconds, 0, 86400)
            : 0,
        };
        if (s.type === 'listener') cfg.listeners.push(entry); else cfg.connectors.push(entry);
        break;
      }
      case 'policy': {
        if (policySeen) throw new ConfigError(`${file}:${s.line}: only one "policy" section is allowed`);
        policySeen = true;
        cfg.policy.maxConnections = int('maxConnections', POLICY_DEFAULTS.maxConnections, 1);
        cfg.policy.maxMessageSize = int('maxMessageSize', POLICY_DEFAULTS.maxMessageSize, 0);
        cfg.policy.enableVhostPolicy = bool('enableVhostPolicy', false);
        break;
      }
      case 'vhost': {
        const hostname = get('hostname')?.value ?? get('id')?.value ?? '';
        if (hostname !== '$default') {
          warn(s.line, `vhost "${hostname}": the embedded router applies only the "$default" vhost (clients do not select vhosts here); it is ignored`);
          break;
        }
        const groupsRaw = get('groups')?.value;
        let groups: Record<string, Record<string, unknown>> = {};
        if (groupsRaw !== undefined) {
          try {
            groups = JSON.parse(groupsRaw) as typeof groups;
          } catch {
            fail('groups', 'write the map as JSON, with names and strings in double quotes, as qdrouterd reads it');
          }
          if (!groups || typeof groups !== 'object' || Array.isArray(groups)) fail('groups', 'give a map from group names to their settings');
        }
        const gline = get('groups')?.line ?? s.line;
        for (const name of Object.keys(groups)) {
          if (name !== '$default') {
            warn(gline, `vhost group "${name}": the embedded router applies only the "$default" group (it has no user database); it is ignored`);
          }
        }
        const g = (groups.$default ?? {}) as Record<string, unknown>;
        for (const k of Object.keys(g)) {
          if (!GROUP_SETTINGS.includes(k) && !GROUP_OPEN_ANYWAY.includes(k)) {
            warn(gline, `vhost group setting "${k}" is not supported by the embedded router; it is ignored`);
          }
        }
        const gint = (k: string, min: number): number | undefined => {
          const v = g[k];
          if (v === undefined) return undefined;
          const r = z.coerce.number().int().min(min).max(MAX_INT).safeParse(v);
          if (!r.success) {
            const fix = `give a whole number from ${min} to ${MAX_INT}`;
            throw new ConfigError(`${file}:${gline}: vhost group "$default" ${k} ${JSON.stringify(v)} is invalid: ${fix}`);
          }
          return r.data;
        };
        cfg.policy.vhost = {
          maxConnections: int('maxConnections', POLICY_DEFAULTS.maxConnections, 1),
          maxMessageSize: get('maxMessageSize') ? int('maxMessageSize', 0, 0) : undefined,
          group: {
            maxFrameSize: gint('maxFrameSize', 512), maxSessions: gint('maxSessions', 1), maxMessageSize: gint('maxMessageSize', 0),
            maxSenders: gint('maxSenders', 0) ?? POLICY_DEFAULTS.maxSenders, maxReceivers: gint('maxReceivers', 0) ?? POLICY_DEFAULTS.maxReceivers,
          },
          line: s.line,
        };
        break;
      }
      case 'address': {
        const prefix = get('prefix')?.value;
        if (!prefix) {
          const why = get('pattern') ? ' (pattern is not supported by the embedded router)' : '';
          throw new ConfigError(`${file}:${s.line}: address needs a "prefix"${why}`);
        }
        const d = get('distribution')?.value ?? 'balanced';
        if (d !== 'closest' && d !== 'balanced' && d !== 'multicast') fail('distribution', 'use closest, balanced or multicast');
        cfg.addresses.push({ prefix, distribution: d as Distribution, line: s.line });
        break;
      }
      case 'log': {
        // the embedded router prints no source locations: "no" is what it does anyway
        if (bool('includeSource', false)) warn(get('includeSource')!.line, 'includeSource: the embedded router does not print source locations');
        cfg.logs.push({
          module: get('module')?.value ?? 'DEFAULT', enable: get('enable')?.value ?? 'info+', output: get('output')?.value,
          includeTimestamp: bool('includeTimestamp', true), line: s.line,
        });
        break;
      }
    }
  }
  if (cfg.policy.vhost && !cfg.policy.enableVhostPolicy) {
    warn(cfg.policy.vhost.line, 'vhost "$default" has no effect without "enableVhostPolicy: yes" in the policy section (as in qdrouterd)');
  }
  if (!routerSeen) warnings.push(`${file}: no "router" section; running standalone`);
  if (!cfg.router.id) cfg.router.id = `Router.${process.pid}`;
  if (cfg.router.mode === 'standalone') {
    for (const l of [...cfg.listeners, ...cfg.connectors]) {
      if (l.role !== 'inter-router') continue;
      const kind = cfg.listeners.includes(l) ? 'listener' : 'connector';
      throw new ConfigError(`${file}:${l.line}: an inter-router ${kind} needs "mode: interior" in the router section`);
    }
  }
  if (cfg.listeners.length === 0) warnings.push(`${file}: no listener; clients cannot connect to this router`);
  return cfg;
}
