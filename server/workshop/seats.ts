// The seat lifecycle behind one interface (start, stop, reset, address), so
// a Kubernetes implementation (a seat = a pod running the same seat server)
// can stand beside the local one. The local one runs each seat's own
// `hmlab serve` as the seat's Unix user, inside the seat's network namespace
// (only a loopback), inside the seat's cgroup (memory and process limits),
// listening on a Unix socket in the seat's home.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Topology } from '../../common/wire.js';
import { PACKAGE_ROOT } from '../paths.js';
import { labPaths, readState } from '../backends/index.js';
import {
  createCgroup, createNamespace, createUser, cgroupOf, cgroupPids, cgroupUsage, isolationAvailable, listNamespaces, lookupUser,
  removeCgroup, removeNamespace, removeUser, wrapInCgroup, wrapInNamespace, type Cgroup, type CgroupLimits, type CgroupUsage, type IsolatedUser,
} from '../isolation/index.js';

/** Where the workshop server reaches a seat's own lab server. */
export interface SeatAddress {
  /** Unix socket of the seat server (local seats); a Kubernetes seat would give host and port. */
  socketPath: string;
  /** Bearer token the seat server expects; the proxy adds it, attendees never see it. */
  token: string;
}

/** A started seat: where its server is, and the lab that server brings up as it starts (null: none). */
export interface SeatStart extends SeatAddress {
  bringsUp: Topology | null;
}

export interface SeatBackend {
  /** Whether seats are isolated by the kernel (users, namespaces, cgroups). */
  readonly isolated: boolean;
  /** Starts the seat's server (which may bring a lab up); resolves when the server answers. */
  start(seat: number): Promise<SeatStart>;
  /** Stops every process of the seat; its files (and so its progress) stay. */
  stop(seat: number): Promise<void>;
  /** The seat's server address while it runs, else null. */
  address(seat: number): SeatAddress | null;
  /** Processes and memory of a running seat (for the dashboard and the benchmark). */
  usage(seat: number): (CgroupUsage & { processes: number[] }) | null;
  /** Stops the seat and removes its user, home, namespace and cgroup. */
  destroy(seat: number): Promise<void>;
}

export interface LocalSeatOptions {
  /** Workshop folder: seats live in DIR/seats/NN. */
  dir: string;
  /** Names of users, namespaces and cgroups: PREFIX + NN (default hmlab-seat-). */
  prefix?: string;
  /**
   * Bring this lab up in every seat. Without it a new seat starts with
   * nothing running (the workshop server then puts it at the first lab's
   * start), and a seat started again brings back the topology it last ran.
   */
  topology?: Topology;
  /** Conductor operations per second every lab of a seat starts at (default WORKSHOP_TRAFFIC_RATE). */
  trafficRate?: number;
  limits?: Partial<CgroupLimits>;
  /** No users, namespaces or cgroups: one seat only, for a machine without root. */
  noIsolation?: boolean;
  /** The seat server command (default: this package's hmlab). */
  seatCommand?: string[];
  /** Called when a seat's server exits on its own (crash, limit). */
  onExit?: (seat: number, reason: string) => void;
  /** Called whenever the set of running seats changes (the reaper follows it). */
  onChange?: () => void;
}

export const DEFAULT_LIMITS: CgroupLimits = { memoryBytes: 1536 * 1024 * 1024, maxPids: 512 };
const READY_TIMEOUT_MS = 60_000;
/**
 * In a room, typing and pages must stay quick while many labs run traffic on
 * a few cores: the brokers, routers and services of a seat run at nice 10,
 * so under contention their traffic slows first (HMLAB_BACKEND_NICE).
 */
export const SEAT_BACKEND_NICE = 10;

/**
 * A seat's labs start at 2 operations/s, where a lab alone starts at 5: a room
 * shares the machine's cores, and on 2 cores the workshop bench kept every
 * seat's typing budget with 35 seats at 2, where 30 at 5 were the edge. Every
 * call, cast, fanout and notification of the lab still flows; the host
 * changes it with --traffic-rate or the dashboard.
 */
export const WORKSHOP_TRAFFIC_RATE = 2;

export const seatLabel = (seat: number) => String(seat).padStart(2, '0');

/**
 * Connections to seat servers' sockets are kept open between requests and
 * closed after 4 s idle, before a seat server (5 s) closes them itself, so no
 * request is written to a socket the seat just closed. One connection per
 * request instead raced the seat server closing it right after its answer:
 * the proxy's last write failed (EPIPE) and about one POST in ten got a 502.
 */
