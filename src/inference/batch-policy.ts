/** Limits of one batch. */
export interface BatchLimits {
  /** Most texts (MAX_BATCH_SIZE, or less to leave work for other idle threads). */
  readonly maxRows: number;
  /** Hard limit on rows x longest (MAX_BATCH_TOKENS). */
  readonly maxBatchTokens: number;
  /** Queued texts the policy looks at, oldest first. */
  readonly window: number;
}

/** cost(rows, cols): predicted ms of one model run (see CostModel). */
export type CostFn = (rows: number, cols: number) => number;

/**
 * Which queued texts run next: a pure function of their exact lengths (in arrival order, oldest first), the
 * cost model and the limits. Returns the positions of the batch, oldest first; it always holds the oldest
 * text, so nothing starves.
 *
 * The texts of the window are sorted by length and partitioned into contiguous runs at the cuts that minimise
 * the total predicted cost Σ cost(rows, longest) (dynamic programming over the sorted lengths): a cut falls
 * where padding the shorter texts to a longer one costs more than running them apart, and every run respects
 * maxRows and maxBatchTokens. The run holding the oldest text is the batch.
 */
export function chooseBatch(lengths: readonly number[], cost: CostFn, limits: BatchLimits): number[] {
  const n = Math.min(lengths.length, limits.window);
  if (n === 0) return [];
  // Sorted by length, ties in arrival order.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  // best[i]: least cost of running the i shortest texts; cut[i]: where the last run of those starts.
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let end = 1; end <= n; end++) {
    const longest = lengths[order[end - 1]];
    const rowsAllowed = Math.min(limits.maxRows, Math.max(1, Math.floor(limits.maxBatchTokens / longest)));
    // Larger runs first, so that equal costs favour fewer, fuller batches.
    for (let rows = Math.min(rowsAllowed, end); rows >= 1; rows--) {
      const total = best[end - rows] + cost(rows, longest);
      if (total < best[end]) {
        best[end] = total;
        cut[end] = end - rows;
      }
    }
  }
  const oldestAt = order.indexOf(0);
  for (let end = n; end > 0; end = cut[end]) {
    if (cut[end] <= oldestAt && oldestAt < end) return order.slice(cut[end], end).sort((a, b) => a - b);
  }
  return [0];
}
