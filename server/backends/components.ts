// How each kind of component is started, recognised as ready and stopped:
// the RabbitMQ broker, the routers (qdrouterd or the embedded router) and
// the OpenStack services on oslo.messaging.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import rhea from 'rhea';
import type { ComponentKind } from '../../common/wire.js';
import type { LabPaths, PortPlan } from './types.js';
import { LabError } from './errors.js';
import { HMLAB_BIN, OPENSTACK_DIR } from '../paths.js';
import { sleep, stopGroup, tailLog } from './processes.js';
import { SERVICE_ROLE, type ServiceName } from './templates.js';
import { wrapInNamespace } from '../isolation/index.js';

export const PYTHON = () => process.env.HMLAB_PYTHON || '/usr/bin/python3';
export const RABBITMQ_SERVER = () => process.env.HMLAB_RABBITMQ_SERVER || '/usr/lib/rabbitmq/bin/rabbitmq-server';
export const OSLO_INSTALL = 'apt-get install python3-oslo.messaging python3-pyngus python3-qpid-proton';
export const RABBITMQ_INSTALL = 'apt-get install rabbitmq-server';

export interface Launch { cmd: string; args: string[]; env: NodeJS.ProcessEnv }

export interface WaitContext {
  pid: number;
  exited: Promise<unknown>;
  /** Aborted, with an AbortError as its reason, when the component is not ready in time or the start is called off. */
  signal: AbortSignal;
  progress(message: string): void;
}

export interface ComponentSpec {
  name: string;
  kind: ComponentKind;
  endpoint: string | null;
  management: string | null;
  readyTimeoutMs: number;
  /** The network namespace it runs in (multi-region); null or absent: the host's. */
  namespace?: string | null;
  launch(): Launch;
  /** Resolves with the product the component says it is, or throws why it is not ready. */
  waitReady(ctx: WaitContext): Promise<string>;
  stop(pid: number): Promise<void>;
}

export function nodeName(home: string): string {
  return `hmlab-${createHash('sha1').update(home).digest('hex').slice(0, 8)}@localhost`;
}

// ---- checks for what must be installed ---------------------------------------

export function checkRabbitmqInstalled(): void {
  try {
    accessSync(RABBITMQ_SERVER(), constants.X_OK);
  } catch {
    throw new LabError('not-installed', `RabbitMQ is not installed (no ${RABBITMQ_SERVER()}): install it with "${RABBITMQ_INSTALL}"`);
  }
}

/** Finds the modules without importing them, so the check costs milliseconds. */
export function checkOsloInstalled(): Promise<void> {
  const code = 'import importlib.util,sys; m=[n for n in ("oslo_messaging","oslo_config","pyngus","proton") if importlib.util.find_spec(n) is None]; '
    + 'print(" ".join(m)); sys.exit(1 if m else 0)';
  return new Promise((resolve, reject) => {
    let out = '';
    const p = spawn(PYTHON(), ['-c', code], { stdio: ['ignore', 'pipe', 'ignore'] });
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', () => reject(new LabError('not-installed', `Python 3 is not found at ${PYTHON()}: install oslo.messaging with "${OSLO_INSTALL}"`)));
    p.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new LabError('not-installed', `oslo.messaging and its AMQP 1.0 driver are not installed for ${PYTHON()} (missing: `
        + `${out.trim() || 'unknown'}): install them with "${OSLO_INSTALL}"`));
    });
  });
}

