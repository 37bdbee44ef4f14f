// `hmlab workshop serve|seats|destroy`: hosting a workshop on one machine,
// each attendee in an isolated seat (server/workshop).
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { renderSVG } from 'uqr';
import { z } from 'zod';
import { TOPOLOGIES } from '../../common/wire.js';
import { listensLocally } from '../../common/endpoint.js';
import { topologySchema, trafficRateSchema } from '../../common/rules.js';
import { isolationAvailable, listNamespaces, listUsers, cgroupOf, removeCgroup, removeNamespace, removeUser } from '../isolation/index.js';
import {
  LocalSeats, Reaper, WORKSHOP_TRAFFIC_RATE, WorkshopStore, capacityAdvice, cardKey, seatLabel, startWorkshopServer,
} from '../workshop/index.js';
import { CliError } from './errors.js';
import { untilStopped } from './signals.js';

export const DEFAULT_WORKSHOP_PORT = 8480;
// Seat users must walk to their homes inside it, so root's default is not under /root (0700).
const defaultDir = () => (process.getuid?.() === 0 ? '/var/lib/hmlab/workshop' : join(homedir(), '.hmlab', 'workshop'));

const int = (what: string, min: number, max: number) => z.coerce.number({ error: `${what} must be a number` }).int({ error: `${what} must be a whole number` })
  .min(min, { error: `${what} must be ${min}..${max}` }).max(max, { error: `${what} must be ${min}..${max}` });
const nameOpt = z.string().regex(/^[a-z][a-z0-9]{0,11}$/, {
  error: '--name must be a short lowercase word (letters and digits, at most 12): it names the seats\' users, namespaces and cgroups',
});

const serveOptions = z.object({
  seats: int('--seats', 1, 200),
  host: z.string().min(1, { error: '--host must not be empty' }),
  port: int('--port', 0, 65535),
  topology: topologySchema('--topology').optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  warm: int('--warm', 0, 200),
  idle: z.coerce.number({ error: '--idle must be a number of minutes' }).positive({ error: '--idle must be more than 0 minutes' }).optional(),
  dir: z.string().optional(),
  name: nameOpt,
  isolation: z.boolean(),
  memory: int('--memory', 256, 65536),
  maxProcesses: int('--max-processes', 64, 100000),
  trafficRate: trafficRateSchema({ name: '--traffic-rate', coerce: true }).optional(),
  startsAtOnce: int('--starts-at-once', 1, 64).optional(),
}).refine((o) => !o.tlsCert === !o.tlsKey, { error: '--tls-cert and --tls-key go together: give both or neither' });

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  throw new CliError(r.error.issues[0]?.message ?? 'invalid options', 2);
}

function prefixOf(name: string) { return `hmlab-${name}-`; }

/** The certificate and key, read and matched now: a bad file is the host's to fix before anyone joins. */
function tlsFiles(cert: string, key: string): { cert: string; key: string } {
  const read = (file: string, opt: string, what: string) => {
    try { return readFileSync(file); } catch (err) {
      throw new CliError(`${opt}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the ${what} file (PEM)`, 2);
    }
  };
  const [c, k] = [read(cert, '--tls-cert', 'certificate'), read(key, '--tls-key', 'private key')];
  try { createSecureContext({ cert: c, key: k }); } catch (err) {
    throw new CliError(`--tls-cert ${cert} and --tls-key ${key} do not make a pair (${(err as Error).message}); `
      + 'give the certificate and the private key that belongs to it, both PEM', 2);
  }
  return { cert, key };
}

