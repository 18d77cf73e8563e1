import type { Scores } from '../../inference/scores.js';

/** The 200 body from each text's scores in their cached JSON: spliced, never re-serialized. */
export function predictionsBody(predictions: readonly Scores[]): string {
  let body = '{"predictions":[';
  for (let i = 0; i < predictions.length; i++) body += (i === 0 ? '' : ',') + predictions[i].encoded;
  return body + ']}';
}
