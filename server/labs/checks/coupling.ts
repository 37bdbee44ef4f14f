// Checks of lab 3, temporal coupling: RPC through the router needs its
// server to be there now; notifications on the broker wait for their consumer.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckDef } from './registry.js';
import { component, running } from './context.js';
import { COMPUTES, NOTIFY_QUEUE, calls, fail, pass, queues, round } from './common.js';

const PEAK = 'coupling.peak';

export const couplingChecks: CheckDef[] = [
  {
    id: 'notifications-queued',
    title: 'Notifications wait in their queue while nobody consumes them',
    async run(ctx) {
      const st = await ctx.status();
      if (running(st, 'telemetry')) return fail('The telemetry agent still runs and consumes every notification at once: stop it with "hmlab stop telemetry".');
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      const waiting = q?.messages ?? 0;
      if (!q || waiting === 0) {
        const stopped = COMPUTES.some((n) => running(st, n)) ? '' : ' (they are stopped too: start one, "hmlab start compute-1")';
        return fail(
          `"${NOTIFY_QUEUE}" holds no message yet. The compute services send a notification for each operation: ` +
          `give them a few seconds and check again${stopped}.`,
        );
      }
      const peak = Math.max(waiting, Number(ctx.memory.get(PEAK) ?? 0));
      ctx.memory.set(PEAK, peak);
      return pass(
        `${waiting} notifications wait in "${NOTIFY_QUEUE}" with ${q.consumers ?? 0} consumers: ` +
        'the broker stored them and acknowledged the senders; nothing was lost.',
        { waiting },
      );
    },
  },
  {
    id: 'rpc-calls-fail',
    title: 'RPC calls fail while no compute service runs',
    async run(ctx) {
      const st = await ctx.status();
      const up = COMPUTES.filter((n) => running(st, n));
      if (up.length) {
        return fail(
          `${up.join(' and ')} still run${up.length === 1 ? 's' : ''}: ` +
          'stop both compute services ("hmlab stop compute-1", "hmlab stop compute-2").',
        );
      }
      const c = calls(await ctx.events('conductor', Date.now() - 120_000));
      if (!c.failed.length) {
        let timeoutS = 10; // the conductor's default, unless etc/traffic.json says otherwise
        try { timeoutS = Number(JSON.parse(await readFile(join(ctx.env.paths.etc, 'traffic.json'), 'utf8')).callTimeout) || timeoutS; } catch { /* default */ }
        const succeeded = c.ok.length ? ` (${c.ok.length} calls still succeeded, answered before the services stopped)` : '';
        return fail(
          `No RPC call has failed yet${succeeded}. With no server for the topic, the router gives the conductor no credit ` +
          `and each call waits until its timeout runs out (the conductor gives its calls ${timeoutS} s; ` +
          'a call without one gets [DEFAULT] rpc_response_timeout, 60 s by default): check again in a few seconds.',
        );
      }
      const waits = c.failed.map((e) => e.latencyMs ?? 0).filter((x) => x > 0);
      const why = [...new Set(c.failed.map((e) => (e.error ?? 'error').split(':')[0]))].join(', ');
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      const waited = waits.length ? ` after waiting ${round(Math.max(...waits) / 1000)} s` : '';
      return pass(
        `${c.failed.length} RPC call(s) failed (${why})${waited}: the router keeps nothing for a server that is not there. ` +
        `Meanwhile ${q?.messages ?? 0} notifications wait in "${NOTIFY_QUEUE}".`,
        { failedCalls: c.failed.length, waiting: q?.messages ?? 0 },
      );
    },
  },
  {
    id: 'queue-drained',
    title: 'Everything back: the queue drained and calls succeed again',
    async run(ctx) {
      const st = await ctx.status();
      const down = ['telemetry', ...COMPUTES].filter((n) => !running(st, n));
      if (down.length) return fail(`${down.join(', ')} not running: start ${down.length > 1 ? 'them' : 'it'} again ("hmlab start ${down[0]}").`);
      const tel = component(st, 'telemetry');
      const since = tel?.startedAt ?? Date.now() - 60_000;
      // Evidence of a backlog: notifications received after the agent came
      // back that were sent before it did.
      const sent = new Map<string, number>();
      for (const n of COMPUTES) for (const e of await ctx.events(n, since - 600_000)) if (e.kind === 'notify.sent' && e.id) sent.set(e.id, e.t);
      const received = (await ctx.events('telemetry', since)).filter((e) => e.kind === 'notify.received');
      const backlog = received.filter((e) => e.id && (sent.get(e.id) ?? Infinity) < since).length;
      const peak = Number(ctx.memory.get(PEAK) ?? 0);
      if (!backlog && !peak) {
        return fail(
          'The telemetry agent has not caught up with a backlog: stop it first ("hmlab stop telemetry"), ' +
          'let notifications wait in the queue, then start it again.',
        );
      }
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      const waiting = q?.messages ?? 0;
      if (waiting > 5) return fail(`${waiting} notifications still wait in "${NOTIFY_QUEUE}": the agent is catching up, check again in a moment.`);
      const computeStart = Math.max(...COMPUTES.map((n) => component(st, n)?.startedAt ?? 0));
      const ok = calls(await ctx.events('conductor', computeStart)).ok;
      if (!ok.length) return fail('No RPC call has succeeded since the compute services came back; give them a few seconds.');
      return pass(
        `The queue drained: the telemetry agent received ${backlog || peak} notifications sent while it was away ` +
        `(now ${waiting} waiting), and ${ok.length} RPC calls succeeded since the compute services returned.`,
        { backlog: backlog || peak, waiting, okCalls: ok.length },
      );
    },
  },
];
