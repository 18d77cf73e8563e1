import { inputKey, rawKey, type TextInput } from '../cache/cache-key.js';
import type { PredictionCache } from '../cache/prediction-cache.js';
import { type RequestTrace, traced } from '../observability/tracing.js';
import type { Tokenized, Tokens } from '../../workers/protocol.js';
import { InferenceErrors } from './errors.js';
import type { PredictionCodec } from './prediction-codec.js';
import type { Scores } from './scores.js';
import type { Admission } from './admission.js';
import type { TextResult } from './queue.js';
import type { TokenizerPool } from './tokenizer-pool.js';

export type CacheHeader = 'hit' | 'miss' | 'partial';

export interface Prediction {
  /** Each input's scores, in input order (each protocol's edge makes its JSON of them). */
  readonly predictions: readonly Scores[];
  readonly cache: CacheHeader;
  /** Distinct inputs of the request (what the response memo counts as in-memory hits when it answers it again). */
  readonly distinctInputs: number;
  /** Longest wait of this request's texts for a thread, ms (0 when all were cached). */
  readonly queueMs: number;
  /** Longest model run (in the worker) among this request's batches, ms. */
  readonly inferenceMs: number;
}

export interface PredictOptions {
  /** TEI's raw_scores: the model's logits instead of its scores. */
  readonly raw?: boolean;
  /** TEI's truncate (default true here, as bulk-predict always truncates): false refuses inputs past the limit. */
  readonly truncate?: boolean;
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
  /** Requests with texts on their way to the model (run()), and who waits for them to end (close()). */
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private closedWith: Error | undefined;

  constructor(
    private readonly cache: PredictionCache,
    private readonly tokenizer: TokenizerPool,
    /** Where new texts enter the queue, or are refused (admission.ts). */
    private readonly admission: Admission,
    private readonly now: () => number,
    /** The cache's form of a prediction: cached values in, new ones (and raw scores) out. */
    private readonly codec: PredictionCodec,
    /** The name of the model it serves, on the request span of every route that runs it. */
    private readonly modelName: string,
  ) {}

  /**
   * Each input's prediction: a text, or a pair (text, text_pair) through the tokenizer's pair template. `raw`
   * answers (and caches, under their own keys) the logits instead of the scores; `truncate: false` refuses an
   * input past the model's limit (too_long) instead of cutting it, which needs every input's length, so then
   * cached inputs are tokenized too (as TEI tokenizes every input), unless the in-process tier knows they fit.
   */
  async predict(inputs: readonly TextInput[], scope: RequestScope, options: PredictOptions = {}): Promise<Prediction> {
    const raw = options.raw === true;
    scope.trace?.model(this.modelName);
    // A plain text is its own key: bulk-predict's texts go through as they came.
    const keys = inputs.map(inputKey);
    const cacheKeys = raw ? keys.map(rawKey) : keys;
    const inputOf = new Map<string, TextInput>();
    cacheKeys.forEach((key, i) => inputOf.has(key) || inputOf.set(key, inputs[i]));
    const distinct = [...inputOf.keys()];
    if (this.admission.full && !(await this.cache.mayHaveAll(distinct))) throw this.admission.refusal();
    const cached = await traced(scope.trace, 'cache.lookup', () => this.cache.lookup(distinct), cacheCounts);
    const untruncated =
      options.truncate === false
        ? await this.tokenizeUntruncated(
            distinct.filter((key, i) => cached[i] === undefined || !this.cache.knownToFit(key)),
            inputOf,
            scope,
          )
        : undefined;
    const byText = new Map<string, Scores>();
    const missing: string[] = [];
    distinct.forEach((text, i) => {
      const hit = cached[i];
      if (hit === undefined) missing.push(text);
      else byText.set(text, this.codec.stored(hit));
    });
    let queueMs = 0;
    let inferenceMs = 0;
    if (missing.length > 0) {
      const run = await this.run(missing, inputOf, scope, { cachedMeanwhile: byText, untruncated, raw });
      run.results.forEach((result, i) => byText.set(run.keys[i], result.prediction));
      ({ queueMs, inferenceMs } = run);
    }
    const predictions = cacheKeys.map((text) => byText.get(text)!);
    const cache: CacheHeader = missing.length === 0 ? 'hit' : missing.length === distinct.length ? 'miss' : 'partial';
    return { predictions, cache, distinctInputs: distinct.length, queueMs, inferenceMs };
  }

  /**
   * Each text's row of logits, for a score function other than the model's: the cache holds scores, which
   * (for softmax) do not give the logits back, so every text runs the model (single flight with concurrent
   * requests still holds). What the runs score is cached as usual, for the model's own function.
   */
  async logits(texts: readonly string[], scope: RequestScope): Promise<Prediction & { readonly logits: readonly Float32Array[] }> {
    const inputOf = new Map<string, TextInput>();
    for (const text of texts) inputOf.set(inputKey(text), text);
    const run = await this.run([...inputOf.keys()], inputOf, scope, {});
    const byKey = new Map(run.keys.map((key, i) => [key, run.results[i]!]));
    const results = texts.map((text) => byKey.get(inputKey(text))!);
    return {
      predictions: results.map((r) => r.prediction),
      logits: results.map((r) => r.logits),
      cache: 'miss',
      distinctInputs: inputOf.size,
      queueMs: run.queueMs,
      inferenceMs: run.inferenceMs,
    };
  }

