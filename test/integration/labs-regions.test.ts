// Lab 9's checks against a real multi-region lab: each fails before its step
// and passes after, through the workbook's HTTP API. After the heal, the
// server still tells a newly opened view when the WAN was cut and healed and
// how long the first call across took.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabStatus, WanStatus } from '../../common/wire.js';
import { openLab } from '../../server/backends/index.js';
import { startLabServer } from '../../server/http/index.js';
import { LabRuntime, labApiPlugin } from '../../server/http/lab-api.js';
import { ManagementClient } from '../../server/router/index.js';
import { isolationAvailable } from '../../server/isolation/index.js';
import { useLabsHarness, noRabbit, noRouter } from '../helpers/labs-harness.js';

const iso = isolationAvailable();
const noIsolation = iso.ok ? null : `lab 9 needs network namespaces: ${iso.why}`;
const LAB = '09-across-regions';

describe('lab 9 checks against a real multi-region lab', { skip: noRabbit ?? noRouter ?? noIsolation ?? false }, () => {
  const h = useLabsHarness('hmlab-labs-mr-');
  const { api, fails, passes, reset } = h;

  test('regions up, WAN latency, partition, heal', async () => {
    await reset(LAB); // start: down
    for (const id of ['regions-up', 'wan-latency-measured', 'partition-remote-fails', 'regions-healed']) await fails(LAB, id);
    const detail = (await api<{ steps: { actions: { kind: string; command?: string }[] }[] }>('GET', `/labs/${LAB}`)).body;
    const base = Number(/--base-port (\d+)/.exec(detail.steps[0].actions.find((a) => a.kind === 'run')?.command ?? '')?.[1]);
    await h.lab.up({ topology: 'multi-region', basePort: base, trafficRate: 8 });
    assert.match((await passes(LAB, 'regions-up')).hint, /router-c reaches router-a and router-b only through the WAN/);

    await fails(LAB, 'wan-latency-measured');
    await h.lab.setWan({ delayMs: 80 });
    const lat = await passes(LAB, 'wan-latency-measured', 60_000);
    assert.match(lat.hint, /is the WAN's round trip/);

    await fails(LAB, 'partition-remote-fails');
    await h.lab.setWan({ state: 'cut' });
    await fails(LAB, 'regions-healed');
    const cut = await passes(LAB, 'partition-remote-fails', 45_000);
    assert.match(cut.hint, /failed with MessagingTimeout/);

    await h.lab.setWan({ state: 'up' });
    const healed = await passes(LAB, 'regions-healed', 60_000);
    assert.match(healed.hint, /succeeded [\d.]+ s after the heal/);

    // The server keeps the last cut, its heal and the first success after it:
    // a lab server started now, and a flow view opened on it (its hello carries
    // the status), still show them.
    const token = 'regions-after-heal-0123456789abcdef0123456789abcdef';
    const rt = new LabRuntime({ lab: openLab(h.home), home: h.home, connect: (host, port, o) => ManagementClient.connect(host, port, o) });
    const later = await startLabServer({ home: h.home, port: 0, token, plugins: [labApiPlugin(rt)] });
    try {
      const get = async <T>(path: string) => (await (await fetch(`${later.url}/api${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
      const lp = (await get<WanStatus>('/wan')).lastPartition;
      assert.ok(lp && lp.healedAt && lp.cutAt < lp.healedAt, `GET /api/wan names the last cut and heal: ${JSON.stringify(lp)}`);
      assert.ok(lp.firstSuccess && lp.firstSuccess.t >= lp.healedAt, 'and the first call answered across after the heal');
      assert.equal(lp.firstSuccess.t - lp.healedAt, healed.data?.healToFirstSuccessMs, 'the same heal-to-first-success the lab check reports');
      assert.match(lp.firstSuccess.server, /^compute-[23]$/);
      assert.deepEqual((await get<LabStatus>('/status')).wan?.lastPartition, lp, 'the status (and so the hello of a new view) carries it');
    } finally {
      await later.close();
    }
  });
});
