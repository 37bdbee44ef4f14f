// Connections: listeners accept peers, connectors dial neighbours (and
// redial every second), each connection gets a record with its role; an
// inter-router connection joins the mesh once open. Losing a connection
// detaches its links. Decode errors close only the connection they hit.
import type { Connection, Container } from 'rhea';
import { createServer, type Server, type Socket } from 'node:net';
import type { ConnectorConfig, ListenerConfig, Role } from './config.js';
import type { Links } from './links.js';
import type { LinkState } from './link-state.js';
import { acceptConnection, connectTo, remoteOpenProperties, socketOf, writeCloseFrame, type RouterConnectionOptions } from './rhea-adapter.js';
import { VERSION } from '../version.js';
import { PRODUCT, SESSION_BUFFER, type ConnInfo, type RouterCore } from './types.js';

export class Connections {
  private readonly servers: Server[] = [];
  private readonly listenerByPort = new Map<number, ListenerConfig>();
  private readonly reconnectTimers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly core: RouterCore,
    private readonly container: Container,
    private readonly links: Links,
    private readonly linkState: Pick<LinkState, 'attach' | 'connectionLost'>,
  ) {}

  private options(): RouterConnectionOptions {
    return {
      properties: { product: PRODUCT, version: VERSION },
      offered_capabilities: ['ANONYMOUS-RELAY'],
      container_id: this.core.id,
      idle_time_out: 16000,
      session_buffer_size: SESSION_BUFFER,
    };
  }

  listen(l: ListenerConfig): Promise<void> {
    return new Promise((resolve, reject) => {
      // Our own TCP server (not container.listen) so each connection's decode
      // errors reach a handler that can answer with an AMQP close.
      const server = createServer((socket) => {
        socket.setNoDelay(true);
        const connection = acceptConnection(this.container, socket, this.options());
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
      writeCloseFrame(socket, 'amqp:decode-error', text);
    };
    connection.on('protocol_error', onError);
    connection.on('error', onError);
  }

  /** Ports actually bound (listeners with port 0 get one from the OS). */
  boundPorts(): { port: number; role: Role }[] {
    return [...this.listenerByPort].map(([port, l]) => ({ port, role: l.role }));
  }

  connect(c: ConnectorConfig): void {
    if (this.stopping) return;
    const connection = connectTo(this.container, { ...this.options(), host: c.host, port: c.port, reconnect: false, username: 'anonymous' });
    const info = this.add(connection, c.role, 'out', `${c.host}:${c.port}`);
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
    for (const s of this.servers) s.close();
    const closing = [...this.core.connections.values()].map((c) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { try { socketOf(c.connection)?.destroy(); } catch { /* gone */ } resolve(); }, 500);
      c.connection.once('disconnected', () => { clearTimeout(t); resolve(); });
      c.connection.once('connection_close', () => { clearTimeout(t); setTimeout(resolve, 20); });
      try { c.connection.close({ condition: 'amqp:connection:forced', description: 'router shutting down' }); } catch { clearTimeout(t); resolve(); }
    }));
    await Promise.all(closing);
  }

  private add(connection: Connection, role: Role, dir: 'in' | 'out', host: string): ConnInfo {
    const info: ConnInfo = { identity: this.core.nextIdentity(), connection, role, dir, host, container: '', opened: 0, cost: 1, properties: {}, links: new Set() };
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
      info = this.add(connection, l?.role ?? 'normal', 'in', host);
      info.cost = l?.cost ?? 1;
    }
    return info;
  }

  onOpen(connection: Connection): void {
    const info = this.info(connection);
    // small frames both ways (transfers, dispositions): Nagle would add tens of ms
    socketOf(connection)?.setNoDelay?.(true);
    info.opened = Date.now();
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
    this.core.log.info('SERVER', `Connection ${info.dir === 'in' ? 'from' : 'to'} ${info.host} (container ${info.container || '?'}) closed${why ? `: ${why}` : ''}`);
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
