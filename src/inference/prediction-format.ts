/**
 * Turns one row of logits into the finished JSON of that text's prediction:
 * `[{"label":"POSITIVE","score":0.99},{"label":"NEGATIVE","score":0.01}]`, every label, by descending score
 * (ties in label-id order). The string is what the cache stores and what responses splice in, so a
 * prediction is serialized once in its life.
 */
export function createPredictionFormatter(labels: readonly string[]): (logits: Float32Array, row: number) => string {
  const prefixes = labels.map((label) => `{"label":${JSON.stringify(label)},"score":`);
  const n = labels.length;
  const order = labels.map((_, i) => i);
  const scores = new Float64Array(n);
  return (logits, row) => {
    const offset = row * n;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += scores[i] = Math.exp(logits[offset + i] - max);
    // The reference computes softmax in float32 (transformers pipeline, numpy); rounding to float32 gives
    // the same digits a client of the reference sees.
    for (let i = 0; i < n; i++) scores[i] = Math.fround(scores[i] / sum);
    order.sort((a, b) => scores[b] - scores[a] || a - b);
    let json = '[';
    for (let k = 0; k < n; k++) json += (k === 0 ? '' : ',') + prefixes[order[k]] + JSON.stringify(scores[order[k]]) + '}';
    return json + ']';
  };
}
