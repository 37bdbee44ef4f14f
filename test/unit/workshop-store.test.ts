// The workshop's bookkeeping without any seat running: seats handed out
// once each, "full" when none is left, a freed seat going to the next
// attendee, printed card keys tied to the host token, and the dashboard's
// "where the room is stuck" counting hints across seats.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkshopStore, cardKey } from '../../server/workshop/index.js';
import { whereStuck, type SeatReading } from '../../server/workshop/progress.js';
import type { LabSummary } from '../../common/wire.js';

describe('workshop store', () => {
  it('gives each attendee their own seat until none is left, and keeps its secrets across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmws-unit-'));
    try {
      const file = join(dir, 'private', 'workshop.sqlite');
      const s = new WorkshopStore(file, 2);
      const a = s.assign('Ada', 2)!;
      const b = s.assign('', 2)!;
      assert.deepEqual([a.seat, b.seat], [1, 2]);
      assert.notEqual(a.token, b.token);
      assert.equal(s.assign('late', 2), null, 'full');
      assert.equal(s.seatByToken(a.token!)?.seat, 1);
      s.free(1);
      assert.equal(s.seatByToken(a.token!), null, 'a freed seat\'s old cookie opens nothing');
      assert.equal(s.assign('next', 2)?.seat, 1);
      const { hostToken, joinCode } = s;
      s.close();
      const again = new WorkshopStore(file, 2);
      assert.equal(again.hostToken, hostToken);
      assert.equal(again.joinCode, joinCode);
      assert.match(joinCode, /^[a-hj-km-np-z2-9]{6}$/);
      assert.notEqual(cardKey(hostToken, 1), cardKey(hostToken, 2));
      assert.notEqual(cardKey(hostToken, 1), cardKey('another host token', 1));
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts where the room is stuck: seats on a lab, seats past a step, hints across seats', () => {
    const lab = (passed: number, updatedAt: number): LabSummary => ({
      id: '02-split', title: 'Split', minutes: 20, topology: 'hybrid', start: 'up', summary: '',
      steps: [{ index: 0, title: 'Add a router', checks: ['router-running'] }, { index: 1, title: 'Point RPC', checks: ['rpc-url'] }],
      checks: [], progress: { step: 1, passed, total: 2, updatedAt },
    });
    const seat = (checks: Record<string, { pass: boolean; hint: string }>): SeatReading => ({
      labs: [lab(Object.values(checks).filter((c) => c.pass).length, 1000)],
      current: {
        lab: '02-split', step: 1, actions: [], updatedAt: 1000,
        checks: Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, { check: k, at: 1000, ...v }])),
      },
      status: null,
    });
    const hint = 'services still read the old transport_url: restart them';
    const rows = whereStuck([
      seat({ 'router-running': { pass: true, hint: 'ok' }, 'rpc-url': { pass: false, hint } }),
      seat({ 'router-running': { pass: true, hint: 'ok' }, 'rpc-url': { pass: false, hint } }),
      seat({ 'router-running': { pass: false, hint: 'start router-a' } }),
    ]);
    assert.deepEqual(rows.map((r) => [r.step, r.seats, r.passed]), [[0, 3, 2], [1, 3, 0]]);
    assert.deepEqual(rows[1]!.hints, [{ hint, seats: 2 }]);
    assert.deepEqual(rows[0]!.hints, [{ hint: 'start router-a', seats: 1 }]);
  });
});
