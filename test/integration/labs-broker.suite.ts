// Every check of labs 1, 2, 3, 6 and 7 against real backends: each check
// fails before its step is done and passes after. One lab home walks the
// labs in order (lab 1 brings it up, labs 2 and 3 reset it through the API),
// so RabbitMQ starts only a few times. Where one lab ends, the next lab's
// first check must fail (the learner has done nothing in it yet), and so
// must every first check on its lab's fresh start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { useLabsHarness, noRabbit, noRouter } from '../helpers/labs-harness.js';
import { useLabRouter, type RouterChoice } from '../helpers/router-choice.js';

/** The broker lab checks with one router; each router has its own test file, so each stays within the per-file time limit. */
export function brokerLabChecks({ router, skip }: RouterChoice): void {
  describe(`lab checks against a real lab (${router})`, { skip: noRabbit ?? noRouter ?? skip }, () => {
    useLabRouter(router);
    const h = useLabsHarness('hmlab-labs-');
    const { api, fails, passes, reset, startState, firstCheckFails } = h;
    const elsewhere = /Not this lab's environment: the running lab is [a-z-]+, this lab works on /;

    test('lab 1: every check fails before the lab is up and passes once it runs', async () => {
      await reset('01-one-broker'); // start: down, so nothing runs
      assert.deepEqual((await startState('01-one-broker')).differences, [], 'a reset lab is at its start');
      for (const id of ['broker-running', 'rpc-on-broker', 'notifications-on-broker', 'one-transport']) await fails('01-one-broker', id);
      // The run block of step 1, with this learner's port block filled in.
      const detail = (await api<{ steps: { actions: { kind: string; command?: string }[] }[] }>('GET', '/labs/01-one-broker')).body;
      const cmd = detail.steps[0].actions.find((a) => a.kind === 'run')?.command ?? '';
      const base = Number(/--base-port (\d+)/.exec(cmd)?.[1]);
      assert.ok(base >= 1024, `the up command names the learner's port block: ${cmd}`);
      await h.lab.up({ topology: 'broker-only', basePort: base });
      assert.match((await passes('01-one-broker', 'broker-running')).hint, /RabbitMQ 3\./);
      assert.match((await passes('01-one-broker', 'rpc-on-broker')).hint, /"compute" \(2 consumers\).*reply queue/);
      assert.match((await passes('01-one-broker', 'notifications-on-broker')).hint, /received \d+ notifications/);
      await passes('01-one-broker', 'one-transport');
      // Lab 1's end state is not lab 2's start: the workbook says so, and lab 2's first check fails.
      const next = await startState('02-split-transports');
      assert.equal(next.topologyDiffers, true);
      assert.match(next.differences.join(' '), /running lab is broker-only; this lab starts from hybrid/);
      assert.match((await firstCheckFails('02-split-transports')).hint, elsewhere);
    });

    test('lab 2: router, transport_url, restart: each check fails before its step', { skip: noRouter ?? false }, async () => {
      await reset('02-split-transports');
      assert.deepEqual((await startState('02-split-transports')).differences, [], 'the setup (RPC on the broker, router-a stopped) is the start');
      const st = await h.lab.status();
      assert.equal(st.components.find((c) => c.name === 'router-a')?.state, 'stopped', 'the lab starts with its router stopped');
      await fails('02-split-transports', 'router-running');
      // Lab 7's broker measurement on lab 2's start, where RPC is still on the broker: not at the lab's own rate.
      await fails('07-measure', 'measured-broker');
      await h.lab.setTrafficRate(40);
      await fails('07-measure', 'measured-router');
      assert.match((await passes('07-measure', 'measured-broker')).hint, /calls\/s.*Measured on \d+ × /);
      await h.lab.setTrafficRate(5);
      await h.lab.start('router-a');
      assert.equal((await h.lab.status()).router, router, `the lab runs ${router}`);
      await passes('02-split-transports', 'router-running');

      await fails('02-split-transports', 'rpc-url-router');
      const preview = await api<{ changed: boolean; diff: { op: string; text: string }[] }>('POST', '/labs/02-split-transports/edits/0/preview', {});
      assert.equal(preview.body.changed, true);
      assert.ok(preview.body.diff.some((l) => l.op === '+' && /^transport_url = amqp:\/\/127\.0\.0\.1:\d+\/$/.test(l.text)), JSON.stringify(preview.body.diff));
      await fails('02-split-transports', 'rpc-url-router'); // a preview writes nothing
      const applied = await api<{ changed: boolean }>('POST', '/labs/02-split-transports/edits/0/apply', {});
      assert.equal(applied.body.changed, true);
      await passes('02-split-transports', 'rpc-url-router');

      await fails('02-split-transports', 'rpc-left-broker');
      await h.lab.restart('services');
      assert.match((await passes('02-split-transports', 'rpc-left-broker')).hint, /calls went through the router/);
      await h.lab.setTrafficRate(40);
      const m = await passes('07-measure', 'measured-router');
      const chart = (m.data as { chart?: { measurements: { transport: string }[] } }).chart;
      assert.deepEqual(chart?.measurements.map((x) => x.transport).sort(), ['broker', 'router'], 'the chart holds both measurements');
      await h.lab.setTrafficRate(5);
      await firstCheckFails('03-temporal-coupling'); // on lab 2's end state
    });

    test('lab 3: notifications wait, RPC fails, the queue drains', { skip: noRouter ?? false }, async () => {
      await reset('03-temporal-coupling');
      // Labs 3, 6 and 7 start from the same state: this reset is their fresh start.
      for (const id of ['03-temporal-coupling', '06-durable-notifications', '07-measure']) {
        assert.deepEqual((await startState(id)).differences, [], `${id} starts here`);
        await firstCheckFails(id);
      }
      await fails('03-temporal-coupling', 'notifications-queued');
      await fails('03-temporal-coupling', 'rpc-calls-fail');
      await fails('03-temporal-coupling', 'queue-drained');
      await h.lab.stop('telemetry');
      assert.match((await passes('03-temporal-coupling', 'notifications-queued')).hint, /^\d+ notifications wait/);
      await h.lab.stop('compute-1');
      await h.lab.stop('compute-2');
      // A call waits for credit until its timeout (the conductor's is 10 s).
      const r = await passes('03-temporal-coupling', 'rpc-calls-fail', 40_000);
      assert.match(r.hint, /RPC call\(s\) failed .*notifications wait/);
      await fails('03-temporal-coupling', 'queue-drained');
      await h.lab.start('compute-1');
      await h.lab.start('compute-2');
      await h.lab.start('telemetry');
      assert.match((await passes('03-temporal-coupling', 'queue-drained')).hint, /received \d+ notifications sent while it was away/);
      assert.match((await firstCheckFails('04-router-mesh')).hint, elsewhere); // on lab 3's end state
      assert.match((await startState('04-router-mesh')).differences.join(' '), /A hybrid lab is running .*this lab starts with nothing running/);
    });

    test('lab 6: a durable queue keeps notifications across a broker crash', { skip: noRouter ?? false }, async () => {
      await fails('06-durable-notifications', 'durable-queue');
      const applied = await api<{ changed: boolean }>('POST', '/labs/06-durable-notifications/edits/0/apply', {});
      assert.equal(applied.body.changed, true);
      await fails('06-durable-notifications', 'durable-queue'); // RabbitMQ keeps the old declaration
      for (const s of ['compute-1', 'compute-2', 'telemetry']) await h.lab.stop(s);
      await h.lab.restart('broker');
      for (const s of ['telemetry', 'compute-1', 'compute-2']) await h.lab.start(s);
      await passes('06-durable-notifications', 'durable-queue');

      await fails('06-durable-notifications', 'notifications-waiting');
      await h.lab.stop('telemetry');
      await passes('06-durable-notifications', 'notifications-waiting');
      await fails('06-durable-notifications', 'notifications-survived');
      await h.lab.kill('broker');
      await new Promise((res) => setTimeout(res, 2000)); // as the lab's run block does: the dead node's port closes
      await h.lab.start('broker');
      const s = await passes('06-durable-notifications', 'notifications-survived');
      assert.match(s.hint, /notifications are in "notifications\.info" after the crash/);
      await fails('06-durable-notifications', 'notifications-counted');
      await h.lab.start('telemetry');
      const c = await passes('06-durable-notifications', 'notifications-counted', 45_000);
      assert.match(c.hint, /^All \d+ notifications sent before the count arrived/);
      await firstCheckFails('07-measure'); // on lab 6's end state: the lab's own traffic is no measurement
      // Lab 7's end state (a raised rate, RPC moved to the broker) is not lab 8's start.
      await h.lab.setTrafficRate(100);
      assert.equal((await api<{ changed: boolean }>('POST', '/labs/07-measure/edits/0/apply', {})).body.changed, true);
      await h.lab.restart('services');
      const at8 = await startState('08-operating');
      assert.equal(at8.topologyDiffers, true);
      assert.match((await firstCheckFails('08-operating')).hint, elsewhere);
    });
  });
}
