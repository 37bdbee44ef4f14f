// The event stream, WebSocket /api/events: a `hello` with the lab's status and
// the latest router and broker snapshots first, then every LabEvent as it
// happens, one JSON text frame each. A slow client loses sampled detail
// (message events, rates, snapshots) before it loses state changes, and is cut
// off only when hopelessly behind, so it can never hold the server's memory.
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { LabEvent } from '../../common/wire.js';
import type { ServerContext, ServerPlugin } from './context.js';
import type { LabRuntime } from './lab-api.js';

export const EVENTS_PATH = '/api/events';
const SHED_BYTES = 1 << 20; // above this, only state changes go out
const CUT_BYTES = 16 << 20;
const DETAIL = new Set<LabEvent['type']>(['message', 'rates', 'router', 'broker']);

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status') }), // ask for a fresh status event
  z.object({ type: z.literal('ping'), t: z.number().optional() }),
]);

/** Most /api/events clients at once: each holds a subscription and up to CUT_BYTES of buffer. */
export const MAX_EVENT_CLIENTS = 32;

export function eventsPlugin(rt: LabRuntime, opts: { maxClients?: number } = {}): ServerPlugin {
  const sockets = new Set<WebSocket>();
  const maxClients = opts.maxClients ?? MAX_EVENT_CLIENTS;
  let heartbeat: NodeJS.Timeout | null = null;
  return {
    name: 'events',
    activate(ctx: ServerContext) {
      ctx.ws(EVENTS_PATH, (ws) => {
        if (sockets.size >= maxClients) {
          const message = `too many event stream clients (${maxClients}): close a page showing the lab, then reload`;
          ws.send(JSON.stringify({ type: 'error', t: Date.now(), message } satisfies LabEvent));
          ws.close(1013, 'too many event stream clients');
          return;
        }
        sockets.add(ws);
        let alive = true;
        const queue: LabEvent[] = []; // events published while hello is being prepared
        let ready = false;
        const send = (e: LabEvent) => {
          if (ws.readyState !== ws.OPEN) return;
          if (ws.bufferedAmount > CUT_BYTES) { ws.terminate(); return; }
          if (ws.bufferedAmount > SHED_BYTES && DETAIL.has(e.type)) return;
          ws.send(JSON.stringify(e));
        };
        const unsubscribe = rt.bus.subscribe((e) => { if (ready) send(e); else queue.push(e); });
        ws.on('pong', () => { alive = true; });
        (ws as WebSocket & { isAlive?: () => boolean; markDead?: () => void }).isAlive = () => { const a = alive; alive = false; return a; };
        ws.on('close', () => { unsubscribe(); sockets.delete(ws); });
        ws.on('error', () => { /* the close handler cleans up */ });
        ws.on('message', (data) => {
          let parsed: unknown;
          try { parsed = JSON.parse(String(data)); } catch { parsed = undefined; }
          const m = clientMessage.safeParse(parsed);
          if (!m.success) {
            send({ type: 'error', t: Date.now(), message: 'unknown message on /api/events: send {"type":"status"} or {"type":"ping"}' });
            return;
          }
          if (m.data.type === 'status') {
            rt.observer.status().then((status) => send({ type: 'status', t: Date.now(), status }))
              .catch((err) => send({ type: 'error', t: Date.now(), message: `lab status unavailable: ${(err as Error).message}` }));
          }
        });
        const greet = async () => {
          let status = rt.bus.status;
          if (!status) { try { status = await rt.observer.status(); } catch { status = null; } }
          const t = Date.now();
          if (status) send({ type: 'hello', t, status });
          else send({ type: 'error', t, message: 'lab status unavailable' });
          for (const e of rt.bus.snapshot(t)) send(e);
          ready = true;
          for (const e of queue.splice(0)) send(e);
        };
        void greet();
      });
      // find clients that vanished without a close (a laptop lid shut mid-demo)
      heartbeat = setInterval(() => {
        for (const ws of sockets) {
          const s = ws as WebSocket & { isAlive?: () => boolean };
          if (s.isAlive && !s.isAlive()) { ws.terminate(); continue; }
          try { ws.ping(); } catch { /* closing */ }
        }
      }, 30000);
      heartbeat.unref?.();
    },
    dispose() {
      if (heartbeat) clearInterval(heartbeat);
      for (const ws of sockets) ws.terminate();
      sockets.clear();
    },
  };
}
