// Where a client attaches: transport URLs (oslo.messaging's
// scheme://[user[:pass]@]host[:port][,host[:port]...]/[vhost]), component
// endpoints (amqp://127.0.0.1:15810) and the bare host:port a driver reports
// when it connects. One parser and one comparison, so the server, the checks
// and the flow view agree on which component a connection went to.
//
// The rule: two endpoints are the same when host and port are. Every loopback
// name (localhost, 127.0.0.1, ::1, 0.0.0.0) counts as 127.0.0.1, because a lab
// listens on loopback and a learner may write any of them. A URL without a
// port takes its scheme's default port.
import type { ComponentStatus } from './wire.js';

export interface TransportHost { user: string | null; password: string | null; host: string; port: number | null }

export interface TransportUrl {
  scheme: string;
  hosts: TransportHost[];
  virtualHost: string;
}

const DEFAULT_PORTS: Record<string, number> = { amqp: 5672, rabbit: 5672, kombu: 5672, amqps: 5671, http: 80, https: 443, ws: 80, wss: 443 };

/** The port a scheme uses when a URL names none (rabbit+ssl counts as rabbit); null when unknown. */
export function defaultPort(scheme: string): number | null {
  return DEFAULT_PORTS[scheme.toLowerCase().split('+')[0]] ?? null;
}

const URL_RX = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([/?#].*)?$/i;
const HOST_RX = /^(?:([^:@]*)(?::([^@]*))?@)?([A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/;

function parseHost(part: string): TransportHost | null {
  const m = HOST_RX.exec(part.trim());
  if (!m) return null;
  const port = m[4] ? Number(m[4]) : null;
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { user: m[1] ?? null, password: m[2] ?? null, host: m[3], port };
}

/** Parses a URL with one or more comma-separated hosts; null when any part is malformed. */
export function parseTransportUrl(url: string): TransportUrl | null {
  const m = URL_RX.exec(url.trim());
  if (!m) return null;
  const hosts: TransportHost[] = [];
  for (const part of m[2] ? m[2].split(',') : []) {
    const h = parseHost(part);
    if (!h) return null;
    hosts.push(h);
  }
  const rest = m[3] ?? '/';
  return { scheme: m[1], hosts, virtualHost: rest.startsWith('/') ? rest.slice(1) : '' };
}

export function formatTransportUrl(u: TransportUrl): string {
  const hosts = u.hosts.map((h) => {
    const auth = h.user !== null ? `${h.user}${h.password !== null ? `:${h.password}` : ''}@` : '';
    return `${auth}${h.host}${h.port !== null ? `:${h.port}` : ''}`;
  });
  return `${u.scheme}://${hosts.join(',')}/${u.virtualHost}`;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

/** As a place to connect to, localhost, 127.0.0.1, ::1 (bracketed or not) and 0.0.0.0 all reach this machine's loopback. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase());
}

/**
 * As an address to listen on, whether only this machine can connect:
 * 127.0.0.1, localhost, ::1. Unlike isLoopback, 0.0.0.0 is not: listening
 * there means every interface.
 */
export function listensLocally(host: string): boolean {
  const h = host.toLowerCase();
  return h !== '0.0.0.0' && isLoopback(h);
}

/** A host in the one form endpoints compare by: loopback as 127.0.0.1, IPv6 without brackets, lower case. */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return isLoopback(h) ? '127.0.0.1' : h;
}

/** Where to connect: a canonical host and a port. */
export interface Endpoint { host: string; port: number }

/**
 * Every host of a transport URL (or of a bare host:port), user:pass@ dropped,
 * host canonical. A host without port and without a scheme default is left out.
 */
export function endpointsOf(s: string | null | undefined): Endpoint[] {
  if (!s) return [];
  let text = s.trim();
  // A driver may report an IPv6 host:port without brackets (::1:5672).
  if (!text.includes('://') && !text.includes('[') && (text.match(/:/g) ?? []).length > 1) {
    const i = text.lastIndexOf(':');
    text = `[${text.slice(0, i)}]${text.slice(i)}`;
  }
  const u = parseTransportUrl(text.includes('://') ? text : `x://${text}`);
  if (!u) return [];
  const fallback = text.includes('://') ? defaultPort(u.scheme) : null;
  const out: Endpoint[] = [];
  for (const h of u.hosts) {
    const port = h.port ?? fallback;
    if (port !== null) out.push({ host: canonicalHost(h.host), port });
  }
  return out;
}

/** The endpoint of a URL (amqp://127.0.0.1:15810), a transport URL (its first host) or host:port; null when it names no port. */
export function endpointOf(s: string | null | undefined): Endpoint | null {
  return endpointsOf(s)[0] ?? null;
}

/** endpointsOf as "host:port" keys, e.g. to compare two URLs' host lists. */
export function endpointKeys(s: string | null | undefined): string[] {
  return endpointsOf(s).map(formatEndpoint);
}

/** An endpoint as "host:port" (IPv6 in brackets): the key endpoints are compared and looked up by. */
export function formatEndpoint(e: Endpoint): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

// The flow view looks an endpoint up per event: remember the few a lab has.
const keys = new Map<string, string | null>();

/** endpointOf as a "host:port" key; null when it names no port. */
export function endpointKey(s: string | null | undefined): string | null {
  if (!s) return null;
  let k = keys.get(s);
  if (k === undefined) {
    const e = endpointOf(s);
    k = e ? formatEndpoint(e) : null;
    if (keys.size >= 512) keys.clear();
    keys.set(s, k);
  }
  return k;
}

/** Whether two endpoints, however written, are the same host and port. */
export function sameEndpoint(a: string | null | undefined, b: string | null | undefined): boolean {
  const ka = endpointKey(a);
  return ka !== null && ka === endpointKey(b);
}

/** The lab component listening on an endpoint (broker or router, by its own endpoint), if any. */
export function componentAt<C extends Pick<ComponentStatus, 'endpoint'>>(components: readonly C[], endpoint: string | null | undefined): C | null {
  const k = endpointKey(endpoint);
  if (k === null) return null;
  return components.find((c) => c.endpoint && endpointKey(c.endpoint) === k) ?? null;
}
