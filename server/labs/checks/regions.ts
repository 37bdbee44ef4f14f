// Checks of lab 9, "Across regions": the two regions are up and joined by the
// WAN, calls to region 2 take the WAN's round trip longer than local ones, a
// cut fails calls to region 2 at their timeout while region 1 keeps working,
// and after the heal calls across succeed again. They read the WAN settings
// the relays apply, the routers' management and the conductor's call events.
import type { LabStatus, ServiceEvent, WanStatus } from '../../../common/wire.js';
import { answeredBy } from '../../../common/rpc.js';
import { regionOf } from '../../backends/index.js';
import type { CheckContext, CheckResult } from './context.js';
import type { CheckDef } from './registry.js';
import { component, running } from './context.js';
import { calls, fail, pass, round, stats } from './common.js';

const UP = 'hmlab up --topology multi-region';

async function wanOf(ctx: CheckContext): Promise<{ st: LabStatus; wan: WanStatus } | CheckResult> {
  const st = await ctx.status();
  const wan = st.wan ?? ctx.env.wanStatus();
  if (st.topology !== 'multi-region' || !wan) {
    const what = st.topology ? `"${st.topology}"` : 'not running';
    return fail(`This lab is ${what}: bring up the two regions with "hmlab down; ${UP}".`);
  }
  const down = st.components.filter((c) => c.state !== 'running').map((c) => c.name);
  if (down.length) return fail(`${down.join(', ')} ${down.length > 1 ? 'are' : 'is'} not running: "hmlab start ${down[0]}" (or "hmlab status" to see why).`);
  return { st, wan };
}

const isResult = (v: unknown): v is CheckResult => typeof (v as CheckResult).pass === 'boolean';

/**
 * The conductor's calls split by region: a call that succeeded by the region
 * of the server that answered it (a topic call's reply names it), a failed one
 * by the region of the server it named (a failed topic call has no region).
 */
function byRegion(events: ServiceEvent[]): Record<'region-1' | 'region-2', ServiceEvent[]> {
  const out = { 'region-1': [] as ServiceEvent[], 'region-2': [] as ServiceEvent[] };
  for (const e of events) {
    const server = e.ok === false ? e.target?.server : answeredBy(e);
    const region = server ? regionOf(server) : null;
    if (region === 'region-1' || region === 'region-2') out[region].push(e);
  }
  return out;
}

