// The one table from an error to its HTTP answer: each request error's status, its headers, and its body in each
// API family. The errors themselves are defined once where they arise (src/errors.ts: code and message;
// src/inference/errors.ts: the kinds of a prediction's failure, which map to those codes below).
import { Errors, RequestError, type RequestErrorCode, type ValidationDetail } from '../errors.js';
import { InferenceError, type InferenceErrorKind } from '../inference/errors.js';
import type { FailureReason } from '../observability/metrics.js';
import type { Headers } from './respond.js';

/**
 * The API families, each with its error body: `bulk-predict` FastAPI's `{"detail": ...}` (also the service's own
 * GET routes and the edge's refusals), `tei` TEI's `{"error", "error_type"}` (router/src/lib.rs), `hf` and `oip`
 * `{"error": message}` (the HF Inference API, whose client surfaces `error` as its exception's message, and the
 * Open Inference Protocol).
 */
export type ApiFamily = 'bulk-predict' | 'tei' | 'hf' | 'oip';

/** TEI's ErrorType (router/src/http/server.rs). */
type TeiErrorType = 'unhealthy' | 'backend' | 'overloaded' | 'tokenizer' | 'validation' | 'empty';

interface Row {
  /** The status of every family but TEI, and TEI's unless `tei.status` says otherwise. */
  readonly status: number;
  /**
   * TEI's type and, where TEI's status differs, TEI's: overload is its 429 (Retry-After kept), a worker failure its
   * 424 `backend`, the service still loading its 503 `unhealthy`. The service's own errors that TEI has no type
   * for keep their status (504 deadline, 415 media type), typed as the nearest TEI error.
   */
  readonly tei: { readonly type: TeiErrorType; readonly status?: number };
}

const TABLE: Record<RequestErrorCode, Row> = {
  // Routing
  INF_ERR_NOT_FOUND: { status: 404, tei: { type: 'validation' } },
  INF_ERR_METHOD_NOT_ALLOWED: { status: 405, tei: { type: 'validation' } },
  // Request framing and body
  INF_ERR_AMBIGUOUS_FRAMING: { status: 400, tei: { type: 'validation' } },
  INF_ERR_TRANSFER_ENCODING: { status: 400, tei: { type: 'validation' } },
  INF_ERR_TRANSFER_CODING: { status: 501, tei: { type: 'validation' } },
  INF_ERR_BODY_TOO_LARGE: { status: 413, tei: { type: 'validation' } },
  INF_ERR_MEDIA_TYPE: { status: 415, tei: { type: 'validation' } },
  INF_ERR_BODY_ENCODING: { status: 400, tei: { type: 'validation' } },
  INF_ERR_VALIDATION: { status: 422, tei: { type: 'validation' } },
  // HF's and the Open Inference Protocol's: both protocols answer a bad input 400.
  INF_ERR_INVALID_INPUT: { status: 400, tei: { type: 'validation' } },
  INF_ERR_MODEL_NOT_FOUND: { status: 404, tei: { type: 'validation' } },
  // The repository extension's load and unload (Triton answers a failed load 400).
  INF_ERR_MODEL_LOAD: { status: 400, tei: { type: 'validation' } },
  INF_ERR_MODEL_BUSY: { status: 409, tei: { type: 'validation' } },
  INF_ERR_MODEL_MEMORY: { status: 507, tei: { type: 'validation' } },
  // API keys (RFC 6750)
  INF_ERR_API_KEY_MISSING: { status: 401, tei: { type: 'validation' } },
  INF_ERR_API_KEY_INVALID: { status: 401, tei: { type: 'validation' } },
  // Text pairs and the TEI routes: TEI answers a body that is none of its input forms 422 (its JSON extractor).
  INF_ERR_INPUT_INVALID: { status: 422, tei: { type: 'validation' } },
  INF_ERR_INPUT_TOO_LONG: { status: 413, tei: { type: 'validation' } },
  INF_ERR_INPUT_EMPTY: { status: 413, tei: { type: 'validation' } },
  INF_ERR_TEXTS_EMPTY: { status: 400, tei: { type: 'empty' } },
  INF_ERR_BATCH_TOO_LARGE: { status: 413, tei: { type: 'validation' } },
  INF_ERR_NOT_RERANKER: { status: 424, tei: { type: 'backend' } },
  // Capacity and lifecycle
  INF_ERR_OVERLOADED: { status: 503, tei: { type: 'overloaded', status: 429 } },
  INF_ERR_NOT_READY: { status: 503, tei: { type: 'unhealthy' } },
  INF_ERR_TIMEOUT: { status: 504, tei: { type: 'backend' } },
  // Inference
  INF_ERR_INFERENCE: { status: 500, tei: { type: 'backend', status: 424 } },
  INF_ERR_INTERNAL: { status: 500, tei: { type: 'backend' } },
};

