// What keeps other pages on this host away from a lab server: browsers scope
// cookies by host, not port, and treat every port of 127.0.0.1 as one site, so
// neither SameSite nor the cookie alone tells our own pages from a page served
// by anything else on the machine. Reused by every server the project runs
// (the lab server, the workshop server).
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';

/** The token cookie of the server on this port: one per server, as Jupyter names its cookies. */
export function tokenCookieName(port: number): string {
  return `hmlab_token_${port}`;
}

/**
 * Whether a request comes from a page of this very server (scheme, host and
 * port). A missing Origin is a non-browser client (CLI, tests): browsers send
 * one on every WebSocket and every POST, PUT, PATCH, DELETE. Sec-Fetch-Site,
 * when a browser sends it, must agree.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
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

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A header no cross-site "simple" request can carry: clients that send no JSON body send this instead. */
export const REQUEST_HEADER = 'x-hmlab-request';

function isJson(req: IncomingMessage): boolean {
  const t = req.headers['content-type'];
  return typeof t === 'string' && /^application\/json\s*(;|$)/i.test(t.trim());
}

export interface Refusal { status: 403 | 415; error: string }

/**
 * Why a state-changing request must be refused, or null. A page elsewhere can
 * send a "simple" POST with the cookie attached (fetch with mode "no-cors", a
 * form), but it cannot send a JSON content type, a custom header or an
 * Authorization header without a CORS preflight we never answer; and its
 * Origin is not ours.
 */
export function stateChangeRefusal(req: IncomingMessage): Refusal | null {
  if (!STATE_CHANGING.has(req.method ?? '')) return null;
  if (!isSameOrigin(req)) {
    const origin = JSON.stringify(req.headers.origin ?? req.headers['sec-fetch-site'] ?? '');
    return { status: 403, error: `requests that change the lab must come from this server's own pages (Origin ${origin} refused)` };
  }
  if (isJson(req) || req.headers[REQUEST_HEADER] !== undefined || req.headers.authorization !== undefined) return null;
  const type = req.headers['content-type'];
  if (typeof type === 'string' && type.trim()) {
    return { status: 415, error: `unsupported content type "${type.slice(0, 80)}": send Content-Type: application/json` };
  }
  return { status: 403, error: `requests that change the lab must send Content-Type: application/json or the header "X-Hmlab-Request: 1"` };
}

/**
 * The pages load nothing from elsewhere: scripts, styles, fonts, images and
 * connections are our own (WebSockets included), and only our own pages may
 * frame them, so a page on another port cannot wrap a live shell in a frame.
 * Styles allow inline attributes (reveal.js, d3 and xterm.js set them);
 * images allow data: and blob: (diagrams, the flow view's snapshots).
 */
export function contentSecurityPolicy(opts: { inlineScripts?: boolean } = {}): string {
  return [
    "default-src 'self'",
    // reveal.js's speaker view writes its script into an about:blank window,
    // which inherits the deck's policy: only the deck allows inline scripts.
    `script-src 'self'${opts.inlineScripts ? " 'unsafe-inline'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "frame-ancestors 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** Headers on every answer: the CSP above, no framing by others, no MIME sniffing, no referrer leaving the host. */
export function securityHeaders(opts: { inlineScriptsUnder?: string[] } = {}) {
  const strict = contentSecurityPolicy();
  const inline = contentSecurityPolicy({ inlineScripts: true });
  const under = opts.inlineScriptsUnder ?? [];
  return (req: Request, res: Response, next: NextFunction): void => {
    const loose = under.some((p) => req.path === p || req.path.startsWith(p.endsWith('/') ? p : `${p}/`));
    res.setHeader('Content-Security-Policy', loose ? inline : strict);
    res.setHeader('X-Frame-Options', 'SAMEORIGIN');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  };
}
