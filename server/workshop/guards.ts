// The workshop server's cookies: one per kind (seat, host, the seat a host is
// viewing), each named after the port like the lab server's token cookie, so
// two servers on one host never see or overwrite each other's. The origin
// checks and security headers are the lab server's (server/http/security.ts).
import type { IncomingMessage } from 'node:http';
import { parseCookies } from '../http/index.js';

export const cookieName = (port: number, what: 'seat' | 'host' | 'view') => `hmlab_${what}_${port}`;

export function cookieOf(req: IncomingMessage, name: string): string | null {
  return parseCookies(req.headers.cookie)[name] ?? null;
}
