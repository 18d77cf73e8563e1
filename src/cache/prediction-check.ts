/**
 * Whether a prediction read from Redis is one this service could have written: anything that can write to
 * Redis could otherwise make the service answer arbitrary bytes, which responses splice in as they are and
 * the in-process tier keeps. Valid: exactly the formatter's JSON (src/inference/prediction-format.ts) for
 * these labels: every label once, scores finite in [0, 1] summing to 1, by descending score with ties in
 * label-id order, and no other bytes. `raw` (raw scores, TEI's raw_scores): any finite numbers, in the same order.
 */
export function createPredictionCheck(labels: readonly string[], raw = false): (value: string) => boolean {
  const rank = new Map(labels.map((label, i) => [label, i]));
  return (value) => {
    let items: unknown;
    try {
      items = JSON.parse(value);
    } catch {
      return false;
    }
    if (!Array.isArray(items) || items.length !== labels.length) return false;
    const seen = new Set<string>();
    let canonical = '[';
    let sum = 0;
    let previous: { score: number; rank: number } | undefined;
    for (const item of items as unknown[]) {
      if (typeof item !== 'object' || item === null) return false;
      const { label, score } = item as { label?: unknown; score?: unknown };
      if (typeof label !== 'string' || !rank.has(label) || seen.has(label)) return false;
      if (typeof score !== 'number' || !(raw ? Number.isFinite(score) : score >= 0 && score <= 1)) return false;
      const current = { score, rank: rank.get(label)! };
      if (previous && (current.score > previous.score || (current.score === previous.score && current.rank < previous.rank))) return false;
      seen.add(label);
      sum += score;
      previous = current;
      canonical += `${canonical.length > 1 ? ',' : ''}{"label":${JSON.stringify(label)},"score":${JSON.stringify(score)}}`;
    }
    // Float32-rounded softmax sums to 1 within a few ulps; 1e-3 only refuses values that are not a softmax.
    return (raw || Math.abs(sum - 1) < 1e-3) && `${canonical}]` === value;
  };
}
