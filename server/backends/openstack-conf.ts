// etc/openstack.conf: the oslo.config file every service of a lab reads and
// the file the labs teach people to edit. Parsed here with line numbers so a
// malformed edit is reported by section and line before any service starts.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseTransportUrl } from '../../common/endpoint.js';
import { LabError } from './errors.js';

export interface ConfEntry { value: string; line: number }
/** Sections by name, keys by name; `DEFAULT` holds [DEFAULT]. */
export type OpenstackConf = Record<string, Record<string, ConfEntry>>;

export interface EffectiveTransports {
  rpc: string | null; // [DEFAULT] transport_url
  notify: string | null; // [oslo_messaging_notifications] transport_url, else the RPC one
  notifyFallsBackToRpc: boolean; // notifications ride the RPC transport
  notificationsEnabled: boolean; // a driver is set: otherwise nothing is sent
  notificationDriver: string | null;
  topics: string[];
}

/** Parses oslo.config INI syntax; throws LabError('bad-config') naming the line. */
export function parseOpenstackConf(text: string, file = 'etc/openstack.conf'): OpenstackConf {
  const conf: OpenstackConf = {};
  let section: string | null = null;
  let last: ConfEntry | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const where = `${file} line ${n}${section ? ` (in [${section}])` : ''}`;
    if (/^\s*([#;].*)?$/.test(raw)) { last = null; return; }
    // oslo.config continues a value on indented lines
    if (/^\s+\S/.test(raw) && last) { last.value += '\n' + raw.trim(); return; }
    const line = raw.trim();
    if (line.startsWith('[')) {
      const m = /^\[([^\]\s]+)\]$/.exec(line);
      if (!m) throw new LabError('bad-config', `${where}: "${line}" is not a section header: write it as [section_name]`);
      section = m[1];
      conf[section] ??= {};
      last = null;
      return;
    }
    const m = /^([A-Za-z0-9_.-]+)\s*[=:]\s*(.*)$/.exec(line);
    if (!m) throw new LabError('bad-config', `${where}: "${line}" is not "key = value": fix or comment it out with #`);
    if (!section) throw new LabError('bad-config', `${where}: "${m[1]}" comes before any [section]: put it under [DEFAULT]`);
    const entry: ConfEntry = { value: m[2].trim(), line: n };
    conf[section][m[1]] = entry;
    last = entry;
  });
  validateKnownOptions(conf, file);
  return conf;
}

export function readOpenstackConf(path: string): OpenstackConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LabError('bad-config', `cannot read ${path}: ${(err as Error).message}; "hmlab up" writes it`);
  }
  return parseOpenstackConf(text, path);
}

const SCHEMES = ['rabbit', 'amqp', 'kafka', 'fake', 'kombu'];
const NOTIFY_DRIVERS = ['messaging', 'messagingv2', 'log', 'noop', 'routing', 'test'];

/** A transport URL as oslo.messaging reads it: scheme://[user:pass@]host:port[,host:port...]/[vhost]. */
export const transportUrlSchema = z.string().refine((v) => SCHEMES.includes(parseTransportUrl(v)?.scheme.split('+')[0] ?? ''), {
  message: `is not a transport URL: write scheme://host:port/ (scheme ${SCHEMES.join(', ')}), several hosts separated by commas, e.g. `
    + `amqp://127.0.0.1:15810,127.0.0.1:15811/`,
});

const boolSchema = z.string().regex(/^(true|false|yes|no|on|off|1|0)$/i, 'must be true or false');
const intSchema = z.string().regex(/^\d+$/, 'must be a whole number');

// Only options whose bad value would otherwise surface as a cryptic driver
// error are checked here; oslo.config still checks everything else itself.
const KNOWN: Record<string, Record<string, z.ZodType<string>>> = {
  DEFAULT: { transport_url: transportUrlSchema, notification_transport_url: transportUrlSchema, rpc_response_timeout: intSchema },
  oslo_messaging_notifications: {
    transport_url: transportUrlSchema,
    driver: z.string().refine((v) => v.split(',').every((d) => NOTIFY_DRIVERS.includes(d.trim())), { message: `must be one of ${NOTIFY_DRIVERS.join(', ')}` }),
    topics: z.string().regex(/^[A-Za-z0-9_.-]+(\s*,\s*[A-Za-z0-9_.-]+)*$/, 'must be a comma separated list of topic names, e.g. notifications'),
    retry: z.string().regex(/^-?\d+$/, 'must be a whole number (-1: retry forever)'),
  },
  oslo_messaging_amqp: {
    addressing_mode: z.enum(['dynamic', 'legacy', 'routable'], { message: 'must be dynamic, legacy or routable' }),
    connection_retry_interval: intSchema, connection_retry_backoff: intSchema, connection_retry_interval_max: intSchema,
    default_reply_timeout: intSchema, default_send_timeout: intSchema, default_notify_timeout: intSchema,
    reply_link_credit: intSchema, rpc_server_credit: intSchema, notify_server_credit: intSchema,
  },
  oslo_messaging_rabbit: { heartbeat_timeout_threshold: intSchema, rabbit_retry_interval: intSchema, amqp_durable_queues: boolSchema },
};

function validateKnownOptions(conf: OpenstackConf, file: string): void {
  for (const [section, keys] of Object.entries(KNOWN)) {
    for (const [key, schema] of Object.entries(keys)) {
      const entry = conf[section]?.[key];
      if (!entry || entry.value === '') continue;
      const r = schema.safeParse(entry.value);
      if (!r.success) {
        throw new LabError('bad-config', `${file} line ${entry.line} (in [${section}]): ${key} = ${entry.value} `
          + `${r.error.issues[0]?.message ?? 'is invalid'}`, `${section}.${key}`);
      }
    }
  }
}

/** The URL without passwords, fit for a slide or a log. */
export function redactUrl(url: string | null): string | null {
  if (!url) return url;
  return url.replace(/(:\/\/|,)([^:@/,]+):([^@/,]*)@/g, '$1$2:***@');
}

export function effectiveTransports(conf: OpenstackConf): EffectiveTransports {
  const rpc = conf.DEFAULT?.transport_url?.value || null;
  const notifSection = conf.oslo_messaging_notifications ?? {};
  const own = notifSection.transport_url?.value || conf.DEFAULT?.notification_transport_url?.value || null;
  const driver = notifSection.driver?.value || null;
  const topics = (notifSection.topics?.value || 'notifications').split(',').map((t) => t.trim()).filter(Boolean);
  return {
    rpc,
    notify: own ?? rpc,
    notifyFallsBackToRpc: own === null,
    notificationsEnabled: !!driver && driver.split(',').some((d) => d.trim() !== 'noop'),
    notificationDriver: driver,
    topics,
  };
}
