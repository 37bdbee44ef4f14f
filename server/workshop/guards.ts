// The workshop server's request guards, in one place: cookie names carrying
// the port (two servers on one host never share a cookie), a same-origin
// check for state-changing requests, and headers that forbid framing by
// other sites. Kept small so the lab server's shared versions can replace it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookies } from '../http/auth.js';

export { sameOrigin, sameSecret } from '../http/auth.js';

export const cookieName = (port: number, what: 'seat' | 'host' | 'view') => `hmlab_${port}_${what}`;

export function cookieOf(req: IncomingMessage, name: string): string | null {
  return parseCookies(req.headers.cookie)[name] ?? null;
}

export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "frame-ancestors 'self'");
  res.setHeader('X-Frame-Options', 'SAMEORIGIN');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
}