export const regionChecks: CheckDef[] = [
  {
    id: 'regions-up',
    title: 'Two regions, each in its own namespace, joined across the WAN',
    async run(ctx) {
      const r = await wanOf(ctx);
      if (isResult(r)) return r;
      const { wan } = r;
      const relaysDown = wan.relays.filter((x) => !x.running).map((x) => x.name);
      if (relaysDown.length) return fail(`The relay ${relaysDown.join(', ')} does not run, so the regions are not joined: "hmlab down; ${UP}".`);
      const nodes = await ctx.routerQuery('router-c', 'router.node', []);
      const ids = nodes.map((n) => String(n.id ?? n.name ?? '')).filter((id) => id && id !== 'router-c');
      if (!ids.includes('router-a') || !ids.includes('router-b')) {
        const cut = wan.state === 'cut' ? ' - and the WAN is cut: "hmlab wan heal"' : '';
        return fail(`router-c (region 2) knows ${ids.join(', ') || 'no other router'}: `
          + `the inter-router links across the WAN are still forming${cut}. Run "qdstat -b <router-c> -n" and check again.`);
      }
      const where = wan.regions.map((x) => `${x.name} (${x.components.join(', ')})`).join('; ');
      return pass(`Both regions run, each in its own network namespace: ${where}. `
        + `router-c reaches router-a and router-b only through the WAN (delay ${wan.delayMs} ms each way, inter-router cost ${wan.cost}).`);
    },
  },
  {
    id: 'wan-latency-measured',
    title: 'Calls to region 2 take the WAN round trip longer',
    async run(ctx) {
      const r = await wanOf(ctx);
      if (isResult(r)) return r;
      const { wan } = r;
      if (wan.state === 'cut') return fail('The WAN is cut: "hmlab wan heal" first.');
      if (wan.delayMs < 80) {
        return fail(`The WAN adds ${wan.delayMs} ms each way, the lab's default: `
          + 'set 80 ms with "hmlab wan --delay 80ms" and let the conductor make a few calls.');
      }
      // Calls that started after the change (an answer takes at most the call timeout).
      const since = (wan.settingsAt ?? wan.changedAt) + 1000;
      const ev = calls((await ctx.events('conductor', since)).filter((e) => e.t - (e.latencyMs ?? 0) >= since)).ok;
      const regions = byRegion(ev);
      const n1 = regions['region-1'].length;
      const n2 = regions['region-2'].length;
      if (n1 < 3 || n2 < 3) {
        return fail(`Since the delay changed the conductor's calls were answered ${n1} time(s) in region 1 and ${n2} in region 2; 3 of each are needed. `
          + 'Wait a few seconds (is the traffic paused? "hmlab traffic 5").');
      }
      const local = stats(regions['region-1'].map((e) => e.latencyMs ?? 0)).p50;
      const remote = stats(regions['region-2'].map((e) => e.latencyMs ?? 0)).p50;
      const added = remote - local;
      const expected = 2 * wan.delayMs;
      const data = {
        localP50Ms: round(local, 1), remoteP50Ms: round(remote, 1), addedMs: round(added, 1), delayMs: wan.delayMs,
        calls: { 'region-1': n1, 'region-2': n2 },
      };
      if (Math.abs(added - expected) > expected * 0.25) {
        return fail(`p50 in region 1 ${round(local)} ms, in region 2 ${round(remote)} ms: `
          + `${round(added)} ms more, where the WAN's round trip is ${expected} ms. The machine may be busy; check again in a few seconds.`, data);
      }
      return pass(`p50 of calls in region 1: ${round(local)} ms (${n1} calls); to region 2: ${round(remote)} ms (${n2} calls). `
        + `The difference, ${round(added)} ms, is the WAN's round trip: the request crosses once (${wan.delayMs} ms), the reply once more.`, data);
    },
  },
  {
    id: 'partition-remote-fails',
    title: 'Cut: region 1 keeps working, calls to region 2 fail at their timeout',
    async run(ctx) {
      const r = await wanOf(ctx);
      if (isResult(r)) return r;
      const { wan } = r;
      if (wan.state !== 'cut') return fail('The WAN is up: cut it with "hmlab wan cut".');
      const ev = await ctx.events('conductor', wan.changedAt);
      const c = calls(ev);
      // Calls sent before the cut may still fail or succeed around it: count those sent after.
      const sentAfter = (e: ServiceEvent) => e.t - (e.latencyMs ?? 0) >= wan.changedAt + 500;
      const local = byRegion(c.ok.filter((e) => sentAfter(e) && e.target?.server))['region-1']; // by name: topic calls are counted apart
      const remoteFailed = byRegion(c.failed.filter(sentAfter))['region-2'];
      const topicOk = c.ok.filter((e) => sentAfter(e) && !e.target?.server).length;
      if (!remoteFailed.length) {
        return fail(`Since the cut ${local.length} call(s) in region 1 succeeded and no call to region 2 has failed yet: `
          + 'a call waits for credit until its timeout (the conductor\'s is 10 s). Check again in a few seconds.');
      }
      if (!local.length) return fail('No call to compute-1 (region 1) succeeded since the cut: see "hmlab status".');
      const secs = remoteFailed.map((e) => (e.latencyMs ?? 0) / 1000);
      const kinds = [...new Set(remoteFailed.map((e) => (e.error ?? 'error').split(':')[0]))];
      const received = (await ctx.events('telemetry', wan.changedAt)).filter((e) => e.kind === 'notify.received').length;
      const targets = [...new Set(remoteFailed.map((e) => e.target?.server))].join(', ');
      return pass(`During the cut ${local.length} call(s) to compute-1 and ${topicOk} topic call(s) succeeded inside region 1; `
        + `${remoteFailed.length} call(s) to ${targets} failed with ${kinds.join(', ')} `
        + `after ${round(Math.min(...secs))}-${round(Math.max(...secs))} s, their timeout: `
        + 'with nobody reachable for the address, the router gave no credit, and nothing was queued. '
        + `Telemetry received ${received} notification(s) from region 1's broker meanwhile.`,
      { remoteFailed: remoteFailed.length, localOk: local.length, notificationsReceived: received });
    },
  },
  {
    id: 'regions-healed',
    title: 'Heal: the mesh reconverges and calls across succeed again',
    async run(ctx) {
      const r = await wanOf(ctx);
      if (isResult(r)) return r;
      const { st, wan } = r;
      if (wan.state === 'cut') return fail('The WAN is still cut: "hmlab wan heal".');
      const upAt = component(st, 'router-c')?.startedAt ?? 0;
      if (wan.changedAt - upAt < 5000) {
        return fail('The WAN has not been cut and healed since the lab came up: '
          + '"hmlab wan cut", wait for a call to region 2 to fail, then "hmlab wan heal".');
      }
      if (!running(st, 'router-c')) return fail('router-c does not run: "hmlab start router-c".');
      const first = byRegion(calls(await ctx.events('conductor', wan.changedAt)).ok)['region-2'][0];
      const who = first ? `${answeredBy(first)}${first.target?.server ? '' : ' (a call to the topic)'}` : '';
      if (!first) {
        return fail('No call to region 2 has succeeded since the heal yet: '
          + 'router-c reconnects across the WAN and the mesh recomputes its paths. Check again in a few seconds.');
      }
      const secs = (first.t - wan.changedAt) / 1000;
      return pass(`The first call answered in region 2, by ${who}, succeeded ${round(secs, 2)} s after the heal `
        + `(${round(first.latencyMs ?? 0)} ms; it may have been sent before the heal and waited for credit).`,
      { healToFirstSuccessMs: first.t - wan.changedAt });
    },
  },
];
