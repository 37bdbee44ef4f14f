// Connections: listeners accept peers, connectors dial neighbours (and
// redial every second), each connection gets a record with its role; an
// inter-router connection joins the mesh once open. Losing a connection
// detaches its links. Decode errors close only the connection they hit.
import type { Connection, Container, Receiver } from 'rhea';
import { createServer, type Server, type Socket } from 'node:net';
import { CONNECTION_DEFAULTS, type ConnectionSettings, type ConnectorConfig, type ListenerConfig, type PolicyConfig, type Role } from './config.js';
import type { Links } from './links.js';
import type { LinkState } from './link-state.js';
import { HEARTBEAT_FLOOR_MS, connectionLimits, maxConnections, type ConnectionLimits } from './policy.js';
import {
  acceptConnection, clearHeartbeats, connectTo, guardOf, negotiateOpen, remoteOpenProperties, socketOf, writeCloseFrame,
  type ConnectionGuard, type RouterConnectionOptions,
} from './rhea-adapter.js';
import { VERSION } from '../version.js';
import { PRODUCT, SESSION_BUFFER, type ConnInfo, type RouterCore } from './types.js';

export class Connections {
  private readonly servers: Server[] = [];
  private readonly listenerByPort = new Map<number, ListenerConfig>();
  private readonly reconnectTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Connections accepted on a listener, watched for the handshake and idle timeouts. */
  private readonly accepted = new Map<Connection, { socket: Socket; since: number; limits: ConnectionLimits }>();
  private clients = 0; // sockets open on normal listeners, for maxConnections
  private readonly maxClients: number;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: RouterCore,
    private readonly container: Container,
    private readonly links: Links,
    private readonly linkState: Pick<LinkState, 'attach' | 'connectionLost'>,
    private readonly policy: PolicyConfig,
  ) {
    this.maxClients = maxConnections(policy);
  }

  private options(limits: ConnectionSettings): RouterConnectionOptions {
    return {
      properties: { product: PRODUCT, version: VERSION },
      offered_capabilities: ['ANONYMOUS-RELAY'],
      container_id: this.core.id,
      // as qdrouterd: announce half the timeout, so the peer's heartbeats come in time
      idle_time_out: limits.idleTimeoutSeconds * 500,
      max_frame_size: limits.maxFrameSize,
      channel_max: limits.maxSessions - 1,
      session_buffer_size: SESSION_BUFFER,
    };
  }

  private guardFor(limits: ConnectionLimits, describe: () => string): ConnectionGuard {
    const log = this.core.log;
    return {
      maxFrameSize: limits.maxFrameSize,
      channelMax: limits.maxSessions - 1,
      maxMessageSize: limits.maxMessageSize,
      lastFrame: Date.now(),
      creditViolation(link: Receiver) {
        const why = `transfer beyond the credit granted on link ${link.name}`;
        log.warning('POLICY', `Detaching link ${link.name} on connection ${describe()}: ${why} ` +
          '(amqp:link:transfer-limit-exceeded); further transfers on it are dropped');
        try { link.close({ condition: 'amqp:link:transfer-limit-exceeded', description: why }); } catch { /* already detached */ }
      },
      messageTooLarge(link: Receiver, size: number) {
        log.warning('POLICY', `Closing connection ${describe()}: a delivery on link ${link.name} reached ${size} bytes, ` +
          `above the maximum message size of ${limits.maxMessageSize}`);
        try { link.connection.close({ condition: 'amqp:connection:forced', description: 'Message size exceeded' }); } catch { /* gone */ }
      },
    };
  }

  listen(l: ListenerConfig): Promise<void> {
    return new Promise((resolve, reject) => {
      // Our own TCP server (not container.listen) so each connection's decode
      // errors reach a handler that can answer with an AMQP close.
      const limits = connectionLimits(this.policy, l, l.role);
      const server = createServer((socket) => {
        const peer = `${socket.remoteAddress}:${socket.remotePort}`;
        if (l.role === 'normal') {
          if (this.clients >= this.maxClients) {
            // as qdrouterd: the socket is closed before any AMQP
            this.core.log.warning('POLICY', `Connection from ${peer} refused: ${this.maxClients} client connections already open (policy maxConnections)`);
            socket.destroy();
            return;
          }
          this.clients++;
          socket.once('close', () => { this.clients--; });
        }
        socket.setNoDelay(true);
        const connection = acceptConnection(this.container, socket, this.options(limits), this.guardFor(limits, () => peer));
        this.accepted.set(connection, { socket, since: Date.now(), limits });
        socket.once('close', () => {
          this.accepted.delete(connection);
          // rhea only notices a socket the peer ended; one the router destroyed must be forgotten here
          clearHeartbeats(connection);
          this.onLost(connection, 'socket closed');
        });
        this.guard(connection, socket);
      });
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? `port ${l.port} is already in use; stop the other process or pick another port` : err.message;
        reject(new Error(`listener${l.name ? ` ${l.name}` : ''} on ${l.host}:${l.port} (line ${l.line}): ${why}`));
      });
      server.listen(l.port, l.host, () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : l.port;
        this.listenerByPort.set(port, l);
        this.servers.push(server);
        this.core.log.notice('SERVER', `Listening on ${l.host}:${port} role=${l.role}`);
        if (!this.sweepTimer) {
          this.sweepTimer = setInterval(() => this.sweep(), 1000);
          this.sweepTimer.unref();
        }
        resolve();
      });
    });
  }

  /** Garbage or a malformed frame: tell the peer with an AMQP close carrying
   *  the error, then rhea ends the socket. Only this connection is affected. */
  private guard(connection: Connection, socket: Socket): void {
    const onError = (err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      this.core.log.warning('SERVER', `Closing connection from ${socket.remoteAddress}:${socket.remotePort}: ${text}`);
      if (!(err instanceof Error && err.name === 'ProtocolError')) this.core.log.debug('SERVER', (err as Error)?.stack ?? text);
      const condition = (err as { condition?: unknown })?.condition;
      writeCloseFrame(socket, typeof condition === 'string' ? condition : 'amqp:decode-error', text);
    };
    connection.on('protocol_error', onError);
    connection.on('error', onError);
  }

  /** Ports actually bound (listeners with port 0 get one from the OS). */
  boundPorts(): { port: number; role: Role }[] {
    return [...this.listenerByPort].map(([port, l]) => ({ port, role: l.role }));
  }

  /** Close what has not opened in time, and what has sent no complete frame
   *  for the idle timeout (rhea's own idle timer misses a frame left half sent). */
  private sweep(): void {
    const now = Date.now();
    for (const [connection, a] of this.accepted) {
      const peer = `${a.socket.remoteAddress}:${a.socket.remotePort}`;
      const opened = connection.is_remote_open();
      const handshake = a.limits.initialHandshakeTimeoutSeconds * 1000;
      const idle = a.limits.idleTimeoutSeconds * 1000;
      const last = guardOf(connection)?.lastFrame ?? a.since;
      let why: string | null = null;
      if (!opened && handshake && now - a.since > handshake) {
        why = `no AMQP Open within ${a.limits.initialHandshakeTimeoutSeconds} s (initialHandshakeTimeoutSeconds)`;
      }
      else if (idle && now - Math.max(last, a.since) > idle) why = `no complete frame for ${a.limits.idleTimeoutSeconds} s (idleTimeoutSeconds)`;
      if (!why) continue;
      this.accepted.delete(connection);
      this.core.log.info('SERVER', `Closing connection from ${peer}: ${why}`);
      if (opened) {
        try { connection.close({ condition: 'amqp:resource-limit-exceeded', description: 'local-idle-timeout expired' }); } catch { /* gone */ }
        setTimeout(() => a.socket.destroy(), 1000).unref();
      } else {
        if (!handshake || now - a.since <= handshake) writeCloseFrame(a.socket, 'amqp:resource-limit-exceeded', 'local-idle-timeout expired');
        a.socket.end();
        setTimeout(() => a.socket.destroy(), 1000).unref();
      }
    }
  }

  connect(c: ConnectorConfig): void {
    if (this.stopping) return;
    const limits = connectionLimits(this.policy, c, c.role);
    const host = `${c.host}:${c.port}`;
    const options = { ...this.options(limits), host: c.host, port: c.port, reconnect: false, username: 'anonymous' };
    const connection = connectTo(this.container, options, this.guardFor(limits, () => host));
    const info = this.add(connection, c.role, 'out', host, limits);
    info.connector = c;
    info.cost = c.cost;
  }

  private scheduleReconnect(c: ConnectorConfig): void {
    if (this.stopping) return;
    const t = setTimeout(() => { this.reconnectTimers.delete(t); this.connect(c); }, 1000);
    this.reconnectTimers.add(t);
  }

  /** Close every connection with an AMQP close (sockets that do not answer in 500 ms are destroyed). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.reconnectTimers) clearTimeout(t);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of this.servers) s.close();
    const closing = [...this.core.connections.values()].map((c) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { try { socketOf(c.connection)?.destroy(); } catch { /* gone */ } resolve(); }, 500);
      c.connection.once('disconnected', () => { clearTimeout(t); resolve(); });
      c.connection.once('connection_close', () => { clearTimeout(t); setTimeout(resolve, 20); });
      try { c.connection.close({ condition: 'amqp:connection:forced', description: 'router shutting down' }); } catch { clearTimeout(t); resolve(); }
    }));
    await Promise.all(closing);
  }

  private add(connection: Connection, role: Role, dir: 'in' | 'out', host: string, limits: ConnectionLimits): ConnInfo {
    const info: ConnInfo = {
      identity: this.core.nextIdentity(), connection, role, dir, host, container: '', opened: 0, cost: 1, properties: {}, links: new Set(), limits,
    };
    this.core.connections.set(connection, info);
    return info;
  }

  /** The record of a connection, made on first sight for one a listener accepted. */
  info(connection: Connection): ConnInfo {
    let info = this.core.connections.get(connection);
    if (!info) {
      const socket = socketOf(connection);
      const l = socket?.localPort !== undefined ? this.listenerByPort.get(socket.localPort) : undefined;
      const host = socket ? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` : '?';
      const limits = this.accepted.get(connection)?.limits ?? connectionLimits(this.policy, l ?? CONNECTION_DEFAULTS, l?.role ?? 'normal');
      info = this.add(connection, l?.role ?? 'normal', 'in', host, limits);
      info.cost = l?.cost ?? 1;
    }
    return info;
  }

  onOpen(connection: Connection): void {
    const info = this.info(connection);
    // small frames both ways (transfers, dispositions): Nagle would add tens of ms
    socketOf(connection)?.setNoDelay?.(true);
    info.opened = Date.now();
    const asked = negotiateOpen(connection, HEARTBEAT_FLOOR_MS);
    if (typeof asked.maxFrameSize === 'number' && asked.maxFrameSize < 512) {
      this.core.log.info('SERVER', `Connection ${info.host} asked for max-frame-size ${asked.maxFrameSize}, below AMQP's minimum: using 512`);
    }
    if (asked.idleTimeOut && asked.idleTimeOut < 2 * HEARTBEAT_FLOOR_MS) {
      this.core.log.info('SERVER', `Connection ${info.host} asked for idle-time-out ${asked.idleTimeOut} ms: ` +
        `heartbeats go out every ${HEARTBEAT_FLOOR_MS} ms at most`);
    }
    info.container = connection.container_id ?? '';
    info.properties = remoteOpenProperties(connection);
    this.core.log.info('SERVER', `Connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host} (container ${info.container}) opened, role=${info.role}`);
    if (info.role === 'inter-router') {
      const product = info.properties.product;
      if (product !== PRODUCT) {
        // a client (or another router product) on an inter-router port: say so instead of half-working
        const why = info.dir === 'in'
          ? `this is an inter-router listener of ${this.core.id}: only ${PRODUCT} routers connect here; clients use a normal listener`
          : `${info.host} is not an ${PRODUCT} inter-router listener (peer product ${String(product ?? 'none')})`;
        this.core.log.warning('ROUTER', `Refusing inter-router connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host}: ${why}`);
        connection.close({ condition: 'amqp:unauthorized-access', description: why });
        return;
      }
      if (info.dir === 'out') this.core.log.info('ROUTER', `Connected to router ${info.container} via ${info.host}`);
      this.linkState.attach(info);
    }
  }

  onLost(connection: Connection, why?: string): void {
    const info = this.core.connections.get(connection);
    if (!info) return;
    this.core.connections.delete(connection);
    const fromTo = info.dir === 'in' ? 'from' : 'to';
    this.core.log.info('SERVER', `Connection ${fromTo} ${info.host} (container ${info.container || '?'}) closed${why ? `: ${why}` : ''}`);
    for (const l of [...info.links]) this.links.detach(l, 'connection lost');
    this.linkState.connectionLost(info);
    if (info.connector) this.scheduleReconnect(info.connector);
  }

  /** Drop a connection now (a neighbour gone silent): forget it, then end its socket. */
  drop(info: ConnInfo, why: string): void {
    const socket = socketOf(info.connection);
    this.onLost(info.connection, why);
    socket?.destroy();
  }
}
