import { Errors } from '../../errors.js';
import type { ScoreFunction } from '../../model-loading/model-config.js';
import { decodeJsonBody, describeSchemaErrors } from '../../validation/decode-json.js';
import { validateHfTextClassificationRequest } from '../../validation/validators.js';

export interface HfTextClassificationRequest {
  readonly texts: string[];
  /** `inputs` was one string, not a list. */
  readonly single: boolean;
  /** Undefined: every label. */
  readonly topK: number | undefined;
  /** Undefined: the model's own. */
  readonly scoreFunction: ScoreFunction | undefined;
}

interface Body {
  inputs: string | string[];
  parameters?: { top_k?: number | null; function_to_apply?: ScoreFunction };
}

/** Body bytes -> the texts and parameters of an HF text-classification request, or a 400 saying what is wrong. */
export function parseHfTextClassificationRequest(bytes: Uint8Array, maxTexts: number): HfTextClassificationRequest {
  const body = decodeJsonBody(bytes);
  if (!validateHfTextClassificationRequest(body)) {
    throw Errors.InvalidInput(describeSchemaErrors(validateHfTextClassificationRequest.errors));
  }
  const { inputs, parameters } = body as Body;
  const single = typeof inputs === 'string';
  const texts = single ? [inputs] : inputs;
  if (texts.length > maxTexts) throw Errors.InvalidInput(`inputs has ${texts.length} texts; at most ${maxTexts} are accepted`);
  return { texts, single, topK: parameters?.top_k ?? undefined, scoreFunction: parameters?.function_to_apply };
}
