// Unix-socket bridges between network namespaces. A namespace made by the lab
// has only a loopback, so the one way across is a Unix socket in the file
// system: a relay in one namespace listens on TCP (its loopback) and carries
// the bytes over a Unix socket to a relay in the other namespace, which
// connects on that namespace's loopback. A relay is its own process
// (`hmlab relay --config FILE`), one per namespace, carrying any number of
// forwards, so the lab server supervises relays and never hosts them.
//
// A forward marked `wan` is shaped: delay and jitter each way, an optional
// bandwidth cap, and cut / heal. A cut either closes every connection across
// it at once, or (a silent cut) black-holes them: no byte and no close crosses
// in either direction and the sockets stay open, as when a link fails
// somewhere between two routers, so the routers find out by their own
// timeouts. A heal then delivers what was held, like TCP retransmitting. The kernel here has no netem qdisc, so the
// WAN of a multi-region lab is made here, in the path, from a settings file
// the relay re-reads (written by `hmlab wan` and POST /api/wan).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

// ---- configuration ----------------------------------------------------------------

const tcpEndpoint = z.object({
  tcp: z.object({
    host: z.literal('127.0.0.1', { message: 'must be 127.0.0.1: relays stay on loopback' }),
    port: z.number().int().min(1).max(65535),
  }),
});
/** sockaddr_un holds 108 bytes with the terminating NUL. */
const unixEndpoint = z.object({ unix: z.string().min(1).max(107, 'is longer than a Unix socket path may be (107 bytes): use a shorter lab home') });
const endpointSchema = z.union([tcpEndpoint, unixEndpoint]);
export type Endpoint = z.infer<typeof endpointSchema>;

const forwardSchema = z.object({
  name: z.string().min(1),
  listen: endpointSchema,
  connect: endpointSchema,
  wan: z.boolean().optional(),
});
export type Forward = z.infer<typeof forwardSchema>;

export const relayConfigSchema = z.object({
  forwards: z.array(forwardSchema).min(1, 'needs at least one forward'),
  /** WAN settings, re-read when they change (needed when a forward is `wan`). */
  wanFile: z.string().optional(),
  /** Written once every listener is bound, so a supervisor knows the relay is ready. */
  readyFile: z.string().optional(),
  /** Connections per forward; more are refused (a peer gets bounded resources). */
  maxConnections: z.number().int().min(1).max(10000).default(256),
});
export type RelayConfig = z.input<typeof relayConfigSchema>;

// ---- WAN settings -------------------------------------------------------------------

export const DEFAULT_WAN_DELAY_MS = 40;

export const wanSettingsSchema = z.object({
  delayMs: z.number({ message: 'must be a number of milliseconds' }).min(0, 'must be 0 or more').max(5000, 'must be at most 5000 ms'),
  jitterMs: z.number({ message: 'must be a number of milliseconds' }).min(0, 'must be 0 or more').max(1000, 'must be at most 1000 ms'),
  /** Bandwidth cap in bits per second, each way; null: none. */
  rateBitsPerS: z.number().int().min(8000, 'must be at least 8kbit').max(100e9).nullable(),
  state: z.enum(['up', 'cut'], { message: 'must be "up" or "cut"' }),
  /** When the state last changed (epoch ms): heal-to-first-success counts from here. */
  changedAt: z.number(),
  /** When delay, jitter or rate last changed (epoch ms): measurements count from here. */
  settingsAt: z.number().optional(),
  /**
   * How the WAN is (or was last) cut: "close" closes every connection across
   * it at once; "silent" stops every byte both ways and keeps the sockets open.
   */
  cutMode: z.enum(['close', 'silent'], { message: 'must be "close" or "silent"' }).optional(),
  /** When the WAN was last cut, and last healed (epoch ms): kept so a view opened later still shows them. */
  cutAt: z.number().optional(),
  healedAt: z.number().optional(),
});
export type WanSettings = z.infer<typeof wanSettingsSchema>;

