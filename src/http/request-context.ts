import { performance } from 'node:perf_hooks';
import type { HttpResponse } from 'uWebSockets.js';
import type { RequestTrace } from '../observability/tracing.js';

/** The last stage of a request (pipeline.ts): runs once, when its answer has left or its client has. */
export type OnResponse = (ctx: RequestContext, status: number) => void;

const noResponseStage: OnResponse = () => {};

/**
 * One request's state on the uWS edge. uWS demands an abort handler on every response answered
 * asynchronously, and forbids touching a response after it aborted; this object holds both facts, and
 * whether the request's last stage has run.
 */
export class RequestContext {
  aborted = false;
  /** An answer was given (its bytes may still be leaving: respond.ts). */
  responded = false;
  /** The last stage ran: the request is counted, logged and no longer in flight. */
  finished = false;
  readonly startedAt = performance.now();
  /** performance.now() past which the request is answered 504. */
  readonly deadline: number;
  /** Set by the pipeline when tracing is on (observability/tracing.ts). */
  trace: RequestTrace | undefined = undefined;
  /** Set when the response memo answered: the distinct texts it answered, counted as in-memory cache hits. */
  memoizedTexts: number | undefined = undefined;
  /** Most requests have one listener (the body reader), kept without an array. */
  private abortListener: (() => void) | undefined;
  private moreAbortListeners: (() => void)[] | undefined;

  constructor(
    readonly res: HttpResponse,
    readonly requestId: string,
    timeoutMs: number,
    private readonly onResponse: OnResponse = noResponseStage,
  ) {
    this.deadline = this.startedAt + timeoutMs;
    res.onAborted(() => {
      this.aborted = true;
      this.abortListener?.();
      this.moreAbortListeners?.forEach((listener) => listener());
      // An answer still leaving (a large body the client reads slowly) will never finish leaving.
      if (this.responded) this.finish(499);
    });
  }

  /** Runs `listener` when the client disconnects before the answer (at once if it already has). */
  onAbort(listener: () => void): void {
    if (this.aborted) listener();
    else if (this.abortListener === undefined) this.abortListener = listener;
    else (this.moreAbortListeners ??= []).push(listener);
  }

  /** Runs the request's last stage, once: with 499 whatever `status` says when the client left first. */
  finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.onResponse(this, this.aborted ? 499 : status);
  }

  /** Milliseconds since the request arrived. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}
