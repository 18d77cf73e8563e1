import { Errors, type HttpError } from '../errors.js';
import type { InferenceError, InferenceErrorKind } from '../inference/errors.js';

// Retry-After values beyond this are sent as this: a client should come back within a minute and try again.
const MAX_RETRY_AFTER_S = 60;

// Prebuilt answers: a refusal under overload must stay cheap.
const overloaded = Array.from({ length: MAX_RETRY_AFTER_S + 1 }, (_, s) => Errors.Overloaded(Math.max(1, s)));
const timeout = Errors.Timeout();
const failed = Errors.InferenceFailed();

/** The one table from an inference error's kind to its HTTP answer (status, body, headers). */
const TABLE: Record<InferenceErrorKind, (error: InferenceError) => HttpError> = {
  overloaded: (error) => overloaded[Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(error.retryAfterS)))],
  timeout: () => timeout,
  failed: () => failed,
  too_long: (error) => Errors.InputTooLong(error.tokens!.max, error.tokens!.given),
};

export function httpErrorFor(error: InferenceError): HttpError {
  return TABLE[error.kind](error);
}