export function registerWorkshopCommands(program: Command): void {
  const ws = program.command('workshop').description('host a workshop: one machine, a room of attendees, each in an isolated seat');

  ws.command('serve')
    .description('start the workshop server: join page, host dashboard, one isolated lab per attendee')
    .option('--seats <n>', 'how many seats (attendees)', '30')
    .option('--host <host>', 'address to listen on (0.0.0.0 for a room; use TLS then)', '127.0.0.1')
    .option('--port <n>', 'port to listen on', String(DEFAULT_WORKSHOP_PORT))
    .option('--topology <t>', `bring this lab up in every new seat (${TOPOLOGIES.join(', ')}); default: a new seat starts where lab 1 starts`)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'and this private key (PEM)')
    .option('--warm <k>', 'keep K free seats started ahead, so a join is instant', '0')
    .option('--idle <minutes>', 'stop a seat nobody used for this long (its progress is kept)')
    .option('--dir <dir>', 'workshop folder: seats, state (default /var/lib/hmlab/workshop as root, else ~/.hmlab/workshop)')
    .option('--name <word>', 'names the seats\' users, namespaces and cgroups: hmlab-NAME-NN', 'seat')
    .option('--no-isolation', 'without root: a single seat running as you, no namespaces or limits (every page says so)')
    .option('--memory <MiB>', 'memory limit per seat', '1536')
    .option('--max-processes <n>', 'process and thread limit per seat', '512')
    .option('--traffic-rate <n>', `conductor operations per second every lab of a seat starts at (default ${WORKSHOP_TRAFFIC_RATE}; a lab alone starts at 5)`)
    .option('--starts-at-once <n>', 'seats starting at once (a start boots a broker: seconds of CPU); the others wait their turn '
      + '(default: the cores, at least 2)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parse(serveOptions, raw);
      const tls = o.tlsCert ? tlsFiles(o.tlsCert, o.tlsKey!) : undefined;
      const iso = isolationAvailable();
      if (o.isolation && !iso.ok) {
        if (o.seats > 1) {
          throw new CliError(`cannot isolate seats: ${iso.why}. Run as root, or pass --no-isolation with --seats 1 (one seat, running as you)`, 2);
        }
        throw new CliError(`cannot isolate the seat: ${iso.why}. Run as root, or pass --no-isolation (the pages then say the seat is not isolated)`, 2);
      }
      if (!o.isolation && o.seats > 1) {
        throw new CliError('--no-isolation allows one seat only: without isolation attendees could read and kill each other\'s labs', 2);
      }
      const dir = resolve(o.dir ?? defaultDir());
      mkdirSync(dir, { recursive: true, mode: 0o711 });
      const info = join(dir, 'private', 'server.json');
      if (existsSync(info)) {
        const pid = (JSON.parse(readFileSync(info, 'utf8')) as { pid: number }).pid;
        try {
          process.kill(pid, 0);
          throw new CliError(`a workshop server (pid ${pid}) already runs for ${dir}: stop it first`);
        } catch (err) { if (err instanceof CliError) throw err; }
      }
      const reaper = o.isolation ? new Reaper() : null;
      const seats: LocalSeats = new LocalSeats({
        dir, prefix: prefixOf(o.name), topology: o.topology, trafficRate: o.trafficRate, noIsolation: !o.isolation,
        limits: { memoryBytes: o.memory * 1024 * 1024, maxPids: o.maxProcesses },
        onChange: () => reaper?.watch(seats.reaperTargets()),
        onExit: (seat, reason) => process.stderr.write(`seat ${seatLabel(seat)}: ${reason}\n`),
      });
      // Seats a killed server left behind: their processes end here; they start again below with their progress.
      for (const n of await seats.leftovers()) await seats.stop(n);
      let server;
      try {
        server = await startWorkshopServer({
          dir, seats: o.seats, backend: seats, host: o.host, port: o.port, warm: o.warm,
          idleMs: o.idle ? o.idle * 60_000 : undefined, tls, startsAtOnce: o.startsAtOnce, trafficRate: o.trafficRate,
        });
      } catch (err) {
        reaper?.dismiss();
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') throw new CliError(`port ${o.port} on ${o.host} is busy: choose another with --port N`);
        if (e.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${o.host}: no such address on this machine`);
        throw err;
      }
      writeFileSync(info, JSON.stringify({ pid: process.pid, url: server.url, seats: o.seats, name: o.name }) + '\n', { mode: 0o600 });
      const out = (s: string) => process.stdout.write(s + '\n');
      const { done } = untilStopped(async (signal) => {
        out(`\n${signal}: stopping the workshop server and every seat (progress stays in ${dir})`);
        try { await server.close(); } catch (err) { process.stderr.write(`hmlab: ${(err as Error).message}\n`); }
        reaper?.dismiss();
        rmSync(info, { force: true });
      });
      const isolation = o.isolation ? ' in its own user, network namespace and cgroup' : ' WITHOUT isolation (--no-isolation)';
      out(`hmlab workshop: ${o.seats} seats, each ${o.topology ? `a ${o.topology} lab` : 'starting at lab 1'}${isolation}`);
      out(`  folder: ${dir}`);
      if (!listensLocally(o.host) && !o.tlsCert) {
        out(`  WARNING: listening on ${o.host} without TLS: tokens and cookies cross the network in clear (use --tls-cert/--tls-key)`);
      }
      const advice = capacityAdvice(o.seats, availableParallelism(), o.trafficRate ?? WORKSHOP_TRAFFIC_RATE);
      if (advice) out(`  WARNING: ${advice.warning}`);
      out('  Ctrl-C stops the server and every seat; progress is kept');
      out(`  join:  ${server.joinUrl}`);
      out(`  host:  ${server.hostUrl}`); // last, so whoever waits for it has read everything before it
      await done;
      process.exit(0);
    });

  ws.command('seats')
    .description('list the seats; --urls prints one personal URL per seat, for printed cards')
    .option('--dir <dir>', 'workshop folder (default /var/lib/hmlab/workshop as root, else ~/.hmlab/workshop)')
    .option('--urls', 'one URL per seat that opens that seat directly')
    .option('--qr <dir>', 'with --urls: also write each URL as a QR code, DIR/seat-NN.svg (and DIR/join.svg)')
    .option('--base <url>', 'the address attendees use (default: the running server\'s)')
    .action((raw: { dir?: string; urls?: boolean; qr?: string; base?: string }) => {
      const dir = resolve(raw.dir ?? defaultDir());
      const db = join(dir, 'private', 'workshop.sqlite');
      if (!existsSync(db)) throw new CliError(`no workshop in ${dir}: start one with "hmlab workshop serve --dir ${dir}"`);
      const info = join(dir, 'private', 'server.json');
      const running = existsSync(info) ? JSON.parse(readFileSync(info, 'utf8')) as { url: string; seats: number } : null;
      const store = new WorkshopStore(db, 0);
      const seats = store.seats(running?.seats ?? 200);
      const base = raw.base ?? running?.url ?? `http://127.0.0.1:${DEFAULT_WORKSHOP_PORT}`;
      const qrDir = raw.urls && raw.qr ? resolve(raw.qr) : null;
      if (qrDir) {
        mkdirSync(qrDir, { recursive: true });
        writeFileSync(join(qrDir, 'join.svg'), renderSVG(`${base}/join/${store.joinCode}`));
      }
      for (const s of seats) {
        const card = `${base}/card/${s.seat}/${cardKey(store.hostToken, s.seat)}`;
        if (qrDir) writeFileSync(join(qrDir, `seat-${seatLabel(s.seat)}.svg`), renderSVG(card));
        if (raw.urls) process.stdout.write(`seat ${seatLabel(s.seat)}  ${card}\n`);
        else {
          const holder = s.token ? `taken${s.attendee ? ` by ${s.attendee}` : ''}` : 'free';
          process.stdout.write(`seat ${seatLabel(s.seat)}  ${holder}${s.help ? `  asks for help: ${s.help.question}` : ''}\n`);
        }
      }
      if (!raw.urls) process.stdout.write(`join: ${base}/join/${store.joinCode}\n`);
      if (qrDir) process.stdout.write(`QR codes (SVG) in ${qrDir}: join.svg and seat-NN.svg\n`);
      store.close();
    });

  ws.command('destroy')
    .description('remove every seat: its processes, user, home (files and progress), namespace and cgroup, and the workshop state')
    .option('--dir <dir>', 'workshop folder (default /var/lib/hmlab/workshop as root, else ~/.hmlab/workshop)')
    .option('--name <word>', 'the --name the workshop was served with', 'seat')
    .action(async (raw: { dir?: string; name: string }) => {
      const name = parse(nameOpt, raw.name);
      const dir = resolve(raw.dir ?? defaultDir());
      const info = join(dir, 'private', 'server.json');
      if (existsSync(info)) {
        const pid = (JSON.parse(readFileSync(info, 'utf8')) as { pid: number }).pid;
        let alive = true;
        try { process.kill(pid, 0); } catch { alive = false; }
        if (alive) throw new CliError(`the workshop server (pid ${pid}) still runs: stop it first (Ctrl-C, or kill ${pid})`);
      }
      const iso = isolationAvailable();
      const prefix = prefixOf(name);
      let removed = 0;
      if (iso.ok) {
        const names = new Set([...(await listNamespaces()), ...listUsers()].filter((n) => n.startsWith(prefix)));
        for (const n of names) {
          await removeCgroup(cgroupOf(n)).catch(() => undefined);
          await removeNamespace(n);
          await removeUser(n);
          removed++;
        }
      }
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write(`removed ${removed} seat${removed === 1 ? '' : 's'} (users, homes, namespaces, cgroups) and ${dir}\n`);
    });
}
