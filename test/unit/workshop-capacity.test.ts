// The host's capacity advice: from the measured edge on, `hmlab workshop
// serve` and the dashboard say what was measured and what to do.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { capacityAdvice } from '../../server/workshop/index.js';

describe('workshop capacity advice', () => {
  it('is silent below the measured edge and speaks from it on, quoting the measurement and the fix', () => {
    assert.equal(capacityAdvice(29, 2, 5), null);
    const at = capacityAdvice(30, 2, 5);
    assert.ok(at);
    assert.match(at.warning, /^30 seats at 5 operations\/s per seat are at or past what 2 cores hold/);
    assert.match(at.warning, /30 seats were the edge at 5 operations\/s per seat/);
    assert.match(at.warning, /--traffic-rate 2/, 'at 2 operations/s 30 seats fit: say so');
    // past what the lower rate holds, a lower rate is no fix
    const far = capacityAdvice(40, 2, 5)!;
    assert.doesNotMatch(far.warning, /--traffic-rate/);
    assert.match(far.warning, /35 seats fit at 2 operations\/s per seat and 40 were the edge.*plan fewer seats/);
  });

  it('uses the measurement of the traffic asked for, and the edge of the next one up between them', () => {
    assert.equal(capacityAdvice(35, 2, 2), null);
    assert.equal(capacityAdvice(39, 2, 1), null);
    assert.match(capacityAdvice(40, 2, 2)!.warning, /40 were the edge/);
    assert.ok(capacityAdvice(30, 2, 3), 'between the measured rates, the higher one counts');
    assert.equal(capacityAdvice(100, 2, 0), null, 'paused traffic is lighter than anything measured');
  });

  it('above the measured traffic, the edge measured below it is already too many', () => {
    assert.equal(capacityAdvice(29, 2, 8), null);
    assert.match(capacityAdvice(30, 2, 8)!.warning, /more traffic holds fewer/);
  });

  it('scales by cores and says that is an estimate', () => {
    assert.equal(capacityAdvice(59, 4, 5), null);
    const four = capacityAdvice(60, 4, 5)!;
    assert.equal(four.edge, 60);
    assert.match(four.warning, /this machine has 4 cores: about 60, scaled, an estimate/);
    assert.match(capacityAdvice(15, 1, 5)!.warning, /what 1 core holds/);
  });
});
