import type { ScoreFunction } from '../hf-config.js';

/** One row of logits [offset, offset + n) into scores, in place of `scores`, by the head's function. */
const applyScoreFunction: Record<ScoreFunction, (logits: Float32Array, offset: number, scores: Float64Array) => void> = {
  softmax(logits, offset, scores) {
    const n = scores.length;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += scores[i] = Math.exp(logits[offset + i] - max);
    for (let i = 0; i < n; i++) scores[i] /= sum;
  },
  // Multi-label: each label on its own.
  sigmoid(logits, offset, scores) {
    for (let i = 0; i < scores.length; i++) scores[i] = 1 / (1 + Math.exp(-logits[offset + i]));
  },
  // Regression: the model's output as it is.
  none(logits, offset, scores) {
    for (let i = 0; i < scores.length; i++) scores[i] = logits[offset + i];
  },
};

/**
 * Turns one row of logits into the finished JSON of that text's prediction:
 * `[{"label":"POSITIVE","score":0.99},{"label":"NEGATIVE","score":0.01}]`, every label, by descending score
 * (ties in label-id order). The string is what the cache stores and what responses splice in, so a
 * prediction is serialized once in its life.
 */
export function createPredictionFormatter(
  labels: readonly string[],
  scoreFunction: ScoreFunction = 'softmax',
): (logits: Float32Array, row: number) => string {
  const prefixes = labels.map((label) => `{"label":${JSON.stringify(label)},"score":`);
  const n = labels.length;
  const order = labels.map((_, i) => i);
  const scores = new Float64Array(n);
  const apply = applyScoreFunction[scoreFunction];
  return (logits, row) => {
    apply(logits, row * n, scores);
    // The reference computes scores in float32 (transformers pipeline, numpy); rounding to float32 gives
    // the same digits a client of the reference sees.
    for (let i = 0; i < n; i++) scores[i] = Math.fround(scores[i]);
    order.sort((a, b) => scores[b] - scores[a] || a - b);
    let json = '[';
    for (let k = 0; k < n; k++) json += (k === 0 ? '' : ',') + prefixes[order[k]] + JSON.stringify(scores[order[k]]) + '}';
    return json + ']';
  };
}
