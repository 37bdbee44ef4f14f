// hmlab up | status | start | stop | restart | kill | logs | down | config | traffic:
// drive a lab environment (server/backends) from the shell.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { TOPOLOGIES, type ComponentStatus, type LabStatus } from '../../common/wire.js';
import { topologySchema, trafficRateSchema } from '../../common/rules.js';
import { DEFAULT_BASE_PORT, LabError, openLab, PORT_BLOCK, tailLog, type LabEnvironment, type Progress } from '../backends/index.js';
import { componentAt, endpointKey } from '../../common/endpoint.js';
import { CliError } from './errors.js';
import { formatWan } from './wan.js';

const homeOption = ['--home <dir>', 'lab home folder (default: $HMLAB_HOME or ~/.hmlab/lab)'] as const;

const upSchema = z.object({
  topology: topologySchema('--topology'),
  basePort: z.coerce.number({ message: '--base-port must be a number' }).int('--base-port must be a whole number')
    .min(1024, '--base-port must be at least 1024').max(65535 - PORT_BLOCK, `--base-port must be at most ${65535 - PORT_BLOCK}`).optional(),
  qdrouterd: z.string().min(1).optional(),
  rate: trafficRateSchema({ name: '--rate', coerce: true }).optional(),
  wanCost: z.coerce.number({ message: '--wan-cost must be a number' }).int('--wan-cost must be a whole number')
    .min(1, '--wan-cost must be at least 1').max(1000, '--wan-cost must be at most 1000').optional(),
});

function lab(opts: { home?: string }): LabEnvironment {
  return openLab(opts.home);
}

/** Runs a lab action; a LabError becomes a clean message and exit code. */
async function run<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabError) {
      const usage = err.code === 'bad-input' || err.code === 'unknown-topology' || err.code === 'unknown-component';
      throw new CliError(err.message, usage ? 2 : 1);
    }
    throw err;
  }
}

function fmtElapsed(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** One live line per component: redrawn on a terminal, plain lines otherwise. */
class ProgressView {
  private lines = new Map<string, Progress>();
  private drawn = 0;
  private lastPlain = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly tty = !!process.stdout.isTTY;
  private readonly t0 = Date.now();

  constructor() {
    if (this.tty) this.timer = setInterval(() => this.draw(), 100);
  }

  update(p: Progress): void {
    this.lines.set(p.component, { ...p, elapsedMs: p.elapsedMs });
    if (!this.tty) {
      const key = `${p.state} ${p.message}`;
      if (this.lastPlain.get(p.component) !== key) {
        this.lastPlain.set(p.component, key);
        process.stdout.write(`${p.component.padEnd(10)} ${p.state.padEnd(8)} ${fmtElapsed(p.elapsedMs).padStart(6)}  ${p.message}\n`);
      }
    }
  }

  private draw(): void {
    const rows = [...this.lines.values()].map((p) => {
      const mark = p.state === 'running' ? 'ok ' : p.state === 'failed' ? 'ERR' : '...';
      const el = p.state === 'starting' ? Date.now() - this.t0 : p.elapsedMs;
      return `${mark} ${p.component.padEnd(10)} ${fmtElapsed(el).padStart(6)}  ${p.message}`.slice(0, (process.stdout.columns || 120) - 1);
    });
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const r of rows) out += `\x1b[2K${r}\n`;
    process.stdout.write(out);
    this.drawn = rows.length;
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.draw();
  }
}

