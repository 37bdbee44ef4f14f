// The lab observer: one per lab home. It watches the lab's status (cheap, a
// few times a second) and keeps the right pollers running for what is up:
// one management poller per router, one API poller per broker, one tail
// over the services' event files. Everything it sees goes onto the bus.
// In a lab server it runs only while someone watches (a subscriber to the
// bus: an event stream, the recorder); otherwise status() reads the lab on
// demand, so a room of idle workshop seats costs no polling.
import type { ComponentStatus, LabEvent, LabStatus, RouterSnapshot } from '../../common/wire.js';
import { endpointOf } from '../../common/endpoint.js';
import { isUp } from '../../common/rules.js';
import type { LabEnvironmentApi } from '../backends/types.js';
import { UNEXPECTED_EXIT } from '../backends/index.js';
import { EventBus } from './bus.js';
import { BrokerPoller } from './broker.js';
import { RouterPoller, type ManagementConnect } from './routers.js';
import { ServiceEventObserver } from './service-events.js';

export interface LabObserverOptions {
  statusIntervalMs?: number; // default 500
  routerIntervalMs?: number; // default 333
  brokerIntervalMs?: number; // default 1000
  maxMessagesPerSecond?: number; // default 200
  /** How to reach a router's $management (server/router's ManagementClient.connect). */
  connect: ManagementConnect;
  /**
   * How long a process that is gone while the lab still lists it as running
   * may take to be recorded as stopped before it counts as a crash
   * (default 1000 ms): "hmlab down" and "hmlab stop" mark a component as
   * stopping before they signal it, so this only covers a record written a
   * moment late; a real crash still shows within two seconds.
   */
  exitGraceMs?: number;
}

/** A process gone while state.json still says it runs: a crash, or a stop not yet recorded. */
function unexplainedExit(c: ComponentStatus): boolean {
  return c.state === 'failed' && (c.detail ?? '').startsWith(UNEXPECTED_EXIT);
}

/** What about a status makes the picture change (states, pids, where things attach). */
function structure(s: LabStatus): string {
  return JSON.stringify([s.topology, s.router, s.components.map((c) => [c.name, c.state, c.pid, c.endpoint, c.connectedTo ?? null])]);
}

export class LabObserver {
  private statusTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private pollAgain = false;
  private lastStructure = '';
  private lastJson = '';
  private lastStatusEmit = 0;
  private components = new Map<string, ComponentStatus>();
  private exitSeen = new Map<string, number>(); // component -> when its unexplained exit was first seen
  private routers = new Map<string, RouterPoller>();
  private brokers = new Map<string, BrokerPoller>(); // one per broker: a multi-region lab has one per region
  readonly services: ServiceEventObserver;
  private started = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private unfollow: (() => void) | null = null;
  /** How long an exit still masked by its grace has left (ms), from the last status read; null when none is. */
  private graceLeftMs: number | null = null;
  statusError: string | null = null;

  constructor(readonly lab: LabEnvironmentApi, readonly bus: EventBus, private readonly opts: LabObserverOptions) {
    this.services = new ServiceEventObserver(lab.paths.events, (e) => this.bus.publish(e), { maxMessagesPerSecond: opts.maxMessagesPerSecond });
  }

  /** Whether the pollers run (someone watches, or start() was called). */
  get running(): boolean { return this.started; }

  /**
   * Observe only while the bus has subscribers, and for `lingerMs` after the
   * last one leaves (a page reload does not restart every poller).
   */
  observeWhileWatched(lingerMs = 5000): void {
    if (this.unfollow) return;
    const watched = (on: boolean) => {
      if (this.lingerTimer) clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
      if (on) { void this.start(); return; }
      this.lingerTimer = setTimeout(() => { this.lingerTimer = null; void this.stop(); }, lingerMs);
      this.lingerTimer.unref?.();
    };
    this.unfollow = this.bus.onWatched(watched);
    if (this.bus.size) watched(true);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.lastStructure = ''; // reconcile on the first poll whatever was seen before
    this.services.failovers.clear(); // connections seen before a pause are re-read from the lab's status
    await this.pollStatus();
    this.services.start();
    this.statusTimer = setInterval(() => { void this.pollStatus(); }, this.opts.statusIntervalMs ?? 500);
  }

  /** Stops every poller; the bus forgets what they saw (it would go stale). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.services.stop();
    for (const b of this.brokers.values()) b.stop();
    this.brokers.clear();
    const routers = [...this.routers.values()];
    this.routers.clear(); // before waiting: a start meanwhile makes its own pollers
    this.bus.forget();
    await Promise.all(routers.map((p) => p.stop()));
  }

  /** Stops, and no longer follows the bus's subscribers. */
  async dispose(): Promise<void> {
    this.unfollow?.();
    this.unfollow = null;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    await this.stop();
  }

  /** The latest status, fresh (used for hello and GET /api/status). */
  async status(): Promise<LabStatus> {
    const s = this.observeStatus(await this.lab.status());
    // Nobody watches, so no later poll would unmask an exit within its grace: look again when the grace ends.
    if (this.started || this.graceLeftMs === null) return s;
    await new Promise((r) => setTimeout(r, this.graceLeftMs! + 10));
    return this.observeStatus(await this.lab.status());
  }

  /** Poll now, e.g. right after an operation changed something. */
  async pollStatus(): Promise<void> {
    // a slow status() must not pile up calls; one asked for meanwhile runs right after it
    if (this.polling) { this.pollAgain = true; return; }
    this.polling = true;
    try {
      this.observeStatus(await this.lab.status());
      this.statusError = null;
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      if (msg !== this.statusError) this.bus.publish({ type: 'error', t: Date.now(), message: `lab status unavailable: ${msg}` });
      this.statusError = msg;
    } finally {
      this.polling = false;
    }
    if (this.pollAgain && this.started) { this.pollAgain = false; void this.pollStatus(); }
  }

