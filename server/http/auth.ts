// Token authentication, as Jupyter does it: a secret created on first start,
// printed inside the URL, kept by the browser in a cookie. Every endpoint that
// reads or changes lab state goes through here; so do WebSocket upgrades,
// which additionally must come from our own origin.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'hmlab_token';

/** Who a request speaks for. Workshop seats will add more principals. */
export interface Principal {
  kind: 'owner';
}

export function loadOrCreateToken(file: string): string {
  if (existsSync(file)) {
    const t = readFileSync(file, 'utf8').trim();
    if (t.length >= 32) return t;
  }
  mkdirSync(dirname(file), { recursive: true });
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    try { out[k] = decodeURIComponent(v); } catch { out[k] = v; }
  }
  return out;
}

/** Constant-time comparison of a presented secret with the real one. */
export function sameSecret(a: string | null | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Browsers send Origin on every WebSocket and POST, so a missing or foreign
 * Origin from a browser is refused. Non-browser clients (CLI, tests) may omit
 * Origin but must still present a token.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (!host) return false;
  try {
    const o = new URL(origin);
    return o.host === host && (o.protocol === 'http:' || o.protocol === 'https:');
  } catch {
    return false;
  }
}

export class Auth {
  constructor(readonly token: string) {}

  /** The token a request carries: ?token=, Authorization: Bearer, or the cookie. */
  presented(req: IncomingMessage): string | null {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams.get('token');
    if (q) return q;
    const h = req.headers.authorization;
    if (h && /^Bearer\s+/i.test(h)) return h.replace(/^Bearer\s+/i, '').trim();
    return parseCookies(req.headers.cookie)[TOKEN_COOKIE] ?? null;
  }

  authenticate(req: IncomingMessage): Principal | null {
    const t = this.presented(req);
    return sameSecret(t, this.token) ? { kind: 'owner' } : null;
  }

  /** WebSocket upgrades must come from our own origin (see sameOrigin). */
  originAllowed(req: IncomingMessage): boolean {
    return sameOrigin(req);
  }
}
