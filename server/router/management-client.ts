// AMQP management client (the protocol qdstat speaks): one request/response
// pair of links to `$management`, usable against qdrouterd and the embedded
// router alike. Observers, lab checks and `hmlab qdstat` share it.
import rhea from 'rhea';
import type { Connection, Receiver, Sender, EventContext } from 'rhea';
import { clearHeartbeats, dynamicSource, socketOf } from './rhea-adapter.js';

export { clearHeartbeats };

export const ENTITY_PREFIX = 'org.apache.qpid.dispatch.';

/** 'router.node' -> 'org.apache.qpid.dispatch.router.node'; full names pass through. */
export function expandEntityType(entityType: string): string {
  if (entityType.startsWith('org.')) return entityType;
  return ENTITY_PREFIX + entityType;
}

export interface ManagementClientOptions {
  timeoutMs?: number; // per operation, including connect (default 3000)
  username?: string; // SASL PLAIN when given, else ANONYMOUS
  password?: string;
  containerId?: string;
}

export class ManagementError extends Error {
  constructor(message: string, readonly statusCode?: number) {
    super(message);
  }
}

interface ManagementReply { properties: Record<string, unknown>; body: unknown }

interface Pending {
  resolve: (v: ManagementReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

let nextCorrelation = 1;


export class ManagementClient {
  private pending = new Map<string, Pending>();
  private closed = false;
  readonly product?: string;
  readonly version?: string;
  readonly containerId?: string;

  private constructor(
    private readonly connection: Connection,
    private readonly sender: Sender,
    private readonly receiver: Receiver,
    private readonly replyTo: string,
    private readonly timeoutMs: number,
    private readonly where: string,
  ) {
    const props = (connection.properties ?? {}) as Record<string, unknown>;
    this.product = typeof props.product === 'string' ? props.product : undefined;
    this.version = typeof props.version === 'string' ? props.version : undefined;
    this.containerId = connection.container_id;
    receiver.on('message', (ctx: EventContext) => this.onReply(ctx));
    const failAll = (why: string) => {
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new ManagementError(`management connection to ${this.where} ${why}`));
        this.pending.delete(id);
      }
    };
    connection.on('disconnected', () => { failAll('was lost'); clearHeartbeats(connection); });
    connection.on('connection_close', () => failAll('was closed by the peer'));
  }