export const seatAgent = new Agent({ keepAlive: true, timeout: 4000 });

/** A request on the seat server's socket; resolves with status and body. */
export function seatRequest(addr: SeatAddress, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      socketPath: addr.socketPath, method, path, timeout: timeoutMs, agent: seatAgent,
      headers: {
        authorization: `Bearer ${addr.token}`, host: 'seat',
        ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (text.length < 4 * 1024 * 1024) text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`seat server did not answer ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** The topology a seat's lab last ran (its state.json), to bring it back after a stop. */
function lastTopology(labHome: string): Topology | null {
  try { return readState(labPaths(labHome).state)?.topology ?? null; } catch { return null; }
}

interface Running {
  child: ChildProcess;
  address: SeatAddress;
  cgroup: Cgroup | null;
}

export class LocalSeats implements SeatBackend {
  readonly isolated: boolean;
  private running = new Map<number, Running>();
  private readonly prefix: string;
  private readonly limits: CgroupLimits;

  constructor(private readonly opts: LocalSeatOptions) {
    this.isolated = !opts.noIsolation;
    this.prefix = opts.prefix ?? 'hmlab-seat-';
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (this.isolated) {
      const why = isolationAvailable();
      if (!why.ok) throw new Error(`seats cannot be isolated: ${why.why}; or pass --no-isolation for a single unisolated seat`);
    }
    // The seat user must be able to walk to its home; nobody may list the seats.
    mkdirSync(join(opts.dir, 'seats'), { recursive: true, mode: 0o711 });
    if (this.isolated) {
      chmodSync(opts.dir, statSync(opts.dir).mode | 0o111);
      for (let d = dirname(opts.dir); ; d = dirname(d)) {
        if ((statSync(d).mode & 0o001) === 0) {
          throw new Error(`seat users cannot reach their homes: the folder ${d} is closed to other users (mode ${(statSync(d).mode & 0o777).toString(8)}); `
            + 'choose a workshop --dir outside it, such as /var/lib/hmlab/workshop');
        }
        if (d === dirname(d)) break;
      }
    }
  }

  /** The name of the seat's user, namespace and cgroup. */
  nameOf(seat: number): string { return `${this.prefix}${seatLabel(seat)}`; }
  homeOf(seat: number): string { return join(this.opts.dir, 'seats', seatLabel(seat)); }
  labHomeOf(seat: number): string { return join(this.homeOf(seat), 'lab'); }

  address(seat: number): SeatAddress | null { return this.running.get(seat)?.address ?? null; }

  usage(seat: number): (CgroupUsage & { processes: number[] }) | null {
    const r = this.running.get(seat);
    if (!r?.cgroup) return null;
    return { ...cgroupUsage(r.cgroup), processes: cgroupPids(r.cgroup) };
  }

  /** The seat's cgroup (tests read its limits and usage). */
  cgroupOf(seat: number): Cgroup | null { return this.running.get(seat)?.cgroup ?? null; }
  userOf(seat: number): IsolatedUser | null { return this.isolated ? lookupUser(this.nameOf(seat)) : null; }

  async start(seat: number): Promise<SeatStart> {
    const had = this.running.get(seat);
    if (had) return { ...had.address, bringsUp: null };
    const name = this.nameOf(seat);
    const home = this.homeOf(seat);
    let user: IsolatedUser | null = null;
    let cgroup: Cgroup | null = null;
    if (this.isolated) {
      user = await createUser(name, home);
      await createNamespace(name);
      // Processes of an earlier run (a killed workshop server) would share the limits: end them first.
      await removeCgroup(cgroupOf(name)).catch(() => undefined);
      cgroup = createCgroup(name, this.limits);
    } else {
      mkdirSync(join(home, 'tmp'), { recursive: true, mode: 0o700 });
    }
    const labHome = this.labHomeOf(seat);
    const own = (p: string) => { if (user) chownSync(p, user.uid, user.gid); };
    for (const d of [labHome, join(labHome, 'server')]) { mkdirSync(d, { recursive: true, mode: 0o700 }); own(d); }
    // The seat server's token: made here so the proxy knows it without reading the seat's files.
    const tokenFile = join(labHome, 'server', 'token');
    let token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
    if (token.length < 32) {
      token = randomBytes(24).toString('hex');
      writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    }
    own(tokenFile);
    const socketPath = join(home, 'seat.sock');
    const logFile = join(home, 'seat-server.log');
    const log = openSync(logFile, 'a', 0o600);
    own(logFile);

    const base = this.opts.seatCommand ?? [process.execPath, join(PACKAGE_ROOT, 'bin', 'hmlab.js')];
    const up = this.opts.topology ?? lastTopology(labHome);
    const args = [...base.slice(1), 'serve', '--socket', socketPath, '--home', labHome, ...(up ? ['--up', up] : []), '--down-on-exit'];
    const rate = this.opts.trafficRate ?? WORKSHOP_TRAFFIC_RATE;
    args.push('--traffic-rate', String(rate));
    let [cmd, argv] = [base[0]!, args];
    if (user && cgroup) {
      [cmd, argv] = wrapInNamespace(name, cmd, argv, { uid: user.uid, gid: user.gid });
      [cmd, argv] = wrapInCgroup(cgroup, cmd, argv);
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: process.env.LANG ?? 'C.UTF-8',
      HOME: home,
      USER: user?.name ?? process.env.USER ?? 'seat',
      LOGNAME: user?.name ?? process.env.USER ?? 'seat',
      TMPDIR: join(home, 'tmp'),
      HMLAB_HOME: labHome,
      // The lab's backends yield to the seat's server and terminals when the machine is busy.
      HMLAB_BACKEND_NICE: String(SEAT_BACKEND_NICE),
      // Every lab of the seat starts at the host's rate: brought up by the seat, a reset, or `hmlab up` typed in it.
      HMLAB_TRAFFIC_RATE: String(rate),
    };
    const child = spawn(cmd, argv, { cwd: home, env, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    const address = { socketPath, token };
    const r: Running = { child, address, cgroup };
    this.running.set(seat, r);
    this.opts.onChange?.();
    child.once('exit', (code, signal) => {
      if (this.running.get(seat) !== r) return;
      this.running.delete(seat);
      this.opts.onChange?.();
      this.opts.onExit?.(seat, `the seat server exited (${signal ?? `code ${code}`}); its log: ${logFile}`);
    });
    try {
      await this.waitReady(r, logFile);
    } catch (err) {
      await this.stop(seat);
      throw err;
    }
    return { ...address, bringsUp: up };
  }

  private async waitReady(r: Running, logFile: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) break;
      try {
        const res = await seatRequest(r.address, 'GET', '/api/status', undefined, 2000);
        if (res.status === 200) return;
      } catch { /* not listening yet */ }
      await new Promise((res) => setTimeout(res, 200));
    }
    let tail = '';
    try { tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' / '); } catch { /* no log */ }
    throw new Error(`the seat server did not answer within ${READY_TIMEOUT_MS / 1000} s${tail ? `: ${tail}` : ''}`);
  }

  async stop(seat: number): Promise<void> {
    const r = this.running.get(seat);
    this.running.delete(seat);
    const name = this.nameOf(seat);
    // The seat server stops its lab on SIGTERM (--down-on-exit); the cgroup catches whatever is left.
    if (r && r.child.exitCode === null && r.child.signalCode === null) {
      const exited = new Promise((res) => r.child.once('exit', res));
      try { r.child.kill('SIGTERM'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((res) => setTimeout(res, 15_000))]);
    }
    if (this.isolated) {
      await removeCgroup(r?.cgroup ?? cgroupOf(name));
      await removeNamespace(name);
    } else if (r && r.child.exitCode === null && r.child.signalCode === null) {
      try { r.child.kill('SIGKILL'); } catch { /* gone */ }
    }
    this.opts.onChange?.();
  }

  async destroy(seat: number): Promise<void> {
    await this.stop(seat);
    if (this.isolated) await removeUser(this.nameOf(seat));
  }

  /** Seats whose namespace exists (a workshop server killed before it could stop them). */
  async leftovers(): Promise<number[]> {
    if (!this.isolated) return [];
    const re = new RegExp(`^${this.prefix.replace(/[-]/g, '\\-')}(\\d+)$`);
    return (await listNamespaces()).map((n) => re.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  }

  /** Cgroup procs files of every seat, for the reaper that outlives a killed workshop server. */
  reaperTargets(): { cgroupDirs: string[]; namespaces: string[] } {
    const dirs = new Set<string>();
    const namespaces: string[] = [];
    for (const [seat, r] of this.running) {
      if (r.cgroup) { dirs.add(r.cgroup.memoryDir); dirs.add(r.cgroup.pidsDir); }
      namespaces.push(this.nameOf(seat));
    }
    return { cgroupDirs: [...dirs], namespaces };
  }
}
