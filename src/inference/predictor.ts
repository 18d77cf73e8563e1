import type { PredictionCache } from '../cache/prediction-cache.js';
import { type RequestTrace, traced } from '../observability/tracing.js';
import { InferenceErrors } from './errors.js';
import type { InferenceQueue, TextResult } from './queue.js';
import type { TokenizerPool } from './tokenizer-pool.js';

export type CacheHeader = 'hit' | 'miss' | 'partial';

export interface Prediction {
  /** Each input text's prediction as JSON, in input order (src/http joins them into the body). */
  readonly predictions: readonly string[];
  readonly cache: CacheHeader;
  /** Longest wait of this request's texts for a thread, ms (0 when all were cached). */
  readonly queueMs: number;
  /** Longest model run (in the worker) among this request's batches, ms. */
  readonly inferenceMs: number;
}

/** What the HTTP edge lends the predictor: a deadline, a way to hear that the client left, and its trace if traced. */
export interface RequestScope {
  readonly deadline: number;
  onAbort(listener: () => void): void;
  readonly trace?: RequestTrace;
}

/**
 * The path of one request: distinct texts -> cache -> tokenization -> queue (admission by exact cost) -> dispatcher
 * -> cache write-back -> body. While the queue is full, a request is refused as soon as one of its texts is known
 * not to be cached, before the cache is asked for the others.
 * Texts the cache has never reach the model; repeated texts in one request are scored once.
 */
export class Predictor {
  constructor(
    private readonly cache: PredictionCache,
    private readonly tokenizer: TokenizerPool,
    private readonly queue: InferenceQueue,
    private readonly now: () => number,
  ) {}

  async predict(texts: readonly string[], scope: RequestScope): Promise<Prediction> {
    const distinct = [...new Set(texts)];
    if (this.queue.full && !(await this.cache.mayHaveAll(distinct))) throw InferenceErrors.overloaded(this.queue.retryAfterS());
    const { trace } = scope;
    const cached = await traced(trace, 'cache.lookup', () => this.cache.lookup(distinct), cacheCounts);
    const byText = new Map<string, string>();
    const missing: string[] = [];
    distinct.forEach((text, i) => {
      const hit = cached[i];
      if (hit === undefined) missing.push(text);
      else byText.set(text, hit);
    });
    let queueMs = 0;
    let inferenceMs = 0;
    if (missing.length > 0) {
      const run = await this.run(missing, scope, byText);
      run.results.forEach((result, i) => byText.set(run.texts[i], result.prediction));
      ({ queueMs, inferenceMs } = run);
    }
    const predictions = texts.map((text) => byText.get(text)!);
    const cache: CacheHeader = missing.length === 0 ? 'hit' : missing.length === distinct.length ? 'miss' : 'partial';
    return { predictions, cache, queueMs, inferenceMs };
  }

  /**
   * Each text's row of logits, for a score function other than the model's: the cache holds scores, which
   * (for softmax) do not give the logits back, so every text runs the model (single flight with concurrent
   * requests still holds). What the runs score is cached as usual, for the model's own function.
   */
  async logits(texts: readonly string[], scope: RequestScope): Promise<Prediction & { readonly logits: readonly Float32Array[] }> {
    const distinct = [...new Set(texts)];
    if (this.queue.full) throw InferenceErrors.overloaded(this.queue.retryAfterS());
    const run = await this.run(distinct, scope, undefined);
    const byText = new Map(run.texts.map((text, i) => [text, run.results[i]]));
    const results = texts.map((text) => byText.get(text)!);
    return {
      predictions: results.map((r) => r.prediction),
      logits: results.map((r) => r.logits),
      cache: 'miss',
      queueMs: run.queueMs,
      inferenceMs: run.inferenceMs,
    };
  }

