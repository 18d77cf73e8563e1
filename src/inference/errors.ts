// What can go wrong with a prediction, as kinds with no HTTP in them: src/http/error-answers.ts owns the
// one table from kind to status, body and headers.

export type InferenceErrorKind = 'overloaded' | 'timeout' | 'failed' | 'too_long';

export class InferenceError extends Error {
  constructor(
    readonly kind: InferenceErrorKind,
    message: string,
    /** For 'overloaded': seconds until the queue is predicted to have drained. */
    readonly retryAfterS = 0,
    /** For 'too_long': the input's length and the model's limit, in tokens. */
    readonly tokens?: { readonly given: number; readonly max: number },
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

export const InferenceErrors = {
  /**
   * The request's new texts would not fit the queue, or would finish past their deadline. Made without a stack
   * trace: under overload it is thrown thousands of times a second, capturing the stack was a tenth of a
   * refusal's main-thread time, and where it is thrown says nothing the kind does not.
   */
  overloaded: (retryAfterS: number) => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new InferenceError('overloaded', 'queue full or predicted wait past the deadline', retryAfterS);
    } finally {
      Error.stackTraceLimit = limit;
    }
  },
  /** The deadline passed, or the request left, before its texts were scored. */
  timeout: () => new InferenceError('timeout', 'deadline passed'),
  /** The model failed on a batch holding this text. */
  failed: () => new InferenceError('failed', 'model run failed'),
  /** An input past the model's limit, where the request asked not to truncate (TEI's truncate: false). */
  tooLong: (given: number, max: number) => new InferenceError('too_long', 'input longer than the model takes', 0, { given, max }),
} as const;
