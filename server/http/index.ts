// The lab server: express for pages and the HTTP API, one WebSocket upgrade
// dispatcher for every live endpoint. Concerns (lab API, event stream,
// terminals, labs) plug in as ServerPlugins; this file only wires them up and
// enforces authentication in one place.
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import { PACKAGE_ROOT } from '../paths.js';
import { Auth, loadOrCreateToken } from './auth.js';
import { errorHandler, sendError } from './errors.js';
import { securityHeaders, stateChangeRefusal } from './security.js';
import type { ServerContext, ServerPlugin, WsHandler } from './context.js';

export type { ServerContext, ServerPlugin, WsHandler } from './context.js';
export { HttpError, errorHandler, httpErrorOf, parseBody, sendError } from './errors.js';
export { Auth, loadOrCreateToken, parseCookies, type Principal } from './auth.js';
export { tokenCookieName, isSameOrigin, stateChangeRefusal, contentSecurityPolicy, securityHeaders, REQUEST_HEADER, type Refusal } from './security.js';
export type { Operation, OperationOutcome } from './lab-api.js';

export interface LabServerOptions {
  home: string;
  host?: string; // default 127.0.0.1
  port?: number; // 0 = any free port
  /** Listen on this Unix socket instead of host:port (a workshop seat: the workshop server proxies to it). */
  socket?: string;
  webRoot?: string; // default: dist/web of this package
  plugins?: ServerPlugin[];
  /** Fixed token (tests); otherwise read or created under the home. */
  token?: string;
  /** The server's log: a request that fails on a defect is written here with its stack; default stderr. */
  log?: (line: string) => void;
}

export interface LabServer {
  url: string; // http://host:port
  token: string;
  /** The URL to open: carries the token once, the cookie keeps it. */
  openUrl: string;
  server: Server;
  close(): Promise<void>;
}

export async function startLabServer(opts: LabServerOptions): Promise<LabServer> {
  const host = opts.host ?? '127.0.0.1';
  const home = resolve(opts.home);
  const token = opts.token ?? loadOrCreateToken(join(home, 'server', 'token'));
  const auth = new Auth(token);
  const webRoot = opts.webRoot ?? join(PACKAGE_ROOT, 'dist', 'web');
  const plugins = opts.plugins ?? [];

  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);
  let baseUrl = '';
  app.use(securityHeaders({ inlineScriptsUnder: ['/slides'] }));

  // A page URL carrying a valid ?token= sets the cookie and redirects to the
  // same URL without it, so the secret does not linger in history or logs.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const q = typeof req.query.token === 'string' ? req.query.token : null;
    if (q && req.method === 'GET' && !req.path.startsWith('/api/')) {
      if (auth.authenticate(req)) {
        res.cookie(auth.cookieName!, q, { httpOnly: true, sameSite: 'strict', path: '/' });
        const u = new URL(req.originalUrl, 'http://x');
        u.searchParams.delete('token');
        res.redirect(302, u.pathname + (u.search || '') + (u.hash || ''));
        return;
      }
    }
    next();
  });

  const api = express.Router();
  // The token and the request's origin are checked before a byte of the body
  // is read: nobody without the token makes the server parse anything.
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    if (!auth.authenticate(req)) {
      sendError(res, 401, 'a valid token is required: open the URL printed by "hmlab serve", or send "Authorization: Bearer TOKEN"');
      return;
    }
    const refused = stateChangeRefusal(req);
    if (refused) { sendError(res, refused.status, refused.error); return; }
    next();
  }, express.json({ limit: '256kb' }), api);

  const wsRoutes: { path: string | RegExp; handler: WsHandler }[] = [];
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  const ctx: ServerContext = {
    home,
    api,
    ws(path, handler) { wsRoutes.push({ path, handler }); },
    auth,
    webRoot,
    baseUrl: () => baseUrl,
  };

  for (const p of plugins) await p.activate(ctx);

  // Pages: the Vite build. Authenticated pages are cheap to serve openly
  // (they hold no lab state); everything live goes through /api and /api/* WS.
  const page = (file: string) => (_req: Request, res: Response) => {
    const f = join(webRoot, file);
    if (!existsSync(f)) { sendError(res, 404, `page not built: run "npm run build" (missing ${file})`); return; }
    res.sendFile(f);
  };
  app.get('/terminal', page('widgets/pages/terminal.html'));
  // The workbook asks whether it runs in a workshop seat; a lab server of its own is not one.
  app.get('/workshop/me', (_req: Request, res: Response) => { res.status(204).end(); });
  app.get('/flow', page('widgets/pages/flow.html'));
  app.use(express.static(webRoot, { index: 'index.html', redirect: true }));
  app.use(express.static(join(PACKAGE_ROOT, 'public')));

  app.use('/api', (_req: Request, res: Response) => sendError(res, 404, 'no such API endpoint'));
  app.use(errorHandler(opts.log));

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const refuse = (code: number, text: string) => {
      socket.write(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${text}\n`);
      socket.destroy();
    };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = wsRoutes.find((r) => (typeof r.path === 'string' ? r.path === path : r.path.test(path)));
    if (!route) return refuse(404, 'Not Found');
    if (!auth.originAllowed(req)) return refuse(403, 'Forbidden');
    const who = auth.authenticate(req);
    if (!who) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      try { route.handler(ws, req, who); } catch (err) { ws.close(1011, String((err as Error).message).slice(0, 100)); }
    });
  });

  if (opts.socket) {
    // A socket left by a server that was killed would make listen fail with EADDRINUSE.
    rmSync(opts.socket, { force: true });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(opts.socket, () => { server.off('error', rej); res(); });
    });
    chmodSync(opts.socket, 0o600); // its user (and root, the workshop server) only
    baseUrl = `http://unix:${opts.socket}:`;
  } else {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(opts.port ?? 0, host, () => { server.off('error', rej); res(); });
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 0;
    auth.listening(port);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    baseUrl = `http://${shownHost}:${port}`;
  }

  return {
    url: baseUrl,
    token,
    openUrl: `${baseUrl}/?token=${token}`,
    server,
    async close() {
      // Stop listening first, so no page reconnects to a server whose plugins are ending.
      const stopped = new Promise<void>((r) => server.close(() => r()));
      for (const p of [...plugins].reverse()) { try { await p.dispose?.(); } catch { /* keep closing */ } }
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections?.();
      await stopped;
      if (opts.socket) rmSync(opts.socket, { force: true });
    },
  };
}
