/** The 200 body from each text's prediction JSON (as cached): spliced, never re-serialized. */
export function predictionsBody(predictions: readonly string[]): string {
  let body = '{"predictions":[';
  for (let i = 0; i < predictions.length; i++) body += (i === 0 ? '' : ',') + predictions[i];
  return body + ']}';
}
