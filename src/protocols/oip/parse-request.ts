import { Errors } from '../../errors.js';
import { decodeJsonBody, describeSchemaErrors } from '../../validation/decode-json.js';
import { validateOipInferRequest } from '../../validation/validators.js';

export type OipOutputName = 'scores' | 'label';

export interface OipInferRequest {
  readonly id: string | undefined;
  readonly texts: string[];
  /** The outputs asked for, in the order asked; both when the request names none. */
  readonly outputs: readonly OipOutputName[];
}

interface Body {
  id?: string;
  inputs: [{ shape: number[]; data: string[] }];
  outputs?: { name: OipOutputName }[];
}

/** Body bytes -> the texts of an inference request, or a 400 saying what is wrong. */
export function parseOipInferRequest(bytes: Uint8Array, maxTexts: number): OipInferRequest {
  const body = decodeJsonBody(bytes);
  if (!validateOipInferRequest(body)) throw Errors.InvalidInput(describeSchemaErrors(validateOipInferRequest.errors));
  const { id, inputs, outputs } = body as Body;
  const [{ shape, data }] = inputs;
  // [n], or [n, 1] as Triton's clients send a batch of single strings.
  const elements = shape.reduce((product, n) => product * n, 1);
  if (shape.length < 1 || shape.length > 2 || (shape.length === 2 && shape[1] !== 1) || elements !== data.length) {
    throw Errors.InvalidInput(`inputs[0].shape ${JSON.stringify(shape)} does not fit ${data.length} texts: send [${data.length}]`);
  }
  if (data.length > maxTexts) throw Errors.InvalidInput(`inputs[0] has ${data.length} texts; at most ${maxTexts} are accepted`);
  const asked = outputs?.map((o) => o.name);
  return { id, texts: data, outputs: asked && asked.length > 0 ? [...new Set(asked)] : ['scores', 'label'] };
}
