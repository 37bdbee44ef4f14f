import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile, percentileOf } from '../../common/stats.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1); // 1..n, sorted

test('percentile is nearest rank, rounding up: 1, 2 and 20 samples at p50, p95, p99', () => {
  assert.deepEqual([50, 95, 99].map((p) => percentile([7], p)), [7, 7, 7]);
  assert.deepEqual([50, 95, 99].map((p) => percentile([1, 2], p)), [1, 2, 2]);
  // 20 samples: p50 is the 10th, p95 the 19th (rounding down would give the 20th), p99 the 20th.
  assert.deepEqual([50, 95, 99].map((p) => percentile(range(20), p)), [10, 19, 20]);
  assert.equal(percentile(range(100), 95), 95);
  assert.equal(percentile(range(20), 0), 1);
  assert.equal(percentile(range(20), 100), 20);
});

test('no samples has no percentile; unsorted samples are sorted by percentileOf', () => {
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(percentileOf([30, 10, 20], 50), 20);
  assert.equal(percentile(new Float64Array([1, 2, 3, 4]), 75), 3, 'typed arrays work too');
});

test('median is the p50 of the same rule: the lower middle of an even count, never a mean', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2);
  assert.equal(median([10, 20]), 10);
  assert.ok(Number.isNaN(median([])));
});
