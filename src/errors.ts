// Every error the service can raise, defined once: its code (the kind) and its message. What HTTP makes of a
// request's error, its status, headers and body in each API family, is one table: src/http/error-answers.ts.
// Start-up errors carry the fix in their message. Each code has a row in docs/api.md's error table
// (test/internals/errors.test.ts checks it).

/** One item of a 422 body, in FastAPI/pydantic v2's shape. */
export interface ValidationDetail {
  readonly type: string;
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly input?: unknown;
  readonly ctx?: Record<string, unknown>;
}

/** What an answer's headers need of its error, beyond the code. */
export interface RequestErrorParams {
  /** Seconds until a retry may succeed (Retry-After). */
  readonly retryAfterS?: number;
  /** The API key challenge's realm, and whether a key was sent (RFC 6750's `invalid_token`). */
  readonly challenge?: { readonly realm: string; readonly invalidToken: boolean };
}

/** The codes of the errors a request is answered with: src/http/error-answers.ts has a row for each. */
export type RequestErrorCode =
  | 'INF_ERR_NOT_FOUND'
  | 'INF_ERR_METHOD_NOT_ALLOWED'
  | 'INF_ERR_AMBIGUOUS_FRAMING'
  | 'INF_ERR_TRANSFER_ENCODING'
  | 'INF_ERR_TRANSFER_CODING'
  | 'INF_ERR_BODY_TOO_LARGE'
  | 'INF_ERR_MEDIA_TYPE'
  | 'INF_ERR_BODY_ENCODING'
  | 'INF_ERR_VALIDATION'
  | 'INF_ERR_INVALID_INPUT'
  | 'INF_ERR_MODEL_NOT_FOUND'
  | 'INF_ERR_MODEL_LOAD'
  | 'INF_ERR_MODEL_BUSY'
  | 'INF_ERR_MODEL_MEMORY'
  | 'INF_ERR_API_KEY_MISSING'
  | 'INF_ERR_API_KEY_INVALID'
  | 'INF_ERR_INPUT_INVALID'
  | 'INF_ERR_INPUT_TOO_LONG'
  | 'INF_ERR_INPUT_EMPTY'
  | 'INF_ERR_TEXTS_EMPTY'
  | 'INF_ERR_BATCH_TOO_LARGE'
  | 'INF_ERR_NOT_RERANKER'
  | 'INF_ERR_OVERLOADED'
  | 'INF_ERR_NOT_READY'
  | 'INF_ERR_TIMEOUT'
  | 'INF_ERR_INFERENCE'
  | 'INF_ERR_INTERNAL';

