import { performance } from 'node:perf_hooks';
import type { HttpResponse } from 'uWebSockets.js';
import type { RequestTrace } from '../observability/tracing.js';

/**
 * One request's state on the uWS edge. uWS demands an abort handler on every response answered
 * asynchronously, and forbids touching a response after it aborted; this object holds both facts.
 */
export class RequestContext {
  aborted = false;
  responded = false;
  readonly startedAt = performance.now();
  /** performance.now() past which the request is answered 504. */
  readonly deadline: number;
  /** Set by the handler when tracing is on (observability/tracing.ts). */
  trace: RequestTrace | undefined = undefined;
  /** Most requests have one listener (the body reader), kept without an array. */
  private abortListener: (() => void) | undefined;
  private moreAbortListeners: (() => void)[] | undefined;

  constructor(
    readonly res: HttpResponse,
    readonly requestId: string,
    timeoutMs: number,
  ) {
    this.deadline = this.startedAt + timeoutMs;
    res.onAborted(() => {
      this.aborted = true;
      this.abortListener?.();
      this.moreAbortListeners?.forEach((listener) => listener());
    });
  }

  /** Runs `listener` when the client disconnects before the answer (at once if it already has). */
  onAbort(listener: () => void): void {
    if (this.aborted) listener();
    else if (this.abortListener === undefined) this.abortListener = listener;
    else (this.moreAbortListeners ??= []).push(listener);
  }

  /** Milliseconds since the request arrived. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}