function uptime(startedAt: number | null | undefined): string {
  if (!startedAt) return '-';
  const s = Math.max(0, Math.round((Date.now() - startedAt) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The widest table `hmlab status` prints: a terminal of 100 columns shows it unwrapped. */
export const STATUS_COLUMNS = 100;

/** Breaks text at spaces so no line passes `width`; continuation lines get `indent`. */
function wrapWords(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : `${indent}${word}`;
    if (next.length > width && line.trim()) { lines.push(line); line = `${indent}${word}`; } else line = next;
  }
  if (line.trim()) lines.push(line);
  return lines;
}

/** Where a service's RPC connection is: the lab component listening there, by name, and its address. */
function connectionOf(st: LabStatus, c: ComponentStatus): string {
  const at = endpointKey(c.connectedTo);
  if (!at) return '-';
  const name = componentAt(st.components, at)?.name;
  return name ? `-> ${name} (${at})` : `-> ${at}`;
}

export function formatStatus(st: LabStatus): string {
  const out: string[] = [];
  if (!st.topology) return `no lab in ${st.home}: start one with "hmlab up --topology broker-only|hybrid|hybrid-mesh"`;
  out.push(`lab ${st.home}  topology ${st.topology}${st.router ? `  router ${st.router}` : ''}`);
  out.push(`RPC transport:          ${st.transports.rpc ?? '(unset)'}`);
  out.push(`Notification transport: ${st.transports.notify ?? '(unset)'}`);
  out.push('');
  // The component's kind is in its name (broker, router-*, services), so no KIND
  // column: the table fits STATUS_COLUMNS even with qdrouterd's product name.
  const head = ['NAME', 'STATE', 'PID', 'ENDPOINT / CONNECTED TO', 'PRODUCT', 'UP'];
  const rows = st.components.map((c) => [
    c.name, c.state, c.pid ? String(c.pid) : '-',
    c.kind === 'service' ? connectionOf(st, c) : endpointKey(c.endpoint) ?? c.endpoint ?? '-',
    c.product ?? '-', uptime(c.startedAt),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  out.push(line(head));
  for (const [i, r] of rows.entries()) {
    out.push(line(r));
    const c = st.components[i];
    if (c.detail && c.state !== 'running') out.push(...wrapWords(c.detail, STATUS_COLUMNS, '    '));
  }
  if (st.wan) out.push('', formatWan(st.wan));
  const t = st.traffic;
  out.push('');
  out.push(`traffic: RPC calls ${t.rpcCalls.ok} ok / ${t.rpcCalls.failed} failed, casts ${t.rpcCasts.sent}, fanouts ${t.fanouts.sent}`);
  const rate = st.trafficRate !== undefined ? `  (conductor: ${st.trafficRate} ops/s)` : '';
  out.push(`         notifications ${t.notifications.sent} sent / ${t.notifications.received} received${rate}`);
  return out.join('\n');
}

/** One line per component after start, stop, kill or restart: state, pid, product, where a service is connected. */
export function formatComponent(st: LabStatus, c: ComponentStatus): string {
  const where = c.kind === 'service' && c.state === 'running' && c.connectedTo ? ` ${connectionOf(st, c)}` : '';
  return `${c.name}: ${c.state}${c.pid ? ` (pid ${c.pid})` : ''}${c.product ? `, ${c.product}` : ''}${where}${c.detail ? ` - ${c.detail}` : ''}`;
}

function follow(file: string, from: number): Promise<never> {
  let pos = from;
  return new Promise(() => {
    setInterval(() => {
      try {
        const size = statSync(file).size;
        if (size < pos) pos = 0; // truncated by a new `up`
        if (size > pos) {
          const fd = openSync(file, 'r');
          const buf = Buffer.alloc(size - pos);
          readSync(fd, buf, 0, buf.length, pos);
          closeSync(fd);
          pos = size;
          process.stdout.write(buf.toString('utf8').replace(/\x1b\[[0-9;]*m/g, ''));
        }
      } catch { /* the file comes back at the next start */ }
    }, 200);
  });
}

export function registerLabCommands(program: Command): void {
  program.command('up')
    .description('start a lab: broker, routers and OpenStack services, each a real process; returns when all are ready')
    .option('-t, --topology <topology>', `${TOPOLOGIES.join(' | ')}`, 'hybrid')
    .option(...homeOption)
    .option('--base-port <n>', `first of the ${PORT_BLOCK} loopback ports this lab uses (default: the block this home used last, else ${DEFAULT_BASE_PORT})`)
    .option('--qdrouterd <path>', 'qdrouterd binary to use for routers (default: qdrouterd on PATH, else the embedded router)')
    .option('--rate <n>', 'conductor operations per second, 0 pauses (default: HMLAB_TRAFFIC_RATE, else 5)')
    .option('--wan-cost <n>', 'multi-region: inter-router cost of the connectors across the WAN (default 10)')
    .action(async (opts: { topology: string; home?: string; basePort?: string; qdrouterd?: string; rate?: string; wanCost?: string }) => {
      const r = upSchema.safeParse(opts);
      if (!r.success) throw new CliError(r.error.issues[0]?.message ?? 'invalid option', 2);
      const env = lab(opts);
      // Piped into `head`, say: a closed stdout must not stop a lab half-way.
      process.stdout.on('error', () => {});
      const view = new ProgressView();
      const t0 = Date.now();
      // Ctrl-C while starting: stop what was started, leave nothing behind.
      const interrupted = new AbortController();
      const onSigint = () => interrupted.abort();
      process.once('SIGINT', onSigint);
      let st: LabStatus;
      try {
        st = await run(() => env.up({
          signal: interrupted.signal,
          topology: r.data.topology,
          // "hmlab down; hmlab up" keeps the ports the home had, so it never collides with another lab.
          basePort: r.data.basePort ?? env.ports()?.base ?? DEFAULT_BASE_PORT,
          qdrouterd: r.data.qdrouterd,
          trafficRate: r.data.rate,
          wanCost: r.data.wanCost,
          onProgress: (p) => view.update(p),
        }));
      } finally {
        process.off('SIGINT', onSigint);
        view.end();
      }
      process.stdout.write(`\nlab ready in ${fmtElapsed(Date.now() - t0)}\n\n${formatStatus(st)}\n`);
    });

  program.command('status')
    .description('what runs in the lab, its transports and its traffic')
    .option(...homeOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { home?: string; json?: boolean }) => {
      const st = await run(() => lab(opts).status());
      process.stdout.write(opts.json ? JSON.stringify(st, null, 2) + '\n' : formatStatus(st) + '\n');
    });

  for (const [verb, what] of [
    ['start', 'start a stopped or killed component and wait until it is ready'],
    ['stop', 'stop a component cleanly'],
    ['restart', 'stop and start a component; "services" restarts every OpenStack service (picks up an edited openstack.conf)'],
    ['kill', 'SIGKILL a component, like a crash; it stays down until started'],
  ] as const) {
    program.command(`${verb} <name>`)
      .description(what)
      .option(...homeOption)
      .action(async (name: string, opts: { home?: string }) => {
        const env = lab(opts);
        const c = await run(() => {
          if (verb === 'start') return env.start(name);
          if (verb === 'stop') return env.stop(name);
          if (verb === 'kill') return env.kill(name);
          return env.restart(name);
        });
        const st = await env.status();
        // "services" restarts every service: say so for each, not only for the last one.
        const shown = verb === 'restart' && name === 'services'
          ? st.components.filter((x) => x.kind === 'service')
          : [st.components.find((x) => x.name === c.name) ?? c];
        process.stdout.write(shown.map((x) => formatComponent(st, x)).join('\n') + '\n');
      });
  }

  program.command('logs <name>')
    .description("print a component's log")
    .option(...homeOption)
    .option('-n, --lines <n>', 'how many of the last lines', '100')
    .option('-f, --follow', 'keep printing new lines')
    .action(async (name: string, opts: { home?: string; lines: string; follow?: boolean }) => {
      const n = z.coerce.number().int().min(1).safeParse(opts.lines);
      if (!n.success) throw new CliError('--lines must be a whole number of at least 1', 2);
      const file = await run(() => lab(opts).logPath(name));
      if (!existsSync(file)) throw new CliError(`${name} has no log yet: it has not been started`);
      const text = tailLog(file, n.data);
      process.stdout.write(text ? text + '\n' : '');
      if (opts.follow) await follow(file, statSync(file).size);
    });

  program.command('down')
    .description('stop everything of the lab; no process of this home is left')
    .option(...homeOption)
    .action(async (opts: { home?: string }) => {
      const env = lab(opts);
      await run(() => env.down());
      process.stdout.write(`lab ${env.paths.home} is down\n`);
    });

  program.command('config')
    .description('the effective transports of etc/openstack.conf and which backend serves each')
    .option(...homeOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { home?: string; json?: boolean }) => {
      const d = await run(() => lab(opts).describeConfig());
      if (opts.json) { process.stdout.write(JSON.stringify(d, null, 2) + '\n'); return; }
      const what = (b: (typeof d.rpc.servedBy)[number]) => (b.product ? ` (${b.product})` : b.kind === 'unknown' ? ' (not part of this lab)' : '');
      const served = (s: typeof d.rpc.servedBy) => s.map((b) => `${b.name}${what(b)}`).join(', ') || '-';
      const notifyUrl = d.notify.fallsBackToRpc
        ? '[oslo_messaging_notifications] transport_url unset: same as RPC'
        : `[oslo_messaging_notifications] transport_url = ${d.notify.url}`;
      process.stdout.write([
        `file: ${d.file}`,
        `RPC            [DEFAULT] transport_url = ${d.rpc.url ?? '(unset)'}`,
        `               driver ${d.rpc.driver ?? '-'}, served by ${served(d.rpc.servedBy)}`,
        `Notifications  ${notifyUrl}`,
        `               driver ${d.notify.driver ?? 'unset: NO notifications are sent'}, topics ${d.notify.topics.join(', ')}`,
        `               served by ${served(d.notify.servedBy)}`,
      ].join('\n') + '\n');
    });

  program.command('traffic <rate>')
    .description('set the conductor\'s RPC operations per second (0 pauses)')
    .option(...homeOption)
    .action(async (rate: string, opts: { home?: string }) => {
      const n = Number(rate);
      if (!Number.isFinite(n)) throw new CliError(`traffic rate "${rate}" is not a number: give operations per second, e.g. "hmlab traffic 5" (0 pauses)`, 2);
      await run(() => lab(opts).setTrafficRate(n));
      process.stdout.write(`conductor traffic: ${n} operations per second\n`);
    });
}
