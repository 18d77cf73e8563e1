// What can go wrong with a prediction, as kinds with no HTTP in them: src/http/inference-errors.ts owns the
// one table from kind to status, body and headers.

export type InferenceErrorKind = 'overloaded' | 'timeout' | 'failed';

export class InferenceError extends Error {
  constructor(
    readonly kind: InferenceErrorKind,
    message: string,
    /** For 'overloaded': seconds until the queue is predicted to have drained. */
    readonly retryAfterS = 0,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

export const InferenceErrors = {
  /** The request's new texts would not fit the queue, or would finish past their deadline. */
  overloaded: (retryAfterS: number) => new InferenceError('overloaded', 'queue full or predicted wait past the deadline', retryAfterS),
  /** The deadline passed, or the request left, before its texts were scored. */
  timeout: () => new InferenceError('timeout', 'deadline passed'),
  /** The model failed on a batch holding this text. */
  failed: () => new InferenceError('failed', 'model run failed'),
} as const;
