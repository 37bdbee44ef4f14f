// The terminals' endpoints on the lab server:
//   WS     /api/terminals/NAME[?cols=&rows=&readonly=1]  attach to a session
//   GET    /api/terminals                                 live sessions
//   POST   /api/terminals/NAME/input  {"data": "..."}     type into a session (run-in-terminal)
//   DELETE /api/terminals/NAME                            end a session
// Token and Origin are checked by the server core before any of this runs,
// so a refused connection never starts a shell.
import type { Request, Response } from 'express';
import type { WebSocket } from 'ws';
import { HttpError, parseBody, type ServerContext, type ServerPlugin } from '../http/index.js';
import { TERMINAL_CLOSE, TERMINAL_NAME_HINT, type TerminalServerMessage } from '../../widgets/terminal/protocol.js';
import { connectQuery, describeQueryError, inputRequest, parseClientFrame, terminalName } from './protocol.js';
import { TerminalManager, TerminalsStopping, TooManySessions, type TerminalManagerOptions } from './manager.js';
import { InputRefused, type TerminalClient } from './session.js';

export interface TerminalsPluginOptions extends Omit<TerminalManagerOptions, 'home' | 'shell'> {
  /** Run this instead of the lab's bash (argv); environment and cwd stay the lab's. */
  shell?: string | string[];
  /** Ping interval for attached clients; a client that misses a pong is dropped. */
  heartbeatMs?: number;
  /** Most WebSocket clients attached at once, over all sessions. Default 32. */
  maxClients?: number;
}

export interface TerminalsPlugin extends ServerPlugin {
  /** The sessions, once activated (tests and other concerns may inspect them). */
  readonly manager: TerminalManager | null;
}

const WS_PATH = /^\/api\/terminals\/([^/]*)$/;

function send(ws: WebSocket, m: TerminalServerMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
}

function nameParam(req: Request): string {
  const r = terminalName.safeParse(req.params.name);
  if (!r.success) throw new HttpError(400, `"name": ${TERMINAL_NAME_HINT}`, 'name');
  return r.data;
}

export function terminalsPlugin(opts: TerminalsPluginOptions = {}): TerminalsPlugin {
  let manager: TerminalManager | null = null;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const maxClients = opts.maxClients ?? 32;
  let clients = 0; // every attached socket holds a screen copy and output buffers: bound them

  function attach(ws: WebSocket, url: URL): void {
    ws.on('error', () => { /* a broken socket ends in 'close' */ });
    const m = WS_PATH.exec(url.pathname);
    const name = terminalName.safeParse(decodeURIComponent(m?.[1] ?? ''));
    if (!name.success) {
      send(ws, { type: 'error', message: `terminal name "${m?.[1] ?? ''}" is not valid: ${TERMINAL_NAME_HINT}` });
      ws.close(TERMINAL_CLOSE.invalid, 'invalid terminal name');
      return;
    }
    const query = connectQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) {
      send(ws, { type: 'error', message: `connection query: ${describeQueryError(query.error)}` });
      ws.close(TERMINAL_CLOSE.invalid, 'invalid query');
      return;
    }
    if (clients >= maxClients) {
      send(ws, { type: 'error', message: `too many terminal connections (${maxClients}): close a tab or window showing a terminal, then reconnect` });
      ws.close(TERMINAL_CLOSE.full, 'too many terminal connections');
      return;
    }
    const readOnly = query.data.readonly === '1' || query.data.readonly === 'true';
    const size = { cols: query.data.cols, rows: query.data.rows };
    let session;
    try {
      session = manager!.open(name.data, readOnly ? undefined : size);
    } catch (err) {
      // Stopping: close as the server's own shutdown does, so the page retries rather than reports a failure.
      if (err instanceof TerminalsStopping) { ws.close(TERMINAL_CLOSE.shutdown, 'lab server stopping'); return; }
      send(ws, { type: 'error', message: (err as Error).message });
      ws.close(err instanceof TooManySessions ? TERMINAL_CLOSE.full : 1011, err instanceof TooManySessions ? 'too many terminals' : 'terminal failed to start');
      return;
    }
    // A writer attaching with its size makes the first screen fit it.
    if (!readOnly && size.cols && size.rows) session.resize(size.cols, size.rows);

    const client: TerminalClient = {
      send: (f) => { if (ws.readyState === ws.OPEN) ws.send(f); },
      get bufferedAmount() { return ws.bufferedAmount; },
      close: (code, reason) => { if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason); },
      readOnly,
    };
    session.attach(client);
    clients++;

    let alive = true;
    ws.on('pong', () => { alive = true; });
    const beat = setInterval(() => {
      if (!alive) { ws.terminate(); return; }
      alive = false;
      try { ws.ping(); } catch { /* closing */ }
    }, heartbeatMs);
    beat.unref();

    ws.on('message', (raw, isBinary) => {
      const parsed = parseClientFrame(raw as Buffer, isBinary);
      if (!parsed.ok) { send(ws, { type: 'error', message: parsed.error }); return; }
      const msg = parsed.message;
      if (msg.type === 'ping') { send(ws, { type: 'pong' }); return; }
      if (readOnly) { send(ws, { type: 'error', message: 'this connection is read-only: connect without ?readonly=1 to type' }); return; }
      if (!session.alive) return;
      try {
        if (msg.type === 'input') session.input(msg.data);
        else session.resize(msg.cols, msg.rows);
      } catch (err) {
        // Never let one frame take the server down: report it to this client.
        send(ws, { type: 'error', message: err instanceof InputRefused ? err.message : `terminal error: ${(err as Error).message}` });
      }
    });
    ws.on('close', () => {
      clients--;
      clearInterval(beat);
      session.detach(client);
    });
  }

  const plugin: TerminalsPlugin = {
    name: 'terminals',
    get manager() { return manager; },
    activate(ctx: ServerContext) {
      const shell = typeof opts.shell === 'string' ? [opts.shell] : opts.shell;
      manager = new TerminalManager({ ...opts, shell, home: ctx.home });

      ctx.ws(WS_PATH, (ws, req) => attach(ws, new URL(req.url ?? '/', 'http://x')));

      ctx.api.get('/terminals', (_req: Request, res: Response) => {
        res.json({ terminals: manager!.list() });
      });
      ctx.api.post('/terminals/:name/input', (req: Request, res: Response) => {
        const name = nameParam(req);
        const body = parseBody(inputRequest, req.body);
        let session;
        try {
          session = manager!.open(name);
        } catch (err) {
          if (err instanceof TooManySessions) throw new HttpError(429, err.message);
          if (err instanceof TerminalsStopping) throw new HttpError(503, err.message);
          throw err;
        }
        try {
          session.input(body.data);
        } catch (err) {
          if (err instanceof InputRefused) throw new HttpError(429, err.message, 'data');
          throw err;
        }
        res.status(202).json({ ok: true, terminal: session.info() });
      });
      ctx.api.delete('/terminals/:name', async (req: Request, res: Response) => {
        const name = nameParam(req);
        if (!(await manager!.close(name))) throw new HttpError(404, `no terminal named "${name}" is open`, 'name');
        res.status(204).end();
      });
    },
    async dispose() {
      await manager?.dispose();
    },
  };
  return plugin;
}
