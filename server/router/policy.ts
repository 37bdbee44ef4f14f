// Limits a peer gets, as qdrouterd's listener attributes and policy name
// them: frame size, sessions, idle and handshake timeouts per connection;
// connections per router; message size and links per connection from the
// policy and its `$default` vhost group (only on client connections: as in
// qdrouterd, the policy does not apply between interior routers).
import type { ConnectionSettings, PolicyConfig, Role } from './config.js';
import { POLICY_DEFAULTS } from './config.js';

/** qdrouterd streams a message through; the embedded router holds each one
 *  whole, so with no policy limit it still refuses messages above this. */
export const MESSAGE_SIZE_CEILING = 64 * 1024 * 1024;
/** A peer announcing a tiny idle-time-out would get heartbeats as fast as
 *  timers fire: the router sends them no more often than this. */
export const HEARTBEAT_FLOOR_MS = 1000;

export interface ConnectionLimits extends ConnectionSettings {
  maxMessageSize: number; // effective: never 0
  maxSenders: number; // links the peer sends on
  maxReceivers: number; // links the peer receives on
}

export function connectionLimits(policy: PolicyConfig, settings: ConnectionSettings, role: Role): ConnectionLimits {
  const group = policy.enableVhostPolicy && role === 'normal' ? policy.vhost?.group : undefined;
  const policed = role === 'normal'
    ? group?.maxMessageSize ?? (policy.enableVhostPolicy ? policy.vhost?.maxMessageSize : undefined) ?? policy.maxMessageSize
    : 0;
  return {
    maxFrameSize: group?.maxFrameSize ?? settings.maxFrameSize,
    maxSessions: group?.maxSessions ?? settings.maxSessions,
    idleTimeoutSeconds: settings.idleTimeoutSeconds,
    initialHandshakeTimeoutSeconds: settings.initialHandshakeTimeoutSeconds,
    maxMessageSize: policed > 0 ? policed : MESSAGE_SIZE_CEILING,
    maxSenders: group?.maxSenders ?? POLICY_DEFAULTS.maxSenders,
    maxReceivers: group?.maxReceivers ?? POLICY_DEFAULTS.maxReceivers,
  };
}

/** Client connections the router holds at once (policy maxConnections, and the vhost's when enabled). */
export function maxConnections(policy: PolicyConfig): number {
  const vhost = policy.enableVhostPolicy ? policy.vhost?.maxConnections : undefined;
  return Math.min(policy.maxConnections, vhost ?? Infinity);
}