export function findOnPath(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try { accessSync(p, constants.X_OK); if (statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return null;
}

let embeddedChecked: boolean | null = null;
const embeddedArgs = [HMLAB_BIN, 'router', '--help'];
// generous: ten workshop seats starting at once on two cores took longer than 10 s
const EMBEDDED_CHECK_TIMEOUT_MS = 30_000;
const embeddedOk = (status: number | null, stdout: string) => status === 0 && /-c\b|--config/.test(stdout);
/** Only an answer is remembered: a check cut short by its timeout says nothing about the build, so the next one asks again. */
const remember = (status: number | null, stdout: string): boolean => {
  const ok = embeddedOk(status, stdout);
  if (status !== null) embeddedChecked = ok;
  return ok;
};

/** Same check without blocking, so `up` runs it beside its other checks. */
export function embeddedRouterAvailableAsync(): Promise<boolean> {
  if (process.env.HMLAB_NO_EMBEDDED_ROUTER === '1') return Promise.resolve(false);
  if (embeddedChecked !== null) return Promise.resolve(embeddedChecked);
  return new Promise((resolve) => {
    let out = '';
    const p = spawn(process.execPath, embeddedArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
    const t = setTimeout(() => p.kill('SIGKILL'), EMBEDDED_CHECK_TIMEOUT_MS);
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', () => { clearTimeout(t); resolve(false); });
    p.on('exit', (code) => { clearTimeout(t); resolve(remember(code, out)); });
  });
}
/** The embedded router is there when `hmlab router --help` offers `-c`. */
export function embeddedRouterAvailable(): boolean {
  if (process.env.HMLAB_NO_EMBEDDED_ROUTER === '1') return false;
  if (embeddedChecked !== null) return embeddedChecked;
  const r = spawnSync(process.execPath, embeddedArgs, { encoding: 'utf8', timeout: EMBEDDED_CHECK_TIMEOUT_MS });
  return remember(r.status, r.stdout ?? '');
}

// ---- readiness probes -----------------------------------------------------------

/** Rejects with the signal's reason, an AbortError, once the wait is called off. */
function aborted(ctx: WaitContext): Promise<never> {
  return new Promise((_, reject) => {
    const stop = () => reject(ctx.signal.reason);
    if (ctx.signal.aborted) stop();
    else ctx.signal.addEventListener('abort', stop, { once: true });
  });
}

function exitedEarly(ctx: WaitContext, name: string, log: string): Promise<never> {
  return ctx.exited.then((e) => {
    const ex = e as { code: number | null; signal: string | null };
    const said = lastHmlabLine(log, name);
    throw new Error(said ?? `${name} exited (${ex.signal ? `signal ${ex.signal}` : `code ${ex.code}`}) before it was ready`);
  });
}

/** A service explains its own failure in a line starting with "hmlab: ". */
function lastHmlabLine(log: string, name: string): string | null {
  const lines = tailLog(log, 40).split('\n').filter((l) => l.startsWith('hmlab: '));
  if (!lines.length) return null;
  const line = lines[lines.length - 1].slice('hmlab: '.length);
  return line.startsWith(`${name}: `) ? line.slice(name.length + 2) : line;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
  });
}

async function poll<T>(ctx: WaitContext, intervalMs: number, probe: () => Promise<T | null>): Promise<T> {
  for (;;) {
    ctx.signal.throwIfAborted();
    const r = await probe();
    if (r !== null) return r;
    await sleep(intervalMs);
  }
}

/** Opens an AMQP connection and reads the peer's product from its Open. */
export function amqpProduct(port: number, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const container = rhea.create_container({ id: `hmlab-probe-${process.pid}` });
    let done = false;
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { conn.close(); } catch { /* closing anyway */ }
      setTimeout(() => { try { (conn as unknown as { socket?: { destroy(): void } }).socket?.destroy(); } catch { /* gone */ } }, 200);
      resolve(v);
    };
    const conn = container.connect({ host: '127.0.0.1', port, reconnect: false, idle_time_out: 0 });
    const timer = setTimeout(() => finish(null), timeoutMs);
    conn.on('connection_open', () => {
      const props = (conn.properties ?? {}) as Record<string, unknown>;
      const product = typeof props.product === 'string' ? props.product : 'AMQP 1.0 peer';
      const version = typeof props.version === 'string' ? ` ${props.version}` : '';
      finish(`${product}${version}`);
    });
    conn.on('disconnected', () => finish(null));
    conn.on('connection_error', () => finish(null));
    conn.on('error', () => finish(null));
  });
}

// ---- the broker ---------------------------------------------------------------------

