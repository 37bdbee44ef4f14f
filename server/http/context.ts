// What every concern gets from the lab server when it plugs in: an
// authenticated /api router, a WebSocket route table, the lab home. Concerns
// are small units with activate/dispose, like xterm.js addons.
import type { Router } from 'express';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Auth, Principal } from './auth.js';

export type WsHandler = (ws: WebSocket, req: IncomingMessage, who: Principal) => void;

export interface ServerContext {
  /** Lab home folder: configs, logs, data, the server's own state. */
  home: string;
  /** Mounted at /api, behind token authentication. Paths are relative: '/status'. */
  api: Router;
  /** Register a WebSocket endpoint (full path, e.g. '/api/events'); token and Origin are checked before the handler runs. */
  ws(path: string | RegExp, handler: WsHandler): void;
  auth: Auth;
  /** Where the Vite-built pages are. */
  webRoot: string;
  /** Base URL of this server, e.g. http://127.0.0.1:8080 */
  baseUrl(): string;
}

export interface ServerPlugin {
  name: string;
  activate(ctx: ServerContext): void | Promise<void>;
  dispose?(): void | Promise<void>;
}
