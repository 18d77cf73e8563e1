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
 * the total predicted cost Σ cost(rows, longest) (dynamic programming over the sorted lengths, from both
 * ends): a cut falls where padding the shorter texts to a longer one costs more than running them apart, and
 * every run respects maxRows and maxBatchTokens. The batch is the run holding the oldest text in the least-cost
 * partition (the fullest such run when several partitions cost the same).
 */
export function chooseBatch(lengths: readonly number[], cost: CostFn, limits: BatchLimits): number[] {
  const n = Math.min(lengths.length, limits.window);
  if (n === 0) return [];
  // Sorted by length, ties in arrival order.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const longestOf = (end: number): number => lengths[order[end - 1]];
  const fits = (start: number, end: number): boolean =>
    end - start <= limits.maxRows && (end - start === 1 || (end - start) * longestOf(end) <= limits.maxBatchTokens);
  // prefix[i]: least cost of running the i shortest texts; suffix[i]: of running the texts from i on.
  const prefix = new Float64Array(n + 1).fill(Infinity);
  prefix[0] = 0;
  for (let end = 1; end <= n; end++) {
    for (let start = end - 1; start >= 0 && fits(start, end); start--)
      prefix[end] = Math.min(prefix[end], prefix[start] + cost(end - start, longestOf(end)));
  }
  const suffix = new Float64Array(n + 1).fill(Infinity);
  suffix[n] = 0;
  for (let start = n - 1; start >= 0; start--) {
    for (let end = start + 1; end <= n && fits(start, end); end++)
      suffix[start] = Math.min(suffix[start], cost(end - start, longestOf(end)) + suffix[end]);
  }
  // The least-cost partition that has a run [start, end) holding the oldest text; among equal costs, the
  // fuller run (fewer batches later).
  const oldestAt = order.indexOf(0);
  let best = { start: oldestAt, end: oldestAt + 1, total: Infinity };
  for (let start = oldestAt; start >= 0 && fits(start, oldestAt + 1); start--) {
    for (let end = oldestAt + 1; end <= n && fits(start, end); end++) {
      const total = prefix[start] + cost(end - start, longestOf(end)) + suffix[end];
      const tie = 1e-9 * total;
      const better =
        best.total === Infinity || total < best.total - tie || (total <= best.total + tie && end - start > best.end - best.start);
      if (better) best = { start, end, total };
    }
  }
  return order.slice(best.start, best.end).sort((a, b) => a - b);
}
