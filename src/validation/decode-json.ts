import type { ErrorObject } from 'ajv';
import { Errors } from '../errors.js';
import { locateJsonError } from './json-error-position.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Body bytes -> the JSON value, for the routes whose errors are one message (HF, Open Inference Protocol):
 * 400 for bytes that are not UTF-8 or text that is not JSON, with where and why.
 */
export function decodeJsonBody(bytes: Uint8Array): unknown {
  let source: string;
  try {
    source = utf8.decode(bytes);
  } catch {
    throw Errors.BodyEncoding();
  }
  if (bytes.length === 0) throw Errors.InvalidInput('The request body is empty; send a JSON object');
  try {
    return JSON.parse(source);
  } catch {
    const { position, message } = locateJsonError(source);
    throw Errors.InvalidInput(`The request body is not JSON: ${message} at position ${position}`);
  }
}

/** AJV's errors as one message naming each field: `inputs[1] must be string; parameters.top_k must be >= 1`. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const field = e.instancePath
      .split('/')
      .filter(Boolean)
      .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
      .join('');
    const allowed = e.keyword === 'enum' ? ` (${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})` : '';
    const missing = e.keyword === 'required' ? ` '${String(e.params.missingProperty)}'` : '';
    seen.add(`${field || 'body'} ${e.message ?? 'is invalid'}${missing}${allowed}`);
  }
  return [...seen].join('; ');
}
