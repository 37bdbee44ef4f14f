// Checks of lab 6: notifications that must not be lost survive a broker
// crash only in a durable queue (oslo.messaging publishes them persistent).
import type { CheckDef } from './registry.js';
import { component, running } from './context.js';
import { COMPUTES, NOTIFY_QUEUE, fail, pass, queues, type RabbitExchange } from './common.js';

const WAITING = 'durable.waiting';

export const durableChecks: CheckDef[] = [
  {
    id: 'durable-queue',
    title: 'The notification queue and its exchange are durable',
    async run(ctx) {
      const conf = await ctx.conf();
      const set = (conf.get('oslo_messaging_rabbit', 'amqp_durable_queues') ?? 'false').toLowerCase();
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      if (!q) return fail(`RabbitMQ has no "${NOTIFY_QUEUE}" queue: are the compute services and the telemetry agent running? ("hmlab status")`);
      if (!q.durable) {
        return fail(set === 'true'
          ? `amqp_durable_queues = true is in openstack.conf, but "${NOTIFY_QUEUE}" on the broker is still transient: ` +
            'RabbitMQ keeps the old declaration. Stop the services, restart the broker and start the services (the run block of this step).'
          : `"${NOTIFY_QUEUE}" is transient: a broker restart deletes it with every message in it. Set [oslo_messaging_rabbit] amqp_durable_queues = true.`);
      }
      const ex = await ctx.rabbit<RabbitExchange | null>('/api/exchanges/%2F/openstack');
      const exchange = ex ? ` and so is its exchange "openstack" (${ex.durable ? 'durable' : 'transient'})` : '';
      return pass(`"${NOTIFY_QUEUE}" is durable${exchange}: RabbitMQ keeps it, and the persistent messages in it, across a restart.`);
    },
  },
  {
    id: 'notifications-waiting',
    title: 'Notifications wait for the stopped telemetry agent',
    async run(ctx) {
      const st = await ctx.status();
      if (running(st, 'telemetry')) return fail('The telemetry agent still consumes every notification: "hmlab stop telemetry".');
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      const n = q?.messages ?? 0;
      if (!n) return fail(`"${NOTIFY_QUEUE}" is empty so far; the compute services notify as they work: check again in a few seconds.`);
      ctx.memory.set(WAITING, { n, brokerStartedAt: component(st, 'broker')?.startedAt ?? 0, t: Date.now() });
      return pass(`${n} notifications wait in "${NOTIFY_QUEUE}" (durable: ${q?.durable ? 'yes' : 'no'}).`, { waiting: n });
    },
  },
  {
    id: 'notifications-survived',
    title: 'After the broker crash the waiting notifications are still there',
    async run(ctx) {
      const st = await ctx.status();
      const before = ctx.memory.get(WAITING) as { n: number; brokerStartedAt: number; t: number } | undefined;
      if (!before) return fail('Run the check of the previous step first, so there is a count of waiting notifications to compare with.');
      const broker = component(st, 'broker');
      if (!broker || broker.state !== 'running') return fail(`The broker is ${broker?.state ?? 'missing'}: "hmlab start broker".`);
      if ((broker.startedAt ?? 0) <= before.brokerStartedAt) {
        return fail('The broker has not been restarted since the count: "hmlab kill broker", then "hmlab start broker".');
      }
      if (running(st, 'telemetry')) return fail('Keep the telemetry agent stopped until the count is checked: "hmlab stop telemetry".');
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      const n = q?.messages ?? 0;
      if (!q || n < before.n) {
        return fail(
          `${q ? `Only ${n}` : 'No queue and no'} notification(s) survived of the ${before.n} that waited before the crash: ` +
          'the queue or its messages were transient. Make the queue durable (step 1) and try again.',
          { before: before.n, after: n },
        );
      }
      return pass(
        `${n} notifications are in "${NOTIFY_QUEUE}" after the crash; ${before.n} waited before it. ` +
        'A durable queue with persistent messages kept them.',
        { before: before.n, after: n },
      );
    },
  },
  {
    id: 'notifications-counted',
    title: 'The notifications that waited reached the telemetry agent',
    async run(ctx) {
      const st = await ctx.status();
      if (!running(st, 'telemetry')) return fail('Start the telemetry agent: "hmlab start telemetry".');
      const before = ctx.memory.get(WAITING) as { t: number; brokerStartedAt: number } | undefined;
      if (!before) return fail('Run the check of the step "Let notifications wait" first, so there is a moment to count from.');
      // Count from when the durable broker came up: what was sent before went to the old transient queue.
      const since = before.brokerStartedAt || before.t - 60_000;
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      if ((q?.messages ?? 0) > 5) return fail(`${q?.messages} notifications still wait: the agent is catching up. Check again in a moment.`);
      const sent = new Map<string, number>();
      let sendErrors = 0;
      for (const n of COMPUTES) for (const e of await ctx.events(n, since)) {
        if (e.kind !== 'notify.sent' || !e.id) continue;
        if (e.ok === false) sendErrors++; else sent.set(e.id, e.t);
      }
      const received = new Set((await ctx.events('telemetry', since)).filter((e) => e.kind === 'notify.received' && e.id).map((e) => e.id as string));
      // What was in the durable queue when it was counted must all arrive;
      // the last two seconds of sends may still be on their way.
      const counted = [...sent].filter(([, t]) => t <= before.t);
      const lostCounted = counted.filter(([id]) => !received.has(id)).length;
      const later = [...sent].filter(([, t]) => t > before.t && t < Date.now() - 2000);
      const lostLater = later.filter(([id]) => !received.has(id));
      const arrived = [...sent.keys()].filter((id) => received.has(id)).length;
      if (!arrived) return fail('The telemetry agent has not received any notification sent in this lab yet; wait a few seconds.');
      const data = { sent: sent.size, received: arrived, lostBeforeCount: lostCounted, lostAfterCount: lostLater.length, sendErrors };
      if (lostCounted) {
        return fail(
          `${lostCounted} of the ${counted.length} notifications sent before the count never arrived: ` +
          'the queue or its messages did not survive. Is the queue durable (step 1)?',
          data,
        );
      }
      const clock = (t: number) => new Date(t).toISOString().slice(11, 19);
      const lostAt = lostLater.map(([, t]) => t);
      const around = lostLater.length
        ? ` ${lostLater.length} sent later, between ${clock(Math.min(...lostAt))} and ${clock(Math.max(...lostAt))} UTC, ` +
          'around the crash, did not arrive: a durable queue keeps what it holds, not what is sent while the broker goes down or comes back.'
        : ' Nothing sent around the crash was lost either.';
      const errors = sendErrors ? `, ${sendErrors} sends reported an error` : '';
      return pass(
        `All ${counted.length} notifications sent before the count arrived ` +
        `(${arrived} of ${sent.size} in all since the durable broker started${errors}).${around}`,
        data,
      );
    },
  },
];
