import type { ErrorObject } from 'ajv';
import { Errors, type ValidationDetail } from '../../errors.js';
import { locateJsonError } from '../../validation/json-error-position.js';
import { validateBulkPredictRequest } from '../../validation/validators.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Body bytes -> the list of texts, or the error FastAPI would give for the same body: 400 for bytes that are
 * not UTF-8, 422 `json_invalid` for text that is not JSON, 422 `missing` / `list_type` / `string_type` /
 * `model_attributes_type` from the compiled schema, and 422 `too_long` past `maxTexts`.
 */
export function parseBulkPredictRequest(bytes: Uint8Array, maxTexts: number): string[] {
  let source: string;
  try {
    source = utf8.decode(bytes);
  } catch {
    throw Errors.BodyEncoding();
  }
  // FastAPI treats only a body of no bytes as absent; whitespace goes to the JSON parser ("Expecting value").
  if (bytes.length === 0) {
    throw Errors.Validation([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
  }
  let body: unknown;
  try {
    body = JSON.parse(source);
  } catch {
    const { position, message } = locateJsonError(source);
    throw Errors.Validation([
      { type: 'json_invalid', loc: ['body', position], msg: 'JSON decode error', input: {}, ctx: { error: message } },
    ]);
  }
  const texts = (body as { text?: unknown } | null)?.text;
  if (Array.isArray(texts) && texts.length > maxTexts) {
    throw Errors.Validation([
      {
        type: 'too_long',
        loc: ['body', 'text'],
        msg: `List should have at most ${maxTexts} items after validation, not ${texts.length}`,
        input: texts,
        ctx: { field_type: 'List', max_length: maxTexts, actual_length: texts.length },
      },
    ]);
  }
  if (!validateBulkPredictRequest(body)) {
    throw Errors.Validation((validateBulkPredictRequest.errors ?? []).map((e) => toFastApiDetail(e, body)));
  }
  return texts as string[];
}

function toFastApiDetail(error: ErrorObject, body: unknown): ValidationDetail {
  const path = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const loc = ['body', ...path];
  const input = path.reduce<unknown>((value, key) => (value as Record<string | number, unknown>)[key], body);
  if (error.keyword === 'required') {
    return { type: 'missing', loc: [...loc, String(error.params.missingProperty)], msg: 'Field required', input };
  }
  if (path.length === 0) {
    return body === null
      ? { type: 'missing', loc, msg: 'Field required', input: null }
      : { type: 'model_attributes_type', loc, msg: 'Input should be a valid dictionary or object to extract fields from', input };
  }
  if (path.length === 1) return { type: 'list_type', loc, msg: 'Input should be a valid list', input };
  return { type: 'string_type', loc, msg: 'Input should be a valid string', input };
}