  static async connect(host: string, port: number, opts: ManagementClientOptions = {}): Promise<ManagementClient> {
    const timeoutMs = opts.timeoutMs ?? 3000;
    const where = `${host}:${port}`;
    const container = rhea.create_container({ id: opts.containerId ?? `hmlab-mgmt-${process.pid}-${rhea.generate_uuid().slice(0, 8)}` });
    const connection = container.connect({
      host,
      port,
      reconnect: false,
      // SASL PLAIN when credentials are given, else SASL ANONYMOUS (qdrouterd's default)
      username: opts.username ?? 'anonymous',
      password: opts.password,
      idle_time_out: 0,
    } as Parameters<typeof container.connect>[0]);
    // rhea emits errors on the container when nobody listens; keep them from crashing the process
    connection.on('error', () => {});
    container.on('error', () => {});

    return await new Promise<ManagementClient>((resolve, reject) => {
      let done = false;
      const fail = (msg: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try { connection.close(); } catch { /* already gone */ }
        try { socketOf(connection)?.destroy(); } catch { /* ignore */ }
        clearHeartbeats(connection);
        reject(new ManagementError(msg));
      };
      const timer = setTimeout(() => fail(`no AMQP management answer from ${where} within ${timeoutMs} ms`), timeoutMs);
      connection.once('disconnected', (ctx: EventContext) => {
        const err = (ctx as { error?: Error }).error;
        fail(`cannot connect to ${where}: ${err?.message ?? 'connection refused or closed'}`);
      });
      connection.once('connection_error', (ctx: EventContext) => {
        fail(`connection to ${where} refused: ${ctx.connection.error ? JSON.stringify(ctx.connection.error) : 'unknown error'}`);
      });
      connection.once('connection_open', () => {
        const receiver = connection.open_receiver({ source: dynamicSource(), autoaccept: true, credit_window: 100 });
        receiver.once('receiver_open', () => {
          const replyTo = receiver.source?.address;
          if (!replyTo) return fail(`${where} did not assign a dynamic reply address`);
          const sender = connection.open_sender({ target: { address: '$management' } });
          sender.once('sender_open', () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            resolve(new ManagementClient(connection, sender, receiver, replyTo, timeoutMs, where));
          });
          sender.once('sender_error', () => fail(`${where} refused a link to $management`));
        });
        receiver.once('receiver_error', () => fail(`${where} refused a dynamic reply link`));
      });
    });
  }

  private onReply(ctx: EventContext): void {
    const msg = ctx.message;
    if (!msg) return;
    const id = msg.correlation_id === undefined ? '' : String(msg.correlation_id);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve({ properties: (msg.application_properties ?? {}) as Record<string, unknown>, body: msg.body });
  }

  private request(operation: string, entityType: string, name: string | undefined, body: unknown): Promise<ManagementReply> {
    if (this.closed) return Promise.reject(new ManagementError('management client is closed'));
    const correlationId = `hmlab-${nextCorrelation++}`;
    const type = expandEntityType(entityType);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new ManagementError(`${operation} ${type} on ${this.where}: no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      const properties: Record<string, unknown> = { operation, type: 'org.amqp.management', entityType: type };
      properties.name = name ?? 'self';
      // Management replies are small and pre-settled; the request goes out as soon as credit allows.
      const send = () =>
        this.sender.send({ to: '$management', reply_to: this.replyTo, correlation_id: correlationId, application_properties: properties, body });
      if (this.sender.sendable()) send();
      else this.sender.once('sendable', send);
    }).then((reply) => {
      const r = reply as ManagementReply;
      const code = Number(r.properties.statusCode ?? 200);
      if (code < 200 || code >= 300) {
        throw new ManagementError(`${operation} ${type} on ${this.where} failed: ${code} ${String(r.properties.statusDescription ?? '')}`.trim(), code);
      }
      return r;
    });
  }

  /** QUERY: every entity of a type, one object per entity keyed by attribute name. */
  async query(entityType: string, attributeNames: string[] = []): Promise<Record<string, unknown>[]> {
    const reply = await this.request('QUERY', entityType, undefined, { attributeNames });
    const body = reply.body as { attributeNames?: unknown; results?: unknown } | undefined;
    const names = Array.isArray(body?.attributeNames) ? (body.attributeNames as string[]) : [];
    const rows = Array.isArray(body?.results) ? (body.results as unknown[][]) : [];
    return rows.map((row) => {
      const o: Record<string, unknown> = {};
      names.forEach((n, i) => { o[n] = row[i]; });
      return o;
    });
  }

  /** READ: one entity by name (qdrouterd names its entities, e.g. the router by its id). */
  async read(entityType: string, name: string): Promise<Record<string, unknown>> {
    const reply = await this.request('READ', entityType, name, {});
    return (reply.body ?? {}) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new ManagementError('management client closed')); }
    this.pending.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        try { socketOf(this.connection)?.destroy(); } catch { /* ignore */ }
        resolve();
      }, 500);
      this.connection.once('connection_close', () => { clearTimeout(timer); resolve(); });
      this.connection.once('disconnected', () => { clearTimeout(timer); resolve(); });
      try { this.connection.close(); } catch { clearTimeout(timer); resolve(); }
    });
    clearHeartbeats(this.connection);
  }
}

/** One-shot QUERY: connect, ask, close. */
export async function queryManagement(
  host: string, port: number, entityType: string, attributeNames?: string[], opts?: ManagementClientOptions,
): Promise<Record<string, unknown>[]> {
  const client = await ManagementClient.connect(host, port, opts);
  try {
    return await client.query(entityType, attributeNames);
  } finally {
    await client.close();
  }
}
