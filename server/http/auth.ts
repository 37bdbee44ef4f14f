// Token authentication, as Jupyter does it: a secret created on first start,
// printed inside the URL, kept by the browser in a cookie. Every endpoint that
// reads or changes lab state goes through here; so do WebSocket upgrades,
// which additionally must come from our own origin. The cookie is named after
// the server's port: cookies are scoped by host only, and two servers on one
// host must neither see nor overwrite each other's.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { isSameOrigin, tokenCookieName } from './security.js';

/** Who a request speaks for. Workshop seats will add more principals. */
export interface Principal {
  kind: 'owner';
}

/**
 * The server's token, kept in FILE readable by its owner only. An existing
 * file others could read (a copied home, a umask of 022) is tightened to 0600
 * before use; one we cannot tighten (not ours) is refused with what to do.
 */
export function loadOrCreateToken(file: string): string {
  if (existsSync(file)) {
    const st = statSync(file);
    if ((st.mode & 0o077) !== 0) {
      try { chmodSync(file, 0o600); } catch (err) {
        const mode = (st.mode & 0o777).toString(8);
        throw new Error(
          `the token file ${file} is readable by others (mode ${mode}) and cannot be made private ` +
          `(${(err as Error).message}): delete it or run "chmod 600" on it`,
        );
      }
    }
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

export class Auth {
  /** The cookie this server reads and sets; known once it listens. */
  cookieName: string | null;

  constructor(readonly token: string, port?: number) {
    this.cookieName = port ? tokenCookieName(port) : null;
  }

  /** Called once the server knows its port. */
  listening(port: number): void {
    this.cookieName = tokenCookieName(port);
  }

  /** The token a request carries: ?token=, Authorization: Bearer, or the cookie. */
  presented(req: IncomingMessage): string | null {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams.get('token');
    if (q) return q;
    const h = req.headers.authorization;
    if (h && /^Bearer\s+/i.test(h)) return h.replace(/^Bearer\s+/i, '').trim();
    return this.cookieName ? parseCookies(req.headers.cookie)[this.cookieName] ?? null : null;
  }

  authenticate(req: IncomingMessage): Principal | null {
    const t = this.presented(req);
    return sameSecret(t, this.token) ? { kind: 'owner' } : null;
  }

  /** WebSocket upgrades must come from our own origin (see isSameOrigin). */
  originAllowed(req: IncomingMessage): boolean {
    return isSameOrigin(req);
  }
}
