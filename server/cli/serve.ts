// `hmlab serve`: the lab server (pages, lab API, event stream, and the other
// concerns' plugins) for one lab home; `hmlab record FILE`: the event stream
// of a running lab into a recording, no server needed.
import type { Command } from 'commander';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { TOPOLOGIES } from '../../common/wire.js';
import { listensLocally } from '../../common/endpoint.js';
import { topologySchema, trafficRateSchema } from '../../common/rules.js';
import { openLab, defaultHome } from '../backends/index.js';
import { ManagementClient } from '../router/index.js';
import { startLabServer, type ServerPlugin } from '../http/index.js';
import { LabRuntime, labApiPlugin } from '../http/lab-api.js';
import { eventsPlugin } from '../http/events.js';
import { Recorder, RecordingExists, type ManagementConnect } from '../observe/index.js';
import { CliError } from './errors.js';
import { untilStopped } from './signals.js';

export const DEFAULT_PORT = 8470;

const connect: ManagementConnect = (host, port, opts) => ManagementClient.connect(host, port, opts);

const portOpt = (what: string) => z.coerce.number({ error: `${what} must be a number` }).int({ error: `${what} must be a whole number` })
  .min(0, { error: `${what} must be 0..65535` }).max(65535, { error: `${what} must be 0..65535` });
const topologyOpt = topologySchema('--up');

const serveOptions = z.object({
  host: z.string().min(1, { error: '--host must not be empty' }),
  port: portOpt('--port'),
  socket: z.string().min(1, { error: '--socket must be a file path' })
    .max(100, { error: '--socket must be at most 100 characters (the kernel limits Unix socket paths to 108 bytes)' }).optional(),
  home: z.string().optional(),
  up: topologyOpt.optional(),
  basePort: portOpt('--base-port').optional(),
  qdrouterd: z.string().optional(),
  trafficRate: trafficRateSchema({ name: '--traffic-rate', coerce: true }).optional(),
  downOnExit: z.boolean().optional(),
  terminalIdle: z.coerce.number({ error: '--terminal-idle must be a number of minutes' }).positive({ error: '--terminal-idle must be more than 0 minutes' })
    .max(24 * 60, { error: '--terminal-idle must be at most 1440 minutes (a day)' }),
});

const recordOptions = z.object({
  home: z.string().optional(),
  duration: z.coerce.number({ error: '--duration must be a number of seconds' }).positive({ error: '--duration must be more than 0 seconds' }).optional(),
  messagesPerSecond: z.coerce.number({ error: '--messages-per-second must be a number' }).int()
    .min(1, { error: '--messages-per-second must be at least 1' }).max(1000).optional(),
  scenario: z.string().max(300).optional(),
});

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  throw new CliError(r.error.issues[0]?.message ?? 'invalid options', 2);
}

const elapsed = (ms: number) => `${(ms / 1000).toFixed(1).padStart(5)} s`;