export function defaultWan(): WanSettings {
  return { delayMs: DEFAULT_WAN_DELAY_MS, jitterMs: 0, rateBitsPerS: null, state: 'up', changedAt: Date.now() };
}

export function readWanSettings(file: string): WanSettings | null {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return null; }
  try {
    const r = wanSettingsSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Atomic: a relay never reads a half-written file. */
export function writeWanSettings(file: string, s: WanSettings): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(wanSettingsSchema.parse(s)) + '\n');
  renameSync(tmp, file);
}

/** "80ms", "0.08s", "80" (ms) -> 80. Throws a message naming the forms it takes. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|us)?\s*$/i.exec(text);
  if (!m) throw new Error(`${what} "${text}" is not a duration: write it like 80ms or 0.08s`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  return unit === 's' ? n * 1000 : unit === 'us' ? n / 1000 : n;
}

/** tc's forms: "10mbit", "512kbit", "1gbit", "8000bit"; "none" or "0" lifts the cap. */
export function parseRate(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)?\s*$/i.exec(text);
  if (/^\s*(none|off|0)\s*$/i.test(text)) return null;
  if (!m) throw new Error(`--rate "${text}" is not a rate: write it like tc does, e.g. 10mbit, 512kbit, or none`);
  const mult = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[(m[2] ?? 'bit').toLowerCase() as 'bit'];
  return Math.round(Number(m[1]) * mult);
}

export function formatRate(bps: number | null): string {
  if (bps === null) return 'none';
  if (bps >= 1e9 && bps % 1e9 === 0) return `${bps / 1e9}gbit`;
  if (bps >= 1e6 && bps % 1e6 === 0) return `${bps / 1e6}mbit`;
  if (bps >= 1e3 && bps % 1e3 === 0) return `${bps / 1e3}kbit`;
  return `${bps}bit`;
}

// ---- the relay ----------------------------------------------------------------------

/** Bytes a shaped direction may hold before it stops reading its source. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5000;

function listenOn(server: Server, ep: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => { server.off('error', reject); resolve(); };
    if ('tcp' in ep) server.listen({ host: ep.tcp.host, port: ep.tcp.port, exclusive: true }, done);
    else {
      mkdirSync(dirname(ep.unix), { recursive: true });
      rmSync(ep.unix, { force: true }); // a socket file left by a killed relay
      server.listen(ep.unix, done);
    }
  });
}

function connectTo(ep: Endpoint): Socket {
  return 'tcp' in ep ? createConnection({ host: ep.tcp.host, port: ep.tcp.port }) : createConnection(ep.unix);
}

/**
 * One direction of a WAN link: each chunk leaves after the delay (plus
 * jitter, plus the time the bandwidth cap needs to send it), never before
 * the chunk ahead of it, because a TCP stream cannot be reordered.
 */