  /**
   * Tokenizes, admits and scores `missing`. With `late`, a text another request finished scoring while these
   * were tokenized is taken from the cache into `late` instead of running again.
   */
  private async run(
    missing: readonly string[],
    scope: RequestScope,
    late: Map<string, string> | undefined,
  ): Promise<{ texts: string[]; results: TextResult[]; queueMs: number; inferenceMs: number }> {
    // Admission before the texts cost a tokenization (at their expected length), then exactly in submit();
    // cached texts never need admission.
    if (this.queue.full) throw InferenceErrors.overloaded(this.queue.retryAfterS());
    const reservation = this.queue.reserve(missing.length, scope.deadline);
    let encoded: Int32Array[];
    try {
      const encoding = traced(scope.trace, 'tokenize', () => this.tokenizer.encode(missing), textCount);
      encoded = await this.withDeadline(encoding, scope.deadline, () => {});
    } finally {
      reservation.release();
    }
    // While the texts were tokenized, another request may have finished scoring some of them; it stored them
    // in memory when it did, so looking again keeps concurrent requests to one inference per text.
    const toRun: string[] = [];
    const ids: Int32Array[] = [];
    missing.forEach((text, i) => {
      const cached = late && this.cache.peek(text);
      if (cached !== undefined) late!.set(text, cached);
      else {
        toRun.push(text);
        ids.push(encoded[i]);
      }
    });
    const submittedAt = this.now();
    const ticket = this.queue.submit(toRun, ids, scope.deadline);
    scope.onAbort(ticket.cancel);
    this.cacheAsScored(toRun, ticket.results, scope.trace);
    let results: TextResult[];
    try {
      results = await this.withDeadline(Promise.all(ticket.results), scope.deadline, ticket.cancel);
    } catch (err) {
      // A failed text fails the request: its other texts need not run for it.
      ticket.cancel();
      throw err;
    }
    scope.trace?.batches(submittedAt, results);
    let queueMs = 0;
    let inferenceMs = 0;
    for (const result of results) {
      queueMs = Math.max(queueMs, result.queueMs);
      inferenceMs = Math.max(inferenceMs, result.inferenceMs);
    }
    return { texts: toRun, results, queueMs, inferenceMs };
  }

  /**
   * Caches each text as soon as its batch finishes, whether or not this request is still waiting for it: in
   * memory at once (a request waiting on another batch must not leave a window in which a new request runs
   * the text again), and in Redis in one pipeline once all of them have settled.
   */
  private cacheAsScored(texts: readonly string[], results: readonly Promise<TextResult>[], trace: RequestTrace | undefined): void {
    const scored: string[] = [];
    const predictions: string[] = [];
    const settled = results.map((result, i) =>
      result.then(
        ({ prediction }) => {
          this.cache.remember(texts[i], prediction);
          scored.push(texts[i]);
          predictions.push(prediction);
        },
        () => {},
      ),
    );
    void Promise.all(settled).then(() => {
      if (!trace || !this.cache.shared || scored.length === 0) return void this.cache.share(scored, predictions);
      // Rejected only for the trace, whose span then shows the failure; Redis counts it in metrics either way.
      const share = () => this.cache.share(scored, predictions).then((written) => written || Promise.reject(NOT_SHARED));
      return traced(trace, 'cache.write', share, () => ({ 'inference.texts': scored.length })).catch(() => {});
    });
  }

  private async withDeadline<T>(work: Promise<T>, deadline: number, onTimeout: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          onTimeout();
          reject(InferenceErrors.timeout());
        },
        Math.max(0, deadline - this.now()),
      );
    });
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const cacheCounts = (found: readonly (string | undefined)[]) => {
  const hits = found.reduce((n, value) => (value === undefined ? n : n + 1), 0);
  return { 'inference.cache.hits': hits, 'inference.cache.misses': found.length - hits };
};
const textCount = (encoded: readonly Int32Array[]) => ({ 'inference.texts': encoded.length });
const NOT_SHARED = new Error('not written to Redis: disconnected, circuit breaker open, or the write failed');
