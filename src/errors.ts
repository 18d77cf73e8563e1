// Every error the service can raise, defined once. HTTP errors carry their status and FastAPI's body shape
// ({"detail": ...}, the reference's contract); a route family with another shape renders the error itself
// (src/http/error-bodies.ts). Start-up errors carry the fix in their message.
// Each code has a row in docs/api.md's error table (test/internals/errors.test.ts checks it).

/** One item of a 422 body, in FastAPI/pydantic v2's shape. */
export interface ValidationDetail {
  readonly type: string;
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly input?: unknown;
  readonly ctx?: Record<string, unknown>;
}

export class HttpError extends Error {
  /** The serialized response body, built once per error. */
  readonly body: string;
  constructor(
    readonly code: string,
    readonly statusCode: number,
    readonly detail: string | readonly ValidationDetail[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(typeof detail === 'string' ? detail : `${detail.length} validation error(s)`);
    this.name = 'HttpError';
    this.body = serialize(detail);
  }
}

/**
 * FastAPI echoes the offending input in a 422; an input nested thousands deep cannot be serialized (the
 * stack runs out), and then the error is still given, without the echo.
 */
function serialize(detail: string | readonly ValidationDetail[]): string {
  try {
    return JSON.stringify({ detail });
  } catch {
    return JSON.stringify({ detail: (detail as readonly ValidationDetail[]).map(({ input: _input, ...rest }) => rest) });
  }
}

export class StartupError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

const MODEL_HELP =
  'set MODEL_DIR to a model directory in the Hugging Face layout (config.json, tokenizer.json, onnx/model_quantized.onnx), ' +
  'or run `npm run model:fetch`';

export const Errors = {
  /** Routing */
  NotFound: () => new HttpError('INF_ERR_NOT_FOUND', 404, 'Not Found'),
  MethodNotAllowed: () => new HttpError('INF_ERR_METHOD_NOT_ALLOWED', 405, 'Method Not Allowed'),

  /** Request framing and body */
  // Repeated Content-Length (or Content-Length with Transfer-Encoding): a proxy could frame the body otherwise.
  AmbiguousFraming: () =>
    new HttpError('INF_ERR_AMBIGUOUS_FRAMING', 400, 'Conflicting message framing: send one Content-Length, or Transfer-Encoding alone'),
  // RFC 9112 §6.3: a body whose final coding is not chunked has no known end (and a second header, or chunked
  // twice, is a desync waiting for a proxy that reads it otherwise).
  TransferEncoding: () =>
    new HttpError('INF_ERR_TRANSFER_ENCODING', 400, 'Invalid Transfer-Encoding: send one header whose only coding is chunked'),
  TransferCodingNotImplemented: (codings: string) =>
    new HttpError(
      'INF_ERR_TRANSFER_CODING',
      501,
      `Transfer coding not implemented: ${codings.slice(0, 100)}; send the body with Transfer-Encoding: chunked alone`,
    ),
  BodyTooLarge: (limit: number) => new HttpError('INF_ERR_BODY_TOO_LARGE', 413, `Request body is larger than ${limit} bytes`),
  UnsupportedMediaType: (type: string) =>
    new HttpError('INF_ERR_MEDIA_TYPE', 415, `Unsupported Media Type: ${type.slice(0, 100)}; send application/json`),
  // FastAPI answers a body it cannot decode (e.g. invalid UTF-8) with this 400.
  BodyEncoding: () => new HttpError('INF_ERR_BODY_ENCODING', 400, 'There was an error parsing the body'),
  Validation: (detail: readonly ValidationDetail[]) => new HttpError('INF_ERR_VALIDATION', 422, detail),
  // The HF and Open Inference Protocol routes: their bodies are {"error": message}, and both protocols answer 400.
  InvalidInput: (problem: string) => new HttpError('INF_ERR_INVALID_INPUT', 400, problem),
  ModelNotFound: (name: string) => new HttpError('INF_ERR_MODEL_NOT_FOUND', 404, `Model ${name.slice(0, 100)} not found`),

  /** API keys (RFC 6750): the challenge names the realm, and the error only when a key was sent */
  ApiKeyMissing: (realm: string) =>
    new HttpError('INF_ERR_API_KEY_MISSING', 401, 'Not authenticated', { 'www-authenticate': `Bearer realm="${realm}"` }),
  ApiKeyInvalid: (realm: string) =>
    new HttpError('INF_ERR_API_KEY_INVALID', 401, 'Invalid API key', {
      'www-authenticate': `Bearer realm="${realm}", error="invalid_token"`,
    }),

  /** Text pairs and the TEI routes (src/http/tei-errors.ts renders these in TEI's body shape, with TEI's status) */
  // The body is not one of TEI's input forms (TEI answers these from its JSON extractor with 422).
  InputInvalid: (why: string) => new HttpError('INF_ERR_INPUT_INVALID', 422, why),
  // TEI's messages, word for word: its clients match them.
  InputTooLong: (max: number, given: number) =>
    new HttpError('INF_ERR_INPUT_TOO_LONG', 413, `\`inputs\` must have less than ${max} tokens. Given: ${given}`),
  InputEmpty: () => new HttpError('INF_ERR_INPUT_EMPTY', 413, '`inputs` cannot be empty'),
  TextsEmpty: () => new HttpError('INF_ERR_TEXTS_EMPTY', 400, '`texts` cannot be empty'),
  BatchTooLarge: (size: number, max: number) =>
    new HttpError('INF_ERR_BATCH_TOO_LARGE', 413, `batch size ${size} > maximum allowed batch size ${max}`),
  NotReranker: () => new HttpError('INF_ERR_NOT_RERANKER', 424, 'model is not a re-ranker model'),

  /** Capacity and lifecycle */
  Overloaded: (retryAfterS = 1) => new HttpError('INF_ERR_OVERLOADED', 503, 'Server overloaded', { 'retry-after': String(retryAfterS) }),
  NotReady: () => new HttpError('INF_ERR_NOT_READY', 503, 'Model is loading', { 'retry-after': '1' }),
  Timeout: () => new HttpError('INF_ERR_TIMEOUT', 504, 'Prediction timeout'),

  /** Inference */
  InferenceFailed: () => new HttpError('INF_ERR_INFERENCE', 500, 'Prediction failed'),
  Internal: () => new HttpError('INF_ERR_INTERNAL', 500, 'Internal Server Error'),

  /** Start-up */
  Config: (problem: string) => new StartupError('INF_ERR_CONFIG', `invalid configuration: ${problem}`),
  ModelMissing: (path: string) => new StartupError('INF_ERR_MODEL_MISSING', `model file not found: ${path}; ${MODEL_HELP}`),
  ModelFetch: (why: string) =>
    new StartupError(
      'INF_ERR_MODEL_FETCH',
      `could not fetch the model: ${why}; set MODEL_DIR to a model directory you have, or HF_ENDPOINT to a reachable hub mirror`,
    ),
  ModelInvalid: (path: string, why: string) => new StartupError('INF_ERR_MODEL_INVALID', `${path} ${why}; ${MODEL_HELP}`),
  ModelGraph: (path: string, why: string) =>
    new StartupError('INF_ERR_MODEL_GRAPH', `${path}: ${why}; set PER_ROW_QUANTIZATION=false to serve the model as it is`),
  WorkerStart: (why: string) => new StartupError('INF_ERR_WORKER_START', `a model worker failed to start: ${why}`),
  Listen: (host: string, port: number) => new StartupError('INF_ERR_LISTEN', `cannot listen on ${host}:${port} (in use, or not allowed)`),
} as const;