  /**
   * A deliberate stop is not a crash: an unexplained exit is shown as the
   * state before it until the grace ends; a stop recorded meanwhile shows
   * as a stop, never as a failure.
   */
  private explainExits(s: LabStatus, now: number): LabStatus {
    const grace = this.opts.exitGraceMs ?? 1000;
    let masked = false;
    this.graceLeftMs = null;
    const components = s.components.map((c) => {
      if (!unexplainedExit(c)) { this.exitSeen.delete(c.name); return c; }
      const before = this.components.get(c.name);
      const since = this.exitSeen.get(c.name) ?? now;
      this.exitSeen.set(c.name, since);
      if (now - since >= grace || !before || unexplainedExit(before) || before.state === 'failed' || before.state === 'stopped') return c;
      masked = true;
      this.graceLeftMs = Math.max(this.graceLeftMs ?? 0, since + grace - now);
      this.pollWhenGraceEnds(since + grace - now);
      return before;
    });
    return masked ? { ...s, components } : s;
  }

  /** Look again as soon as a masked exit's grace is over, so a crash shows then, not a tick later. */
  private pollWhenGraceEnds(ms: number): void {
    if (this.graceTimer || !this.started) return;
    this.graceTimer = setTimeout(() => { this.graceTimer = null; void this.pollStatus(); }, Math.max(0, ms) + 10);
  }

  private observeStatus(raw: LabStatus): LabStatus {
    const now = Date.now();
    const s = this.explainExits(raw, now);
    if (!this.started) {
      // Read on demand, nobody watching: nothing to publish; what it saw still tells the next exit from a crash.
      this.components = new Map(s.components.map((c) => [c.name, c]));
      return s;
    }
    const events: LabEvent[] = [];
    for (const c of s.components) {
      const before = this.components.get(c.name);
      if (!before || before.state !== c.state || before.pid !== c.pid) {
        if (before || c.state !== 'stopped') events.push({ type: 'component', t: now, name: c.name, state: c.state, pid: c.pid, detail: c.detail ?? null });
      }
    }
    for (const [name, before] of this.components) {
      // a component that left the lab (lab down, other topology) is gone: say it stopped
      if (!s.components.some((c) => c.name === name) && before.state !== 'stopped') {
        events.push({ type: 'component', t: now, name, state: 'stopped', pid: null, detail: null });
      }
    }
    this.components = new Map(s.components.map((c) => [c.name, c]));
    const struct = structure(s);
    const json = JSON.stringify(s);
    const changed = struct !== this.lastStructure;
    if (changed) this.services.failovers.setComponents(s.components);
    if (changed || (json !== this.lastJson && now - this.lastStatusEmit >= 1000)) {
      this.lastStructure = struct;
      this.lastJson = json;
      this.lastStatusEmit = now;
      this.bus.publish({ type: 'status', t: now, status: s });
    } else if (!this.bus.status) {
      this.bus.status = s;
    }
    for (const e of events) this.bus.publish(e);
    if (changed && this.started) this.reconcile(s);
    return s;
  }

  /** Keep exactly one poller per live router and per live broker. */
  private reconcile(s: LabStatus): void {
    const wanted = new Map<string, { host: string; port: number }>();
    for (const c of s.components) {
      if (c.kind !== 'router' || !isUp(c.state)) continue;
      const ep = endpointOf(c.management ?? c.endpoint);
      if (ep) wanted.set(c.name, ep);
    }
    for (const [name, p] of this.routers) {
      const w = wanted.get(name);
      if (!w || w.host !== p.target.host || w.port !== p.target.port) { void p.stop(); this.routers.delete(name); }
    }
    for (const [name, w] of wanted) {
      if (this.routers.has(name)) continue;
      const emit = (snapshot: RouterSnapshot) => this.bus.publish({ type: 'router', t: Date.now(), snapshot });
      // a router that stops answering has most likely exited: look at the lab now, not at the next tick
      const p = new RouterPoller({ name, ...w }, this.opts.connect, emit, this.opts.routerIntervalMs ?? 333, () => { void this.pollStatus(); });
      this.routers.set(name, p);
      p.start();
    }
    const brokers = new Map(s.components.filter((c) => c.kind === 'broker' && isUp(c.state) && c.management).map((c) => [c.name, c.management!]));
    for (const [name, p] of this.brokers) {
      if (brokers.get(name) !== p.managementUrl) { p.stop(); this.brokers.delete(name); }
    }
    for (const [name, url] of brokers) {
      if (this.brokers.has(name)) continue;
      const p = new BrokerPoller(name, url, (snapshot) => this.bus.publish({ type: 'broker', t: Date.now(), snapshot }), this.opts.brokerIntervalMs ?? 1000);
      this.brokers.set(name, p);
      p.start();
    }
  }

  /** For diagnostics and tests: what is being polled and how it goes. */
  pollers(): {
    routers: { name: string; polls: number; lastError: string | null }[];
    brokers: { name: string; url: string; polls: number; lastError: string | null }[];
  } {
    return {
      routers: [...this.routers.values()].map((p) => ({ name: p.target.name, polls: p.polls, lastError: p.lastError })),
      brokers: [...this.brokers.values()].map((p) => ({ name: p.name, url: p.managementUrl, polls: p.polls, lastError: p.lastError })),
    };
  }
}