class ShapedDirection {
  private queue: { at: number; data: Buffer }[] = [];
  private queued = 0;
  private lastAt = 0;
  private txFree = 0; // when the capped link finishes sending what it has
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly from: Socket, private readonly to: Socket, private readonly settings: () => WanSettings, private readonly held: () => boolean) {
    from.on('data', (d: Buffer) => this.push(d));
    from.on('end', () => this.push(null));
    to.on('drain', () => this.resumeIfLow());
  }

  private ended = false;
  private push(data: Buffer | null): void {
    const s = this.settings();
    const now = performance.now();
    if (data === null) {
      this.ended = true;
      this.queue.push({ at: Math.max(this.lastAt, now), data: Buffer.alloc(0) });
    } else {
      let sendAt = now;
      if (s.rateBitsPerS) {
        this.txFree = Math.max(this.txFree, now) + (data.length * 8 * 1000) / s.rateBitsPerS;
        sendAt = this.txFree;
      }
      const jitter = s.jitterMs ? (Math.random() * 2 - 1) * s.jitterMs : 0;
      const at = Math.max(this.lastAt, sendAt + Math.max(0, s.delayMs + jitter));
      this.lastAt = at;
      this.queue.push({ at, data });
      this.queued += data.length;
      if (this.queued + this.to.writableLength > HIGH_WATER) this.from.pause();
    }
    this.schedule();
  }

  /** Sends what is due (after a silent cut heals: everything held). */
  schedule(): void {
    if (this.timer || !this.queue.length || this.held()) return;
    const wait = Math.max(0, this.queue[0].at - performance.now());
    this.timer = setTimeout(() => { this.timer = null; this.flush(); }, wait);
  }

  private flush(): void {
    if (this.held()) return; // a silent cut: nothing crosses until the heal
    const now = performance.now();
    while (this.queue.length && this.queue[0].at <= now + 0.5) {
      const { data } = this.queue.shift()!;
      if (data.length === 0 && this.ended) { this.to.end(); continue; }
      this.queued -= data.length;
      if (!this.to.destroyed) this.to.write(data);
    }
    this.resumeIfLow();
    this.schedule();
  }

  private resumeIfLow(): void {
    if (this.from.isPaused() && this.queued + this.to.writableLength < LOW_WATER) this.from.resume();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

export interface RunningRelay {
  close(): Promise<void>;
  /** Connections currently carried, per forward name. */
  connections(): Record<string, number>;
}

/** Runs the relay in this process (what `hmlab relay` does). */
export async function runRelay(input: RelayConfig, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<RunningRelay> {
  const config = relayConfigSchema.parse(input);
  if (config.forwards.some((f) => f.wan) && !config.wanFile) throw new Error('a wan forward needs "wanFile" in the relay config');
  let wan: WanSettings = (config.wanFile && readWanSettings(config.wanFile)) || defaultWan();
  const open = new Map<string, Set<Socket>>();
  const servers: Server[] = [];
  /** A silent cut: bytes and closes are held, both ways, until the heal. */
  const silent = () => wan.state === 'cut' && wan.cutMode === 'silent';
  const onHeal = new Set<() => void>(); // what each held connection does when the WAN heals

  const cutAll = () => {
    for (const f of config.forwards) {
      if (!f.wan) continue;
      for (const s of open.get(f.name) ?? []) s.destroy();
    }
  };
  const reloadWan = () => {
    if (!config.wanFile) return;
    const next = readWanSettings(config.wanFile);
    if (!next) { log(`relay: ${config.wanFile} is missing or invalid; keeping the WAN as it was`); return; }
    const wasUp = wan.state === 'up';
    const wasSilent = silent();
    wan = next;
    if (wan.state === 'cut' && !silent() && (wasUp || wasSilent)) { log('relay: WAN cut: closing every connection across it'); cutAll(); }
    if (wasUp && silent()) log('relay: WAN cut silently: no byte crosses either way, the connections stay open until their ends give up');
    if (!wasUp && wan.state === 'up') {
      log('relay: WAN healed');
      for (const f of [...onHeal]) f();
    }
  };
  if (config.wanFile) watchFile(config.wanFile, { interval: 100, persistent: true }, reloadWan);

  for (const f of config.forwards) {
    const set = new Set<Socket>();
    open.set(f.name, set);
    /** Carries `inbound` to the far end. */
    const join = (inbound: Socket) => {
      const outbound = connectTo(f.connect);
      set.add(inbound);
      set.add(outbound);
      const shaped: ShapedDirection[] = [];
      const drop = () => {
        set.delete(inbound);
        set.delete(outbound);
        onHeal.delete(heal);
        inbound.destroy();
        outbound.destroy();
        shaped.forEach((d) => d.stop());
      };
      // After a silent cut: deliver what was held; an end that gave up meanwhile closes the other after it.
      const heal = () => {
        shaped.forEach((d) => d.schedule());
        if (inbound.destroyed || outbound.destroyed) setTimeout(drop, Math.max(50, wan.delayMs * 2));
      };
      // Neither a close nor an error crosses a silent cut: the other end finds out by its own timeouts.
      const gone = () => {
        if (f.wan && silent() && !(inbound.destroyed && outbound.destroyed)) return; // heal() ends it
        drop();
      };
      const timer = setTimeout(() => { log(`relay: ${f.name}: no answer from the far end in ${CONNECT_TIMEOUT_MS / 1000} s`); drop(); }, CONNECT_TIMEOUT_MS);
      inbound.on('error', gone);
      outbound.on('error', gone);
      inbound.on('close', gone);
      outbound.on('close', gone);
      outbound.once('connect', () => {
        clearTimeout(timer);
        inbound.setNoDelay(true);
        if ('tcp' in f.connect) outbound.setNoDelay(true);
        if (f.wan) {
          shaped.push(new ShapedDirection(inbound, outbound, () => wan, silent), new ShapedDirection(outbound, inbound, () => wan, silent));
          onHeal.add(heal); // until drop(): every silent cut may hold it
        } else {
          inbound.pipe(outbound);
          outbound.pipe(inbound);
        }
        inbound.resume();
      });
    };
    const server = createServer({ pauseOnConnect: true }, (inbound) => {
      if ((f.wan && wan.state === 'cut' && !silent()) || set.size >= config.maxConnections) {
        inbound.destroy();
        return;
      }
      if (f.wan && silent()) {
        // Like a SYN into a black hole: nothing reaches the far end until the heal.
        set.add(inbound);
        const later = () => { onHeal.delete(later); inbound.off('close', forget).off('error', forget); join(inbound); };
        const forget = () => { set.delete(inbound); onHeal.delete(later); };
        inbound.on('close', forget);
        inbound.on('error', forget);
        onHeal.add(later);
        return;
      }
      join(inbound);
    });
    server.on('error', (err) => log(`relay: ${f.name}: ${err.message}`));
    await listenOn(server, f.listen);
    servers.push(server);
  }
  if (config.readyFile) writeFileSync(config.readyFile, `${process.pid}\n`);
  return {
    connections: () => Object.fromEntries([...open].map(([k, v]) => [k, v.size / 2])),
    async close() {
      if (config.wanFile) unwatchFile(config.wanFile, reloadWan);
      for (const set of open.values()) for (const s of set) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const f of config.forwards) if ('unix' in f.listen) rmSync(f.listen.unix, { force: true });
      if (config.readyFile) rmSync(config.readyFile, { force: true });
    },
  };
}

/** Reads and validates a relay config file; errors name the field. */
export function readRelayConfig(file: string): RelayConfig {
  let json: unknown;
  try { json = JSON.parse(readFileSync(file, 'utf8')); } catch (err) { throw new Error(`${file}: ${(err as Error).message}`); }
  const r = relayConfigSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${file}: "${issue?.path.join('.')}" ${issue?.message}`);
  }
  return r.data;
}

/**
 * The two halves of a bridge carrying TCP port `port` of namespace `to` to
 * the same port on the loopback of namespace `from`, through `socket`. Each
 * half goes into the relay of its own namespace.
 */
export function bridgeHalves(name: string, port: number, socket: string, wan = false): { near: Forward; far: Forward } {
  return {
    near: { name, listen: { tcp: { host: '127.0.0.1', port } }, connect: { unix: socket }, ...(wan ? { wan } : {}) },
    far: { name, listen: { unix: socket }, connect: { tcp: { host: '127.0.0.1', port } } },
  };
}

/** Whether a relay wrote its ready file (and is still the process that wrote it). */
export function relayReady(readyFile: string): number | null {
  if (!existsSync(readyFile)) return null;
  try {
    statSync(readyFile);
    const pid = Number(readFileSync(readyFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
