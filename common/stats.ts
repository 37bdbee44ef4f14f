// One percentile for the whole project, so lab 7's check, the flow view,
// the sampler and the benchmarks quote the same p95 of the same calls.

/**
 * The p-th percentile of an already sorted array by nearest rank, rounding
 * up: the smallest value with at least p% of the samples at or below it
 * (index ceil(p/100 * n) - 1). NaN for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Sorted copy, then percentile: for callers holding unsorted samples. */
export function percentileOf(values: readonly number[], p: number): number {
  return percentile([...values].sort((a, b) => a - b), p);
}

/** The 50th percentile by the same rule (for an even count, the lower middle value, not their mean). */
export function median(values: readonly number[]): number {
  return percentileOf(values, 50);
}
