import type { TextInput } from '../../cache/cache-key.js';
import { Errors } from '../../errors.js';
import type { PredictOptions, Prediction, Predictor, RequestScope } from '../../inference/predictor.js';

/**
 * Each input's scores (or logits, `raw`) as TEI's /predict and tei.v1.Predict give them: TEI refuses an empty
 * text, and a pair of two empty texts ("`inputs` cannot be empty"), before anything runs.
 */
export async function teiPredict(
  predictor: Predictor,
  inputs: readonly TextInput[],
  scope: RequestScope,
  options: PredictOptions,
): Promise<Prediction> {
  if (inputs.some(isEmpty)) throw Errors.InputEmpty();
  return predictor.predict(inputs, scope, options);
}

function isEmpty(input: TextInput): boolean {
  return typeof input === 'string' ? input === '' : input[0] === '' && input[1] === '';
}
