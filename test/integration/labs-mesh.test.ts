// Every check of labs 4, 5 and 8 against a real mesh of three routers: each
// check fails before its step is done and passes after. One lab home walks
// the labs in order.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { useLabsHarness, noRabbit, noRouter } from '../helpers/labs-harness.js';
import { routerChoices, useLabRouter } from '../helpers/router-choice.js';

for (const { router, skip } of routerChoices()) {
  describe(`mesh lab checks against a real lab (${router})`, { skip: noRabbit ?? noRouter ?? skip }, () => {
    useLabRouter(router);
    const h = useLabsHarness('hmlab-labs-mesh-');
    const { api, fails, passes, reset } = h;

    test('lab 4: the mesh forms, distributions carry traffic, a service moves', async () => {
      await reset('04-router-mesh'); // start: down
      for (const id of ['mesh-formed', 'distribution-counters', 'service-moved']) await fails('04-router-mesh', id);
      const detail = (await api<{ steps: { actions: { kind: string; command?: string }[] }[] }>('GET', '/labs/04-router-mesh')).body;
      const base = Number(/--base-port (\d+)/.exec(detail.steps[0].actions.find((a) => a.kind === 'run')?.command ?? '')?.[1]);
      await h.lab.up({ topology: 'hybrid-mesh', basePort: base });
      assert.equal((await h.lab.status()).router, router, `the lab runs ${router}`);
      assert.match((await passes('04-router-mesh', 'mesh-formed')).hint, /sees 3 routers/);
      assert.match((await passes('04-router-mesh', 'distribution-counters')).hint, /balanced \d+.*closest \d+.*multicast \d+/);
      await fails('04-router-mesh', 'service-moved');
      const applied = await api<{ changed: boolean }>('POST', '/labs/04-router-mesh/edits/0/apply', {});
      assert.equal(applied.body.changed, true);
      await h.lab.restart('compute-1');
      assert.match((await passes('04-router-mesh', 'service-moved')).hint, /router-c and has served \d+ requests/);
    });

    test('lab 5 and 8: failover when the conductor\'s router dies, and monitoring', async () => {
      await passes('08-operating', 'router-healthy');
      await fails('05-failover', 'failover-measured');
      await fails('05-failover', 'router-restored');
      await h.lab.setTrafficRate(30);
      await h.lab.kill('router-c'); // the conductor's own router
      await fails('08-operating', 'router-healthy');
      const f = await passes('05-failover', 'failover-measured', 40_000);
      assert.match(f.hint, /reconnected to .* after [\d.]+ s, first call answered after [\d.]+ s/);
      await fails('05-failover', 'router-restored');
      await h.lab.start('router-c');
      await passes('05-failover', 'router-restored');
      await passes('08-operating', 'router-healthy');
      await h.lab.setTrafficRate(5);

      await fails('08-operating', 'notifications-queued');
      await h.lab.stop('telemetry');
      await passes('08-operating', 'notifications-queued');
      await fails('08-operating', 'broker-healthy');
      await h.lab.start('telemetry');
      await passes('08-operating', 'broker-healthy');
    });
  });
}
