// Checks of lab 8: what an operator watches on both backends.
import type { CheckDef } from './registry.js';
import { running } from './context.js';
import { fail, pass, queues, runningRouters, routerNames } from './common.js';

const BACKLOG = 20;

export const operateChecks: CheckDef[] = [
  {
    id: 'broker-healthy',
    title: 'No queue on RabbitMQ builds a backlog without a consumer',
    async run(ctx) {
      const qs = await queues(ctx);
      const orphaned = qs.filter((q) => (q.messages ?? 0) > BACKLOG && !(q.consumers ?? 0));
      if (orphaned.length) return fail(`${orphaned.map((q) => `"${q.name}" holds ${q.messages} messages with no consumer`).join('; ')}. `
        + `"rabbitmqctl list_queues name messages consumers" shows it too: start the service that consumes it (here: "hmlab start telemetry").`);
      const st = await ctx.status();
      if (!running(st, 'telemetry')) return fail('The telemetry agent is stopped: its queue will grow. "hmlab start telemetry".');
      const total = qs.reduce((n, q) => n + (q.messages ?? 0), 0);
      return pass(`${qs.length} queues, ${total} messages waiting in all; every queue holding more than ${BACKLOG} messages has a consumer.`);
    },
  },
  {
    id: 'router-healthy',
    title: 'Every router runs and no link piles up undelivered messages',
    async run(ctx) {
      const st = await ctx.status();
      const all = routerNames(st);
      const up = runningRouters(st);
      if (!all.length) return fail('This lab has no router: reset the lab.');
      if (up.length < all.length) return fail(`${all.filter((r) => !up.includes(r)).join(', ')} down: "hmlab start ROUTER".`);
      const stuck: string[] = [];
      let links = 0;
      for (const r of up) {
        for (const l of await ctx.routerQuery(r, 'router.link', [])) {
          links++;
          const u = Number(l.undeliveredCount ?? 0) + Number(l.unsettledCount ?? 0);
          if (u > 100) stuck.push(`${r} ${String(l.owningAddr ?? l.linkName ?? '?')}: ${u}`);
        }
      }
      if (stuck.length) return fail(`Links with more than 100 undelivered or unsettled messages: ${stuck.join('; ')}. "qdstat -l" shows them; is a `
        + `consumer slow or gone?`);
      return pass(`${up.length} routers run; ${links} links, none with a backlog ("qdstat -l").`);
    },
  },
];
