/**
 * Whether a prediction read from Redis is one this service could have written: anything that can write to
 * Redis could otherwise make the service answer arbitrary bytes, which responses splice in as they are and
 * the in-process tier keeps. Valid: exactly the formatter's JSON (src/inference/prediction-format.ts) for
 * these labels: every label once, scores finite in [0, 1] summing to 1, by descending score with ties in
 * label-id order, and no other bytes. `raw` (raw scores, TEI's raw_scores): any finite numbers, in the same order.
 */
export function createPredictionCheck(labels: readonly string[], raw = false): (value: string) => boolean {
  // What the formatter writes before each score. Read without JSON.parse, which with the canonical string it
  // was compared against cost ~2 µs a value: most of a Redis-only answer's CPU (a profile under bench:cluster).
  const prefixes = labels.map((label) => `{"label":${JSON.stringify(label)},"score":`);
  const n = labels.length;
  const seen = new Uint8Array(n);
  return (value) => {
    if (value.charCodeAt(0) !== OPEN_BRACKET) return false;
    seen.fill(0);
    let at = 1;
    let sum = 0;
    let previousScore = Number.POSITIVE_INFINITY;
    let previousRank = -1;
    for (let k = 0; k < n; k++) {
      if (k > 0 && value.charCodeAt(at++) !== COMMA) return false;
      let rank = -1;
      for (let i = 0; i < n && rank === -1; i++) if (seen[i] === 0 && value.startsWith(prefixes[i], at)) rank = i;
      if (rank === -1) return false;
      at += prefixes[rank].length;
      const end = value.indexOf('}', at);
      if (end === -1) return false;
      const text = value.slice(at, end);
      const score = Number(text);
      // The number exactly as JSON.stringify writes it: no other spelling of the same value.
      if (String(score) !== text) return false;
      if (!(raw ? Number.isFinite(score) : score >= 0 && score <= 1)) return false;
      if (score > previousScore || (score === previousScore && rank < previousRank)) return false;
      seen[rank] = 1;
      sum += score;
      previousScore = score;
      previousRank = rank;
      at = end + 1;
    }
    // Float32-rounded softmax sums to 1 within a few ulps; 1e-3 only refuses values that are not a softmax.
    return at === value.length - 1 && value.charCodeAt(at) === CLOSE_BRACKET && (raw || Math.abs(sum - 1) < 1e-3);
  };
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
