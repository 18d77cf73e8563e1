import type { ScoreFunction } from '../model-loading/model-config.js';

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
 * Row `row` of a batch's logits (`labels` per row) as scores by the head's function, in label-id order.
 * The reference computes scores in float32 (transformers pipeline, numpy); rounding to float32 gives the
 * numbers, and so the digits, a client of the reference sees.
 */
export function scoreRow(fn: ScoreFunction, logits: Float32Array, row: number, labels: number): Float64Array {
  const scores = new Float64Array(labels);
  applyScoreFunction[fn](logits, row * labels, scores);
  for (let i = 0; i < labels; i++) scores[i] = Math.fround(scores[i]);
  return scores;
}