/** An error a request is answered with. */
export class RequestError extends Error {
  constructor(
    readonly code: RequestErrorCode,
    /** The message, or FastAPI's 422 list. */
    readonly detail: string | readonly ValidationDetail[],
    readonly params: RequestErrorParams = {},
  ) {
    super(typeof detail === 'string' ? detail : `${detail.length} validation error(s)`);
    this.name = 'RequestError';
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
  NotFound: () => new RequestError('INF_ERR_NOT_FOUND', 'Not Found'),
  MethodNotAllowed: () => new RequestError('INF_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed'),

  /** Request framing and body */
  // Repeated Content-Length (or Content-Length with Transfer-Encoding): a proxy could frame the body otherwise.
  AmbiguousFraming: () =>
    new RequestError('INF_ERR_AMBIGUOUS_FRAMING', 'Conflicting message framing: send one Content-Length, or Transfer-Encoding alone'),
  // RFC 9112 §6.3: a body whose final coding is not chunked has no known end (and a second header, or chunked
  // twice, is a desync waiting for a proxy that reads it otherwise).
  TransferEncoding: () =>
    new RequestError('INF_ERR_TRANSFER_ENCODING', 'Invalid Transfer-Encoding: send one header whose only coding is chunked'),
  TransferCodingNotImplemented: (codings: string) =>
    new RequestError(
      'INF_ERR_TRANSFER_CODING',
      `Transfer coding not implemented: ${codings.slice(0, 100)}; send the body with Transfer-Encoding: chunked alone`,
    ),
  BodyTooLarge: (limit: number) => new RequestError('INF_ERR_BODY_TOO_LARGE', `Request body is larger than ${limit} bytes`),
  UnsupportedMediaType: (type: string) =>
    new RequestError('INF_ERR_MEDIA_TYPE', `Unsupported Media Type: ${type.slice(0, 100)}; send application/json`),
  // FastAPI answers a body it cannot decode (e.g. invalid UTF-8) with this 400.
  BodyEncoding: () => new RequestError('INF_ERR_BODY_ENCODING', 'There was an error parsing the body'),
  Validation: (detail: readonly ValidationDetail[]) => new RequestError('INF_ERR_VALIDATION', detail),
  // The HF and Open Inference Protocol routes: their bodies are {"error": message}, and both protocols answer 400.
  InvalidInput: (problem: string) => new RequestError('INF_ERR_INVALID_INPUT', problem),
  ModelNotFound: (name: string) => new RequestError('INF_ERR_MODEL_NOT_FOUND', `Model ${name.slice(0, 100)} not found`),

  /** The model repository's load and unload (src/model-repository) */
  ModelLoadFailed: (name: string, why: string) =>
    new RequestError('INF_ERR_MODEL_LOAD', `Model ${name.slice(0, 100)} could not be loaded: ${why.slice(0, 500)}`),
  // One load or unload of a model at a time: a second one would race the first's sessions.
  ModelBusy: (name: string) =>
    new RequestError('INF_ERR_MODEL_BUSY', `Model ${name.slice(0, 100)} is being loaded or unloaded; retry when that ends`, {
      retryAfterS: 1,
    }),
  ModelMemory: (name: string, neededMb: number, budgetMb: number) =>
    new RequestError(
      'INF_ERR_MODEL_MEMORY',
      `Model ${name.slice(0, 100)} needs about ${neededMb} MiB more, which would pass MODEL_MEMORY_BUDGET_MB=${budgetMb}; unload a model first`,
    ),

  /** API keys (RFC 6750): the challenge names the realm, and the error only when a key was sent */
  ApiKeyMissing: (realm: string) =>
    new RequestError('INF_ERR_API_KEY_MISSING', 'Not authenticated', { challenge: { realm, invalidToken: false } }),
  ApiKeyInvalid: (realm: string) =>
    new RequestError('INF_ERR_API_KEY_INVALID', 'Invalid API key', { challenge: { realm, invalidToken: true } }),

  /** Text pairs and the TEI routes (src/http/error-answers.ts gives them TEI's body shape and status) */
  // The body is not one of TEI's input forms (TEI answers these from its JSON extractor with 422).
  InputInvalid: (why: string) => new RequestError('INF_ERR_INPUT_INVALID', why),
  // TEI's messages, word for word: its clients match them.
  InputTooLong: (max: number, given: number) =>
    new RequestError('INF_ERR_INPUT_TOO_LONG', `\`inputs\` must have less than ${max} tokens. Given: ${given}`),
  InputEmpty: () => new RequestError('INF_ERR_INPUT_EMPTY', '`inputs` cannot be empty'),
  TextsEmpty: () => new RequestError('INF_ERR_TEXTS_EMPTY', '`texts` cannot be empty'),
  BatchTooLarge: (size: number, max: number) =>
    new RequestError('INF_ERR_BATCH_TOO_LARGE', `batch size ${size} > maximum allowed batch size ${max}`),
  NotReranker: () => new RequestError('INF_ERR_NOT_RERANKER', 'model is not a re-ranker model'),

  /** Capacity and lifecycle */
  Overloaded: (retryAfterS = 1) => new RequestError('INF_ERR_OVERLOADED', 'Server overloaded', { retryAfterS }),
  NotReady: () => new RequestError('INF_ERR_NOT_READY', 'Model is loading', { retryAfterS: 1 }),
  Timeout: () => new RequestError('INF_ERR_TIMEOUT', 'Prediction timeout'),

  /** Inference */
  InferenceFailed: () => new RequestError('INF_ERR_INFERENCE', 'Prediction failed'),
  Internal: () => new RequestError('INF_ERR_INTERNAL', 'Internal Server Error'),

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
  ModelRepository: (problem: string) =>
    new StartupError(
      'INF_ERR_MODEL_REPOSITORY',
      `model repository: ${problem}; MODEL_REPOSITORY holds one model directory per model (see docs/models.md)`,
    ),
  WorkerStart: (why: string) => new StartupError('INF_ERR_WORKER_START', `a model worker failed to start: ${why}`),
  Listen: (host: string, port: number) => new StartupError('INF_ERR_LISTEN', `cannot listen on ${host}:${port} (in use, or not allowed)`),
} as const;
