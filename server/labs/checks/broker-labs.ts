// Checks of labs 1 and 2: one broker for everything, then RPC moved to a
// router while notifications stay on RabbitMQ.
import type { CheckDef } from './registry.js';
import { component, running } from './context.js';
import { componentAt, endpointKeys } from '../../../common/endpoint.js';
import { SERVICES } from '../../../common/rules.js';
import { COMPUTES, NOTIFY_QUEUE, fail, pass, queues, runningRouters, scheme, stoppedList, calls, transportKind } from './common.js';

export const brokerChecks: CheckDef[] = [
  {
    id: 'broker-running',
    title: 'RabbitMQ runs and answers its management API',
    async run(ctx) {
      const st = await ctx.status();
      const b = st.components.find((c) => c.kind === 'broker');
      if (!b) return fail('This lab has no broker yet: run "hmlab up --topology broker-only".');
      if (b.state !== 'running') return fail(`The broker is ${b.state}${b.detail ? ` (${b.detail})` : ''}: run "hmlab up --topology broker-only", or `
        + `"hmlab start broker" if the rest is up.`);
      const ov = await ctx.rabbit<{ rabbitmq_version?: string; node?: string }>('/api/overview');
      return pass(`RabbitMQ ${ov?.rabbitmq_version ?? ''} runs as node ${ov?.node ?? '?'}, pid ${b.pid}.`);
    },
  },
  {
    id: 'rpc-on-broker',
    title: 'RPC goes through RabbitMQ queues',
    async run(ctx) {
      const st = await ctx.status();
      const down = stoppedList(st, SERVICES);
      if (down.length === SERVICES.length) return fail('No OpenStack service runs: run "hmlab up --topology broker-only".');
      const qs = await queues(ctx);
      const topic = qs.find((q) => q.name === 'compute');
      const perServer = qs.filter((q) => q.name.startsWith('compute.'));
      const fanout = qs.filter((q) => q.name.startsWith('compute_fanout'));
      const replies = qs.filter((q) => q.name.startsWith('reply_'));
      if (!topic || !(topic.consumers ?? 0)) return fail('RabbitMQ has no "compute" queue with a consumer: the compute services are not serving RPC through '
        + 'the broker. Is [DEFAULT] transport_url a rabbit:// URL? Run "hmlab status".');
      if (!replies.length) return fail('No reply_ queue yet: the conductor has not made an RPC call through the broker. Wait a few seconds and check again.');
      return pass(`RabbitMQ holds the RPC queues: "compute" (${topic.consumers} consumers), ${perServer.length} per-server queues `
        + `(${perServer.map((q) => q.name).join(', ')}), ${fanout.length} fanout queues and ${replies.length} reply queue(s) for call results.`);
    },
  },
  {
    id: 'notifications-on-broker',
    title: 'Notifications reach the telemetry agent through RabbitMQ',
    async run(ctx) {
      const st = await ctx.status();
      if (!running(st, 'telemetry')) return fail('The telemetry agent does not run: "hmlab start telemetry".');
      const q = (await queues(ctx)).find((x) => x.name === NOTIFY_QUEUE);
      if (!q) return fail(`RabbitMQ has no "${NOTIFY_QUEUE}" queue: no notification was sent through the broker. Is [oslo_messaging_notifications] driver set `
        + `(e.g. messagingv2)?`);
      if (!(q.consumers ?? 0)) return fail(`"${NOTIFY_QUEUE}" has no consumer: the telemetry agent is not listening on the broker.`);
      const received = st.traffic.notifications.received;
      if (!received) return fail('The telemetry agent has not received a notification yet; wait a few seconds and check again.');
      return pass(`"${NOTIFY_QUEUE}" has ${q.consumers} consumer(s), ${q.messages ?? 0} message(s) waiting; the telemetry agent has received ${received} `
        + `notifications so far.`);
    },
  },
  {
    id: 'one-transport',
    title: 'openstack.conf sends RPC and notifications to the same broker',
    async run(ctx) {
      const conf = await ctx.conf();
      const rpc = conf.get('DEFAULT', 'transport_url');
      const notify = conf.get('oslo_messaging_notifications', 'transport_url');
      const driver = conf.get('oslo_messaging_notifications', 'driver');
      if (scheme(rpc) !== 'rabbit') return fail(`[DEFAULT] transport_url is ${rpc ?? 'unset'}; this lab starts with RPC on RabbitMQ (rabbit://). Use the `
        + `Reset button to get the lab's starting configuration.`);
      if (!driver || driver === 'noop') return fail('[oslo_messaging_notifications] driver is not set, so no notification is sent at all. Reset the lab to '
        + 'get its configuration back.');
      if (notify && endpointKeys(notify).join(',') !== endpointKeys(rpc).join(',')) return fail(`Notifications use ${notify}, not the RPC broker. This lab `
        + `starts with one transport; Reset to get it back.`);
      return pass(`RPC uses ${rpc}; [oslo_messaging_notifications] transport_url is `
        + `${notify ? 'the same broker' : 'unset, so notifications fall back to the RPC transport'}; driver = ${driver}.`);
    },
  },
  // ---- lab 2 ---------------------------------------------------------------
  {
    id: 'router-running',
    title: 'A router runs and answers management queries',
    async run(ctx) {
      const st = await ctx.status();
      const up = runningRouters(st);
      if (!up.length) return fail('No router runs yet: run "hmlab start router-a".');
      const nodes = await ctx.routerQuery(up[0], 'router', ['id', 'mode']);
      const r = component(st, up[0]);
      return pass(`${up[0]} runs (${r?.product ?? st.router ?? 'router'}, pid ${r?.pid}); it calls itself "${String(nodes[0]?.id ?? '?')}" in `
        + `${String(nodes[0]?.mode ?? '?')} mode.`);
    },
  },
  {
    id: 'rpc-url-router',
    title: 'RPC points at the router, notifications stay on the broker',
    async run(ctx) {
      const conf = await ctx.conf();
      const st = await ctx.status();
      const rpc = conf.get('DEFAULT', 'transport_url');
      if (scheme(rpc) !== 'amqp') return fail(`[DEFAULT] transport_url is ${rpc ?? 'unset'}: RPC still goes to the broker. Set it to amqp://HOST:PORT/ of the `
        + `router (the Apply edit button does it).`);
      const targets = endpointKeys(rpc).map((h) => componentAt(st.components, h)?.name ?? null);
      const router = targets.find((n) => n && component(st, n)?.kind === 'router');
      if (!router) return fail(`[DEFAULT] transport_url is ${rpc}, but no router of this lab listens there. Use the router's address from "hmlab status".`);
      // Notifications must keep their own transport on the broker, or they follow RPC to the router.
      const notify = conf.get('oslo_messaging_notifications', 'transport_url');
      const driver = conf.get('oslo_messaging_notifications', 'driver');
      if (!notify) return fail('[oslo_messaging_notifications] transport_url is unset, so notifications would follow [DEFAULT] transport_url to the router, '
        + 'which keeps nothing for an absent consumer. Set it to the broker: rabbit://guest:guest@HOST:PORT/.');
      if (scheme(notify) !== 'rabbit') return fail(`[oslo_messaging_notifications] transport_url is ${notify}: notifications need a broker that stores them `
        + `(rabbit://), not the router.`);
      if (!endpointKeys(notify).some((h) => componentAt(st.components, h)?.kind === 'broker')) {
        return fail(`${notify} is not this lab's broker; use the broker address from "hmlab status".`);
      }
      if (!driver || driver === 'noop') return fail('[oslo_messaging_notifications] driver is not set: no notification would be sent. Set '
        + 'driver = messagingv2.');
      return pass(`RPC will use the AMQP 1.0 driver through ${router} (${rpc}); notifications keep their own transport, ${notify} (driver ${driver}).`);
    },
  },
  {
    id: 'rpc-left-broker',
    title: 'The running services call through the router, notify through the broker',
    async run(ctx) {
      const st = await ctx.status();
      const down = stoppedList(st, SERVICES);
      if (down.length) return fail(`${down.join(', ')} not running: run "hmlab restart services".`);
      const onRabbit = st.components.filter((c) => c.kind === 'service' && scheme(c.transport?.rpc) === 'rabbit').map((c) => c.name);
      if (onRabbit.length) return fail(`${onRabbit.join(', ')} still use RabbitMQ for RPC: services read openstack.conf when they start. Run `
        + `"hmlab restart services".`);
      const qs = await queues(ctx);
      const topic = qs.find((q) => q.name === 'compute');
      if (topic && (topic.consumers ?? 0) > 0) return fail(`The "compute" queue on RabbitMQ still has ${topic.consumers} consumer(s): a compute service still `
        + `serves RPC through the broker. Restart the services.`);
      const since = Date.now() - 30_000;
      const c = calls(await ctx.events('conductor', since));
      const viaRouter = c.ok.filter((e) => transportKind(st, e.transport) === 'router');
      if (!viaRouter.length) return fail('No RPC call has succeeded in the last 30 s: is the router up, and are the compute services connected? See '
        + '"hmlab status".');
      const nq = qs.find((q) => q.name === NOTIFY_QUEUE);
      if (!nq || !(nq.consumers ?? 0)) return fail(`"${NOTIFY_QUEUE}" on RabbitMQ has no consumer: the telemetry agent lost its notification transport. Check `
        + `[oslo_messaging_notifications] transport_url.`);
      const computes = COMPUTES.filter((n) => running(st, n)).length;
      return pass(`RPC left the broker: ${viaRouter.length} calls went through the router in the last 30 s; "compute" on RabbitMQ has no consumer left `
        + `(${topic ? `${topic.messages ?? 0} messages` : 'queue gone'}); ${computes} compute services serve on the router; "${NOTIFY_QUEUE}" still has `
        + `${nq.consumers} consumer(s) on the broker.`);
    },
  },
];