export function registerServeCommands(program: Command): void {
  program.command('serve')
    .description('start the lab server: the deck, the labs and the flow view in a browser, the lab API and its event stream')
    .option('--host <host>', 'address to listen on (loopback unless you mean to share it)', '127.0.0.1')
    .option('--port <n>', 'port to listen on', String(DEFAULT_PORT))
    .option('--socket <path>', 'listen on this Unix socket instead of --host/--port (a workshop seat)')
    .option('--home <dir>', 'lab home folder (default: $HMLAB_HOME or ~/.hmlab/lab)')
    .option('--up <topology>', `also bring a lab up once listening: ${TOPOLOGIES.join(', ')}`)
    .option('--base-port <n>', 'first port of the lab\'s block (with --up)')
    .option('--qdrouterd <path>', 'run this qdrouterd instead of the embedded router (with --up)')
    .option('--traffic-rate <n>', 'conductor operations per second (with --up)')
    .option('--down-on-exit', 'stop the lab backends when the server stops (default: leave them running)')
    .option('--terminal-idle <minutes>', 'end a terminal nobody is attached to after this many minutes', '30')
    .action(async (raw: Record<string, unknown>) => {
      const o = parse(serveOptions, raw);
      const home = resolve(o.home ?? defaultHome());
      const lab = openLab(home);
      const rt = new LabRuntime({ lab, connect, home, basePort: o.basePort, qdrouterd: o.qdrouterd });
      const plugins: ServerPlugin[] = [labApiPlugin(rt), eventsPlugin(rt)];
      // ---- plugins of other concerns: each adds its own line here ----
      // terminals (server/terminals):
      plugins.push((await import('../terminals/index.js')).terminalsPlugin({ idleTimeoutMs: o.terminalIdle * 60_000 }));
      // labs (server/labs):
      plugins.push((await import('../labs/index.js')).labsPlugin({ lab, runtime: rt, basePort: o.basePort }));
      // ---- end of plugins ----

      let server;
      try {
        server = await startLabServer({ home, host: o.host, port: o.port, socket: o.socket ? resolve(o.socket) : undefined, plugins });
      } catch (err) {
        await rt.stop().catch(() => {});
        const e = err as NodeJS.ErrnoException;
        if (o.socket && (e.code === 'EACCES' || e.code === 'ENOENT')) throw new CliError(`cannot listen on the socket ${o.socket}: `
          + `${e.code === 'ENOENT' ? 'its folder does not exist' : 'no permission in its folder'}; choose another --socket PATH`);
        if (e.code === 'EADDRINUSE') throw new CliError(`port ${o.port} on ${o.host} is busy (another "hmlab serve"?): choose another with --port N`);
        if (e.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${o.host}: no such address on this machine; use --host 127.0.0.1`);
        throw err;
      }
      const info = join(home, 'server', 'server.json');
      mkdirSync(join(home, 'server'), { recursive: true });
      writeFileSync(info, JSON.stringify({ url: server.url, pid: process.pid, startedAt: Date.now() }) + '\n', { mode: 0o600 });

      const out = (s: string) => process.stdout.write(s + '\n');
      // Signal handlers come before the URL is printed: whoever reads the URL
      // may stop the server at once, and must not find it without them.
      const { done, closing } = untilStopped(async (signal) => {
        out(`\n${signal}: stopping the lab server`);
        try { await server.close(); } catch { /* closing anyway */ }
        rmSync(info, { force: true });
        if (o.downOnExit) {
          out('stopping the lab backends (--down-on-exit)');
          try { await lab.down(); } catch (err) { process.stderr.write(`hmlab: stopping the lab failed: ${(err as Error).message}\n`); }
        }
      });

      out(`hmlab lab server for the lab home ${home}`);
      if (!o.socket && !listensLocally(o.host)) out(`  note: listening on ${o.host}, reachable from other machines; the token is the only protection`);
      const backends = o.downOnExit ? 'stop with it (--down-on-exit)' : 'keep running (stop them with "hmlab down", or serve with --down-on-exit)';
      out(`  Ctrl-C stops the server; the lab backends ${backends}`);
      // last, so whoever waits for the URL has read everything before it
      out(o.socket ? `  listening on the Unix socket ${o.socket}` : `  open: ${server.openUrl}`);

      if (o.up) {
        const already = await lab.status();
        if (already.components.length && already.components.every((c) => c.state === 'running')) {
          out(`a ${already.topology} lab is already running in this home: showing it (stop it with "hmlab down" to start another)`);
        } else {
          out(`bringing up the ${o.up} lab (progress also shows in the browser)`);
          const said = new Map<string, string>(); // components repeat their progress while they wait; print changes only
          const unsubscribe = rt.bus.subscribe((e) => {
            if (e.type !== 'progress' || e.operation !== 'up' || e.component === 'lab' || said.get(e.component) === e.message) return;
            said.set(e.component, e.message);
            out(`  [${elapsed(e.elapsedMs)}] ${e.component}: ${e.message}`);
          });
          try {
            const s = await rt.up(o.up, o.trafficRate);
            const comps = s.components.map((c) => `${c.name} ${c.state}`).join(', ');
            out(`the ${o.up} lab is up (${s.router === 'qdrouterd' ? 'qdrouterd' : 'embedded router'}): ${comps}`);
          } catch (err) {
            if (!closing()) process.stderr.write(`hmlab: bringing the lab up failed: ${(err as Error).message}\n  the server keeps running; fix the cause and `
              + `use the backend panel or "hmlab up"\n`);
          } finally {
            unsubscribe();
          }
        }
        if (!closing()) out(o.socket ? `  listening on the Unix socket ${o.socket}` : `  open: ${server.openUrl}`);
      }
      await done;
      process.exit(0);
    });

  program.command('record <file>')
    .description('record the event stream of the running lab into FILE (JSON lines) for replay with ?replay=NAME')
    .option('--home <dir>', 'lab home folder (default: $HMLAB_HOME or ~/.hmlab/lab)')
    .option('--duration <seconds>', 'stop after this many seconds (default: at Ctrl-C)')
    .option('--messages-per-second <n>', 'message events kept per second (the rest are counted, not stored)', '40')
    .option('--scenario <text>', 'one sentence saying what the run shows, stored in the header')
    .action(async (file: string, raw: Record<string, unknown>) => {
      const o = parse(recordOptions, raw);
      if (!file.endsWith('.jsonl')) throw new CliError(`the recording file must end in .jsonl (got "${file}")`, 2);
      const home = resolve(o.home ?? defaultHome());
      const target = isAbsolute(file) ? file : resolve(process.cwd(), file);
      const lab = openLab(home);
      const rt = new LabRuntime({ lab, connect, home });
      const rec = new Recorder(rt.bus, { maxMessagesPerSecond: o.messagesPerSecond, scenario: o.scenario });
      await rt.start();
      const status = rt.bus.status ?? await rt.observer.status();
      if (!status.components.some((c) => c.state === 'running')) {
        await rt.stop();
        throw new CliError(`nothing is running in the lab home ${home}: bring a lab up first ("hmlab up --topology hybrid-mesh")`);
      }
      try {
        rec.start(target, status);
      } catch (err) {
        await rt.stop();
        if (err instanceof RecordingExists) throw new CliError(`${target} already exists: name another file, or delete it first`, 2);
        throw err;
      }
      process.stdout.write(`recording the ${status.topology ?? ''} lab into ${target}${o.duration ? ` for ${o.duration} s` : ''} (Ctrl-C stops)\n`);
      await new Promise<void>((r) => {
        const timer = o.duration ? setTimeout(r, o.duration * 1000) : null;
        const stop = () => { if (timer) clearTimeout(timer); r(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      const result = await rec.stop();
      await rt.stop();
      process.stdout.write(`recorded ${result.events} lines, ${(result.bytes / 1024).toFixed(0)} KiB, ${(result.durationMs / 1000).toFixed(1)} s `
        + `into ${target}\n`);
      process.exit(0);
    });
}
