// Which server answered an RPC call, as the services report it. Shared by the
// lab server (lab checks, `hmlab wan heal`) and the flow view.
import type { ServiceEvent } from './wire.js';

/**
 * The server that answered a call: the one its reply names (a call to the
 * topic is answered by whichever server the router's distribution picked),
 * else the server the call named (nobody else can answer that). Null for a
 * call that failed or a topic call from a service that does not say.
 */
export function answeredBy(e: ServiceEvent): string | null {
  if (e.kind !== 'rpc.call' || e.ok === false) return null;
  return e.answeredBy ?? e.target?.server ?? null;
}