/** An error as one family answers it. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

/** The status `family` answers `error` with. */
export function errorStatus(error: RequestError, family: ApiFamily): number {
  const row = TABLE[error.code];
  return family === 'tei' ? (row.tei.status ?? row.status) : row.status;
}

// An error object is answered the same way each time; the prebuilt ones (overload, API key refusals, 404) are
// rendered once per family.
const rendered: Record<ApiFamily, WeakMap<RequestError, ErrorAnswer>> = {
  'bulk-predict': new WeakMap(),
  tei: new WeakMap(),
  hf: new WeakMap(),
  oip: new WeakMap(),
};

/** `error`'s status, headers and body in `family`. */
export function errorAnswer(error: RequestError, family: ApiFamily): ErrorAnswer {
  const known = rendered[family].get(error);
  if (known) return known;
  const answer = { status: errorStatus(error, family), body: BODIES[family](error), headers: headersOf(error) };
  rendered[family].set(error, answer);
  return answer;
}

const BODIES: Record<ApiFamily, (error: RequestError) => string> = {
  'bulk-predict': (error) => detailBody(error.detail),
  tei: (error) => JSON.stringify({ error: teiMessage(error), error_type: TABLE[error.code].tei.type }),
  hf: messageBody,
  oip: messageBody,
};

/**
 * FastAPI echoes the offending input in a 422; an input nested thousands deep cannot be serialized (the stack runs
 * out), and then the error is still given, without the echo.
 */
function detailBody(detail: string | readonly ValidationDetail[]): string {
  try {
    return JSON.stringify({ detail });
  } catch {
    return JSON.stringify({ detail: (detail as readonly ValidationDetail[]).map(({ input: _input, ...rest }) => rest) });
  }
}

/** FastAPI's 422 list (never raised on the HF and OIP routes) reads as its summary. */
function messageBody(error: RequestError): string {
  return JSON.stringify({ error: typeof error.detail === 'string' ? error.detail : error.message });
}

function teiMessage(error: RequestError): string {
  return typeof error.detail === 'string' ? error.detail : error.detail.map((d) => d.msg).join('; ');
}

function headersOf(error: RequestError): Headers {
  const { retryAfterS, challenge } = error.params;
  if (retryAfterS !== undefined) return [['retry-after', String(retryAfterS)]];
  if (challenge !== undefined) {
    const realm = `Bearer realm="${challenge.realm}"`;
    return [['www-authenticate', challenge.invalidToken ? `${realm}, error="invalid_token"` : realm]];
  }
  return [];
}

/** GET <tei prefix>/health's answer while not ready (loading or draining): TEI's, word for word. */
export const TEI_UNHEALTHY: ErrorAnswer = {
  status: TABLE.INF_ERR_NOT_READY.status,
  body: JSON.stringify({ error: 'unhealthy', error_type: 'unhealthy' }),
  headers: [],
};

// Retry-After values beyond this are sent as this: a client should come back within a minute and try again.
const MAX_RETRY_AFTER_S = 60;

// Prebuilt: a refusal under overload must stay cheap.
const overloaded = Array.from({ length: MAX_RETRY_AFTER_S + 1 }, (_, s) => Errors.Overloaded(Math.max(1, s)));
const timeout = Errors.Timeout();
const failed = Errors.InferenceFailed();
const internal = Errors.Internal();

/** Each kind of a prediction's failure as the request error it is answered with. */
const INFERENCE_ERRORS: Record<InferenceErrorKind, (error: InferenceError) => RequestError> = {
  overloaded: (error) => overloaded[Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(error.retryAfterS)))]!,
  timeout: () => timeout,
  failed: () => failed,
  too_long: (error) => Errors.InputTooLong(error.tokens!.max, error.tokens!.given),
};

/** Any failure as the request error it is answered with: a request error as it is, anything unforeseen a 500. */
export function requestErrorOf(err: unknown): RequestError {
  if (err instanceof InferenceError) return INFERENCE_ERRORS[err.kind](err);
  return err instanceof RequestError ? err : internal;
}

/** What inf_request_failures_total counts `error` as, if it counts it: per request, not per batch (a failed batch of ten requests counts ten). */
export function failureReasonOf(error: RequestError): FailureReason | undefined {
  return FAILURE_REASONS[error.code];
}

const FAILURE_REASONS: Partial<Record<RequestErrorCode, FailureReason>> = {
  INF_ERR_OVERLOADED: 'overloaded',
  INF_ERR_TIMEOUT: 'timeout',
  INF_ERR_INFERENCE: 'worker_failure',
};

/** The service's own failure (a 500 where the service's routes answer it), logged with its cause. */
export function isFault(error: RequestError): boolean {
  return TABLE[error.code].status === 500;
}