  /**
   * No more texts go to the model: a request that has any to run from now on is refused with `error`. Resolves
   * once the requests that had texts on the way (tokenizing, queued or running) have their answers: then nothing
   * of this predictor is left in the queue (a model being unloaded, src/model-repository).
   */
  close(error: Error): Promise<void> {
    this.closedWith = error;
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** runMissing, counted, so close() knows when the last request with texts for the model has been answered. */
  private async run(...args: Parameters<Predictor['runMissing']>): ReturnType<Predictor['runMissing']> {
    if (this.closedWith) throw this.closedWith;
    this.running++;
    try {
      return await this.runMissing(...args);
    } finally {
      if (--this.running === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
    }
  }

  /**
   * Tokenizes (unless `untruncated` has the tokens already), admits and scores the inputs of `missing` (cache keys).
   * With `cachedMeanwhile`, an input another request finished scoring while these were tokenized is taken from the cache
   * into `cachedMeanwhile` instead of running again. With `raw`, the keys are raw keys and the predictions raw scores.
   */
  private async runMissing(
    missing: readonly string[],
    inputOf: ReadonlyMap<string, TextInput>,
    scope: RequestScope,
    {
      cachedMeanwhile,
      untruncated,
      raw = false,
    }: { cachedMeanwhile?: Map<string, Scores>; untruncated?: ReadonlyMap<string, Tokenized>; raw?: boolean },
  ): Promise<{ keys: string[]; results: TextResult[]; queueMs: number; inferenceMs: number }> {
    // Admission before the texts cost a tokenization (at their expected length), then exactly in submit();
    // cached texts never need admission.
    if (this.admission.full) throw this.admission.refusal();
    let encoded: readonly Tokens[];
    if (untruncated) encoded = missing.map((key) => untruncated.get(key)!);
    else {
      const reservation = this.admission.reserve(missing.length, scope.deadline);
      try {
        const encoding = traced(scope.trace, 'tokenize', () => this.tokenizer.encode(missing.map((key) => inputOf.get(key)!)), textCount);
        encoded = await this.withDeadline(encoding, scope.deadline, () => {});
      } finally {
        reservation.release();
      }
    }
    // While the texts were tokenized, another request may have finished scoring some of them; it stored them
    // in memory when it did, so looking again keeps concurrent requests to one inference per text.
    const toRun: string[] = [];
    const tokens: (Int32Array | Tokens)[] = [];
    missing.forEach((key, i) => {
      const cached = cachedMeanwhile && this.cache.peek(key);
      if (cached !== undefined) cachedMeanwhile!.set(key, this.codec.stored(cached));
      else {
        toRun.push(key);
        // A single text's ids alone: the queue's and the batch's shape for the common case.
        tokens.push(encoded[i].typeIds ? encoded[i] : encoded[i].ids);
      }
    });
    const submittedAt = this.now();
    // Scores and raw scores of one input are one model run: the queue's single flight is by input.
    const ticket = this.admission.enqueue(raw ? toRun.map((key) => key.slice(2)) : toRun, tokens, scope.deadline);
    scope.onAbort(ticket.cancel);
    const outputs = raw
      ? ticket.results.map((result) => result.then((r) => ({ ...r, prediction: this.codec.scored(Float64Array.from(r.logits)) })))
      : ticket.results;
    this.cacheAsScored(toRun, outputs, scope.trace);
    let results: TextResult[];
    try {
      results = await this.withDeadline(Promise.all(outputs), scope.deadline, ticket.cancel);
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
    return { keys: toRun, results, queueMs, inferenceMs };
  }

  /**
   * truncate: false: the inputs of `keys` (every new one, and the cached ones not known to fit) tokenized untruncated,
   * and refused if one is past the model's limit, before anything is queued. No admission here: a request whose
   * inputs are all cached needs none, and the new ones are admitted at their exact cost in submit().
   */
  private async tokenizeUntruncated(
    keys: readonly string[],
    inputOf: ReadonlyMap<string, TextInput>,
    scope: RequestScope,
  ): Promise<Map<string, Tokenized>> {
    if (keys.length === 0) return new Map();
    const tokenized = await this.withDeadline(
      this.tokenizer.encode(
        keys.map((key) => inputOf.get(key)!),
        true,
      ),
      scope.deadline,
      () => {},
    );
    const tooLong = tokenized.find((t) => (t.length ?? 0) > this.tokenizer.maxTokens);
    if (tooLong) throw InferenceErrors.tooLong(tooLong.length!, this.tokenizer.maxTokens);
    for (const key of keys) this.cache.storeFits(key);
    return new Map(keys.map((key, i) => [key, tokenized[i]]));
  }

  /**
   * Caches each text as soon as its batch finishes, whether or not this request is still waiting for it: in
   * memory at once (a request waiting on another batch must not leave a window in which a new request runs
   * the text again), and in Redis in one pipeline once all of them have settled.
   */
  private cacheAsScored(
    texts: readonly string[],
    results: readonly Promise<{ readonly prediction: Scores }>[],
    trace: RequestTrace | undefined,
  ): void {
    const scored: string[] = [];
    const predictions: string[] = [];
    const settled = results.map((result, i) =>
      result.then(
        ({ prediction }) => {
          this.cache.storeInMemory(texts[i], prediction.encoded);
          scored.push(texts[i]);
          predictions.push(prediction.encoded);
        },
        () => {},
      ),
    );
    void Promise.all(settled).then(() => {
      if (!trace || !this.cache.hasRedisTier || scored.length === 0) return void this.cache.storeInRedis(scored, predictions);
      // Rejected only for the trace, whose span then shows the failure; Redis counts it in metrics either way.
      const store = () => this.cache.storeInRedis(scored, predictions).then((written) => written || Promise.reject(NOT_SHARED));
      return traced(trace, 'cache.write', store, () => ({ 'inference.texts': scored.length })).catch(() => {});
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
const textCount = (encoded: readonly unknown[]) => ({ 'inference.texts': encoded.length });
const NOT_SHARED = new Error('not written to Redis: disconnected, circuit breaker open, or the write failed');
