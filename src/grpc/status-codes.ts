// The one table from an error to its gRPC status, the twin of src/http/error-answers.ts: every RequestErrorCode
// (src/errors.ts) and, through requestErrorOf, every InferenceError kind (src/inference/errors.ts). What only gRPC
// has (UNIMPLEMENTED, a method's own refusal) is a GrpcStatusError.
import * as grpc from '@grpc/grpc-js';
import type { RequestError, RequestErrorCode } from '../errors.js';
import { isFault, requestErrorOf } from '../http/error-answers.js';

const { status } = grpc;

/**
 * The status of each request error. TEI's own errors are answered as TEI's gRPC server answers their error type
 * (router/src/grpc/server.rs: validation and empty INVALID_ARGUMENT, backend FAILED_PRECONDITION, overloaded
 * RESOURCE_EXHAUSTED, unhealthy UNAVAILABLE); the HTTP edge's framing and media-type errors never reach gRPC.
 */
const TABLE: Record<RequestErrorCode, grpc.status> = {
  // Routing
  INF_ERR_NOT_FOUND: status.NOT_FOUND,
  INF_ERR_METHOD_NOT_ALLOWED: status.UNIMPLEMENTED,
  // Request framing and body (HTTP's; gRPC frames its own messages)
  INF_ERR_AMBIGUOUS_FRAMING: status.INVALID_ARGUMENT,
  INF_ERR_TRANSFER_ENCODING: status.INVALID_ARGUMENT,
  INF_ERR_TRANSFER_CODING: status.UNIMPLEMENTED,
  INF_ERR_BODY_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  INF_ERR_MEDIA_TYPE: status.INVALID_ARGUMENT,
  INF_ERR_BODY_ENCODING: status.INVALID_ARGUMENT,
  INF_ERR_VALIDATION: status.INVALID_ARGUMENT,
  INF_ERR_INVALID_INPUT: status.INVALID_ARGUMENT,
  INF_ERR_MODEL_NOT_FOUND: status.NOT_FOUND,
  // The repository extension is HTTP's alone; were its errors to reach a call, these are their kinds.
  INF_ERR_MODEL_LOAD: status.INVALID_ARGUMENT,
  INF_ERR_MODEL_BUSY: status.FAILED_PRECONDITION,
  INF_ERR_MODEL_MEMORY: status.RESOURCE_EXHAUSTED,
  // API keys
  INF_ERR_API_KEY_MISSING: status.UNAUTHENTICATED,
  INF_ERR_API_KEY_INVALID: status.UNAUTHENTICATED,
  // Text pairs and TEI
  INF_ERR_INPUT_INVALID: status.INVALID_ARGUMENT,
  INF_ERR_INPUT_TOO_LONG: status.INVALID_ARGUMENT,
  INF_ERR_INPUT_EMPTY: status.INVALID_ARGUMENT,
  INF_ERR_TEXTS_EMPTY: status.INVALID_ARGUMENT,
  INF_ERR_BATCH_TOO_LARGE: status.INVALID_ARGUMENT,
  INF_ERR_NOT_RERANKER: status.FAILED_PRECONDITION,
  // Capacity and lifecycle
  INF_ERR_OVERLOADED: status.RESOURCE_EXHAUSTED,
  INF_ERR_NOT_READY: status.UNAVAILABLE,
  INF_ERR_TIMEOUT: status.DEADLINE_EXCEEDED,
  // Inference
  INF_ERR_INFERENCE: status.INTERNAL,
  INF_ERR_INTERNAL: status.INTERNAL,
};

/**
 * The metadata key of the retry delay that comes with RESOURCE_EXHAUSTED (overload) and UNAVAILABLE (still
 * loading): whole seconds, as HTTP's Retry-After on the same refusals.
 */
export const RETRY_AFTER_KEY = 'retry-after';

/** A status that only gRPC has, e.g. UNIMPLEMENTED; its message is sent as it is. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}

/** A failure as the call ends with it: its code, its message and any trailing metadata. */
export interface GrpcFailure {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata?: grpc.Metadata;
  /** The service's own failure (INTERNAL): logged with its cause. */
  readonly fault: boolean;
  /** The request error it came from, when it came from one (metrics count overloads and timeouts by it). */
  readonly error?: RequestError;
}

/** Any failure as its status: a RequestError or InferenceError by the table, a GrpcStatusError as it is, anything else INTERNAL. */
export function grpcFailureOf(err: unknown): GrpcFailure {
  if (err instanceof GrpcStatusError) return { code: err.code, details: err.message, fault: false };
  // Anything unforeseen is Errors.Internal(): its message says nothing of the internals.
  const error = requestErrorOf(err);
  const { retryAfterS } = error.params;
  let metadata: grpc.Metadata | undefined;
  if (retryAfterS !== undefined) {
    metadata = new grpc.Metadata();
    metadata.set(RETRY_AFTER_KEY, String(retryAfterS));
  }
  const details = typeof error.detail === 'string' ? error.detail : error.detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; ');
  return { code: TABLE[error.code], details, metadata, fault: isFault(error), error };
}

/** A status code's name as metrics and logs give it (`OK`, `INVALID_ARGUMENT`, ...). */
export const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value, name]),
);
