/**
 * One input's answer, as the core hands it to each protocol's edge: a number per label of the model, in label-id
 * order (scores by a score function, or the raw logits), and the same numbers in the one JSON form a prediction
 * is stored in (prediction-codec.ts). Each side is made from the other once, when first asked for: a cached
 * answer that only goes back out as that JSON (bulk-predict, TEI's /predict) is never read into numbers, and a
 * new one is written once, however many requests wait for it.
 */
export interface Scores {
  /** The model's labels by id: `values[i]` is `labels[i]`'s. */
  readonly labels: readonly string[];
  readonly values: Float64Array;
  /** `[{"label":…,"score":…},…]`, every label by descending score: what the cache stores. */
  readonly encoded: string;
}

/** Label ids by descending value, ties in label-id order: the order of a prediction's JSON, its first the top label. */
export function descendingOrder(values: ArrayLike<number>): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  return order.sort((a, b) => values[b] - values[a] || a - b);
}
