import { Errors } from '../../errors.js';
import { checkTextTensor, type OipOutputName, requestedOutputs } from './tensors.js';
import { decodeJsonBody, describeSchemaErrors } from '../../validation/decode-json.js';
import { validateOipInferRequest } from '../../validation/validators.js';

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
  checkTextTensor(shape, data.length, maxTexts);
  return { id, texts: data, outputs: requestedOutputs(outputs?.map((o) => o.name)) };
}
