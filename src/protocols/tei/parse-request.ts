import { Errors } from '../../errors.js';
import type { TextInput } from '../../cache/cache-key.js';
import { leftTruncationRefused } from './truncation-direction.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** POST /predict's body as TEI reads it (router/src/http/types.rs PredictRequest). */
export interface TeiPredictRequest {
  readonly inputs: readonly TextInput[];
  /** A string or a pair is one input, answered as one list; a list of lists is a batch, answered as a list of lists. */
  readonly batch: boolean;
  readonly rawScores: boolean;
  readonly truncate: boolean;
}

/** POST /rerank's body as TEI reads it (RerankRequest). */
export interface TeiRerankRequest {
  readonly query: string;
  readonly texts: readonly string[];
  readonly rawScores: boolean;
  readonly returnText: boolean;
  readonly truncate: boolean;
}

const INPUT_FORMS = 'a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...]';

/**
 * `inputs` read as TEI's deserializer reads it: a string is one text; a list whose first item is a string is
 * one input, a text ([a]) or ONE pair ([a, b]), never more; a list whose first item is a list is a batch, each
 * item [text] or [text, text_pair], mixed freely. Anything else is refused (422), as TEI's JSON extractor does.
 */
export function readPredictInputs(inputs: unknown): { inputs: TextInput[]; batch: boolean } {
  if (typeof inputs === 'string') return { inputs: [inputs], batch: false };
  if (!Array.isArray(inputs) || inputs.length === 0) throw Errors.InputInvalid(`inputs: expected ${INPUT_FORMS}`);
  if (typeof inputs[0] === 'string') {
    if (inputs.length > 2) throw Errors.InputInvalid(`inputs: invalid length ${inputs.length}, expected ${INPUT_FORMS}`);
    if (inputs.some((s) => typeof s !== 'string')) throw Errors.InputInvalid(`inputs: expected ${INPUT_FORMS}`);
    return { inputs: [inputs.length === 1 ? inputs[0] : [inputs[0], inputs[1]]], batch: false };
  }
  const batch = inputs.map((item, i): TextInput => {
    if (!Array.isArray(item) || item.some((s) => typeof s !== 'string'))
      throw Errors.InputInvalid(`inputs[${i}]: expected [string] or [string, string]`);
    if (item.length === 1) return item[0] as string;
    if (item.length === 2) return [item[0] as string, item[1] as string];
    throw Errors.InputInvalid(`inputs[${i}]: invalid length ${item.length}, expected [string] or [string, string]`);
  });
  return { inputs: batch, batch: true };
}

export function parseTeiPredictRequest(bytes: Uint8Array): TeiPredictRequest {
  const body = parseObject(bytes);
  if (!('inputs' in body)) throw Errors.InputInvalid('missing field `inputs`');
  const { inputs, batch } = readPredictInputs(body.inputs);
  return { inputs, batch, rawScores: flag(body, 'raw_scores'), truncate: flag(body, 'truncate'), ...direction(body) };
}

export function parseTeiRerankRequest(bytes: Uint8Array): TeiRerankRequest {
  const body = parseObject(bytes);
  if (typeof body.query !== 'string')
    throw Errors.InputInvalid(`${'query' in body ? 'query: expected a string' : 'missing field `query`'}`);
  if (!Array.isArray(body.texts) || body.texts.some((s) => typeof s !== 'string')) {
    throw Errors.InputInvalid(`${'texts' in body ? 'texts: expected a list of strings' : 'missing field `texts`'}`);
  }
  direction(body);
  return {
    query: body.query,
    texts: body.texts as string[],
    rawScores: flag(body, 'raw_scores'),
    returnText: flag(body, 'return_text'),
    truncate: flag(body, 'truncate'),
  };
}

function parseObject(bytes: Uint8Array): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw Errors.InputInvalid(err instanceof SyntaxError ? `invalid JSON: ${err.message}` : 'the body is not UTF-8');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw Errors.InputInvalid('expected a JSON object');
  return body as Record<string, unknown>;
}

/** TEI's booleans default to false (truncate to the server's auto_truncate, false here); null is absent. */
function flag(body: Record<string, unknown>, name: string): boolean {
  const value = body[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw Errors.InputInvalid(`${name}: expected a boolean`);
  return value;
}

/** truncation_direction: "Right" (TEI's default) is what the tokenizer threads cut; "Left" is refused. */
function direction(body: Record<string, unknown>): Record<string, never> {
  const value = body.truncation_direction;
  if (value === undefined || value === null || value === 'Right' || value === 'right') return {};
  if (value === 'Left' || value === 'left') throw leftTruncationRefused();
  throw Errors.InputInvalid('truncation_direction: expected "Left" or "Right"');
}
