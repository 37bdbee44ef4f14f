// Every check of labs 4, 5 and 8 against a real mesh of three routers: each
// check fails before its step is done and passes after. One lab home walks
// the labs in order. Where one lab ends, the next lab's first check must
// fail, and so must every first check on its lab's fresh start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { join } from 'node:path';
import { ProgressStore } from '../../server/labs/index.js';
import { useLabsHarness, noRabbit, noRouter } from '../helpers/labs-harness.js';
import { routerChoices, useLabRouter } from '../helpers/router-choice.js';

for (const { router, skip } of routerChoices()) {
  describe(`mesh lab checks against a real lab (${router})`, { skip: noRabbit ?? noRouter ?? skip }, () => {
    useLabRouter(router);
    const h = useLabsHarness('hmlab-labs-mesh-');
    const { api, fails, passes, reset, startState, firstCheckFails } = h;
    const elsewhere = /Not this lab's environment: the running lab is [a-z-]+, this lab works on /;

    test('lab 4: the mesh forms, distributions carry traffic, a service moves', async () => {
      await reset('04-router-mesh'); // start: down
      for (const id of ['mesh-formed', 'distribution-counters', 'service-moved']) await fails('04-router-mesh', id);
      const detail = (await api<{ steps: { actions: { kind: string; command?: string }[] }[] }>('GET', '/labs/04-router-mesh')).body;
      const base = Number(/--base-port (\d+)/.exec(detail.steps[0].actions.find((a) => a.kind === 'run')?.command ?? '')?.[1]);
      await h.lab.up({ topology: 'hybrid-mesh', basePort: base });
      assert.equal((await h.lab.status()).router, router, `the lab runs ${router}`);
      // A fresh mesh is where labs 5 and 8 start: neither's first check passes on it.
      for (const id of ['05-failover', '08-operating']) {
        assert.deepEqual((await startState(id)).differences, [], `${id} starts here`);
        await firstCheckFails(id);
      }
      assert.match((await passes('04-router-mesh', 'mesh-formed')).hint, /sees 3 routers/);
      assert.match((await passes('04-router-mesh', 'distribution-counters')).hint, /balanced \d+.*closest \d+.*multicast \d+/);
      await fails('04-router-mesh', 'service-moved');
      const applied = await api<{ changed: boolean }>('POST', '/labs/04-router-mesh/edits/0/apply', {});
      assert.equal(applied.body.changed, true);
      await h.lab.restart('compute-1');
      assert.match((await passes('04-router-mesh', 'service-moved')).hint, /router-c and has served \d+ requests/);
      // Lab 4's end state: lab 5 runs on it, but the workbook names the edit it did not start with.
      const at5 = await startState('05-failover');
      assert.equal(at5.topologyDiffers, false);
      assert.match(
        at5.differences.join(' '),
        /etc\/openstack\.conf \[DEFAULT\] transport_url is amqp:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/; this lab starts with amqp:/,
      );
    });

    test('lab 5 and 8: failover when the conductor\'s router dies, and monitoring', async () => {
      await passes('08-operating', 'router-healthy');
      await fails('05-failover', 'failover-measured');
      await fails('05-failover', 'router-restored');
      await h.lab.setTrafficRate(30);
      // As the lab says: find the conductor's router with "hmlab status" and kill
      // it. It starts on router-c; on a loaded machine its first connect can miss
      // and land on the next router of its URL.
      const st = await h.lab.status();
      const at = st.components.find((c) => c.name === 'conductor')?.connectedTo;
      const its = st.components.find((c) => c.kind === 'router' && c.endpoint === at)?.name;
      assert.ok(its, `the conductor is connected to a router (${at})`);
      if (its !== 'router-c') console.log(`# the conductor attached to ${its}, not router-c`);
      await h.lab.kill(its);
      await fails('08-operating', 'router-healthy');
      const f = await passes('05-failover', 'failover-measured', 40_000);
      assert.match(f.hint, /reconnected to .* after [\d.]+ s, first call answered after [\d.]+ s/);
      await fails('05-failover', 'router-restored');
      await h.lab.start(its);
      await passes('05-failover', 'router-restored');
      assert.match((await firstCheckFails('06-durable-notifications')).hint, elsewhere); // on lab 5's end state
      await passes('08-operating', 'router-healthy');
      await h.lab.setTrafficRate(5);

      await fails('08-operating', 'notifications-queued');
      await h.lab.stop('telemetry');
      await passes('08-operating', 'notifications-queued');
      await fails('08-operating', 'broker-healthy');
      await h.lab.start('telemetry');
      await passes('08-operating', 'broker-healthy');
      assert.match((await firstCheckFails('01-one-broker')).hint, elsewhere); // lab 8's end is no start for lab 1

      // Lab 4 begun afresh (opened with no progress) on this mesh, which ran before: its step 1 was not done here.
      const store = new ProgressStore(join(h.home, 'server', 'labs.sqlite'));
      try { store.reset('owner', '04-router-mesh'); } finally { store.close(); }
      assert.match((await firstCheckFails('04-router-mesh')).hint, /already running before you began this lab.*Reset lab/);
      assert.match((await startState('04-router-mesh')).differences.join(' '), /A hybrid-mesh lab is running .*this lab starts with nothing running/);
    });
  });
}