/** Ports and files of one broker of the lab: `broker`, or region 2's `broker-2`. */
function brokerPlan(name: string, plan: PortPlan): { amqp: number; management: number; dist: number } {
  if (name === 'broker-2') {
    if (!plan.broker2) throw new LabError('bad-config', 'no ports for broker-2 in state.json: run "hmlab down" and "hmlab up --topology multi-region"');
    return plan.broker2;
  }
  return { amqp: plan.brokerAmqp, management: plan.brokerManagement, dist: plan.brokerDist };
}

export function brokerEnv(paths: LabPaths, plan: PortPlan, name = 'broker'): NodeJS.ProcessEnv {
  const data = join(paths.home, 'data', name);
  const ports = brokerPlan(name, plan);
  const etc = name === 'broker' ? paths.etc : join(paths.etc, name);
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: data, // the Erlang cookie lives here; rabbitmqctl must see the same one
    RABBITMQ_NODENAME: name === 'broker' ? nodeName(paths.home) : nodeName(paths.home).replace('@', `-${name}@`),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(ports.amqp),
    RABBITMQ_DIST_PORT: String(ports.dist),
    RABBITMQ_CONFIG_FILE: join(etc, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(etc, 'rabbitmq-advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(etc, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(etc, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(data, 'mnesia'),
    RABBITMQ_LOG_BASE: join(paths.logs, name),
    RABBITMQ_PID_FILE: join(paths.run, `${name}.pid`),
    // Loopback only, Erlang distribution included (it listens on every
    // interface by default), and epmd too when this node is the one starting it.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
}

export function brokerSpec(paths: LabPaths, plan: PortPlan, name = 'broker', namespace: string | null = null): ComponentSpec {
  const env = brokerEnv(paths, plan, name);
  const ports = brokerPlan(name, plan);
  const mgmt = `http://127.0.0.1:${ports.management}`;
  const log = join(paths.logs, `${name}.log`);
  const auth = 'Basic ' + Buffer.from('guest:guest').toString('base64');
  return {
    name,
    kind: 'broker',
    endpoint: `amqp://127.0.0.1:${ports.amqp}`,
    management: mgmt,
    namespace,
    readyTimeoutMs: 90_000,
    launch: () => ({ cmd: RABBITMQ_SERVER(), args: [], env }),
    async waitReady(ctx) {
      ctx.progress(`booting node ${env.RABBITMQ_NODENAME}; waiting for its management API on 127.0.0.1:${ports.management}`);
      const probe = poll(ctx, 50, async () => {
        try {
          const r = await fetch(`${mgmt}/api/overview`, { headers: { authorization: auth }, signal: AbortSignal.timeout(1000) });
          if (!r.ok) return null;
          const body = (await r.json()) as { rabbitmq_version?: string; product_name?: string };
          // The management API can answer a moment before the AMQP listener.
          if (!(await tcpOpen(ports.amqp))) return null;
          return `${body.product_name ?? 'RabbitMQ'} ${body.rabbitmq_version ?? ''}`.trim();
        } catch {
          return null;
        }
      });
      return Promise.race([probe, exitedEarly(ctx, 'the broker', log), aborted(ctx)]);
    },
    async stop(pid) {
      // rabbitmqctl under the node's own environment (same HOME, same cookie).
      const ctl = join(RABBITMQ_SERVER(), '..', 'rabbitmqctl');
      if (existsSync(ctl)) {
        await new Promise<void>((resolve) => {
          // In its namespace: the node's epmd and distribution port live there.
          const stop = ['stop', env.RABBITMQ_PID_FILE as string];
          const [cmd, args] = namespace ? wrapInNamespace(namespace, ctl, stop) : [ctl, stop];
          const p = spawn(cmd, args, { env, stdio: 'ignore' });
          const t = setTimeout(() => { try { p.kill('SIGKILL'); } catch { /* gone */ } resolve(); }, 20_000);
          p.on('exit', () => { clearTimeout(t); resolve(); });
          p.on('error', () => { clearTimeout(t); resolve(); });
        });
      }
      await stopGroup(pid, 3000);
    },
  };
}

// ---- routers --------------------------------------------------------------------------

export function routerSpec(name: string, paths: LabPaths, plan: PortPlan, qdrouterd: string | null, namespace: string | null = null): ComponentSpec {
  const conf = join(paths.etc, `${name}.conf`);
  const port = plan.routers[name].normal;
  const log = join(paths.logs, `${name}.log`);
  return {
    name,
    kind: 'router',
    endpoint: `amqp://127.0.0.1:${port}`,
    management: `amqp://127.0.0.1:${port}`,
    namespace,
    readyTimeoutMs: 30_000,
    launch: () => qdrouterd
      ? { cmd: qdrouterd, args: ['-c', conf], env: { ...process.env } }
      : { cmd: process.execPath, args: [HMLAB_BIN, 'router', '-c', conf], env: { ...process.env } },
    async waitReady(ctx) {
      ctx.progress(`waiting for an AMQP Open on 127.0.0.1:${port}`);
      const probe = poll(ctx, 50, async () => ((await tcpOpen(port)) ? amqpProduct(port) : null));
      return Promise.race([probe, exitedEarly(ctx, name, log), aborted(ctx)]);
    },
    stop: (pid) => stopGroup(pid, 3000),
  };
}

// ---- OpenStack services -------------------------------------------------------------

export function serviceSpec(
  name: ServiceName, paths: LabPaths,
  opts: {
    connectTimeoutS: number; overrideFile: string | null; endpoint: string | null; connectsTo?: string | null; namespace?: string | null;
    /** The lab boots as a whole: wait for the first host of transport_url, where the lab placed the service, not any of them. */
    waitFirstHost?: boolean;
  },
): ComponentSpec {
  const eventsFile = join(paths.events, `${name}.jsonl`);
  const log = join(paths.logs, `${name}.log`);
  let offset = 0;
  return {
    name,
    kind: 'service',
    endpoint: opts.endpoint,
    management: null,
    namespace: opts.namespace ?? null,
    readyTimeoutMs: (opts.connectTimeoutS + 30) * 1000, // Python imports are slow on a busy machine
    launch() {
      try { offset = statSync(eventsFile).size; } catch { offset = 0; }
      const args = ['-m', 'hmlab_openstack', SERVICE_ROLE[name], '--name', name, '--home', paths.home, '--config-file', paths.openstackConf];
      if (opts.overrideFile) args.push('--config-file', opts.overrideFile);
      return {
        cmd: PYTHON(),
        args,
        env: {
          ...process.env,
          PYTHONPATH: OPENSTACK_DIR,
          PYTHONDONTWRITEBYTECODE: '1',
          PYTHONUNBUFFERED: '1',
          HMLAB_CONNECT_TIMEOUT: String(opts.connectTimeoutS),
          HMLAB_WAIT_FIRST_HOST: opts.waitFirstHost ? '1' : '0',
        },
      };
    },
    async waitReady(ctx) {
      ctx.progress(opts.connectsTo
        ? `starting on oslo.messaging; waiting for it to connect to ${opts.connectsTo}`
        : 'starting on oslo.messaging; waiting for it to connect its transports');
      const probe = poll(ctx, 50, async () => {
        const text = readFrom(eventsFile, offset);
        if (!text.includes('"kind":"service.started"')) return null;
        return readProduct(paths, name) ?? 'oslo.messaging';
      });
      return Promise.race([probe, exitedEarly(ctx, name, log), aborted(ctx)]);
    },
    stop: (pid) => stopGroup(pid, 5000),
  };
}

function readFrom(file: string, offset: number): string {
  try {
    const size = statSync(file).size;
    if (size <= offset) return '';
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

export function readProduct(paths: LabPaths, name: string): string | null {
  try {
    const doc = JSON.parse(readFileSync(join(paths.run, `${name}.stats.json`), 'utf8')) as { product?: unknown };
    return typeof doc.product === 'string' ? doc.product : null;
  } catch {
    return null;
  }
}
