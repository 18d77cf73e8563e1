import { Errors } from '../errors.js';
import type { PredictionCache } from '../cache/prediction-cache.js';
import type { Batcher } from './batcher.js';

export type CacheHeader = 'hit' | 'miss' | 'partial';

export interface Prediction {
  /** The finished response body. */
  readonly body: string;
  readonly cache: CacheHeader;
  /** Longest wait of this request's texts for a thread, ms (0 when all were cached). */
  readonly queueMs: number;
  /** Longest model run among this request's batches, ms. */
  readonly inferenceMs: number;
}

/** What the HTTP edge lends the predictor: a deadline and a way to hear that the client left. */
export interface RequestScope {
  readonly deadline: number;
  onAbort(listener: () => void): void;
}

/**
 * The path of one request: distinct texts -> cache -> admission -> batcher -> cache write-back -> body.
 * Texts the cache has never reach the model; repeated texts in one request are scored once.
 */
export class Predictor {
  constructor(
    private readonly cache: PredictionCache,
    private readonly batcher: Batcher,
    private readonly now: () => number,
  ) {}

  async predict(texts: readonly string[], scope: RequestScope): Promise<Prediction> {
    const distinct = [...new Set(texts)];
    const cached = await this.cache.lookup(distinct);
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
      const ticket = this.batcher.submit(missing);
      scope.onAbort(ticket.cancel);
      const results = await this.withDeadline(Promise.all(ticket.results), scope.deadline, ticket.cancel);
      results.forEach((result, i) => {
        byText.set(missing[i], result.prediction);
        queueMs = Math.max(queueMs, result.queueMs);
        inferenceMs = Math.max(inferenceMs, result.inferenceMs);
      });
      this.cache.store(missing, results.map((r) => r.prediction));
    }
    let body = '{"predictions":[';
    for (let i = 0; i < texts.length; i++) body += (i === 0 ? '' : ',') + byText.get(texts[i]);
    body += ']}';
    const cache: CacheHeader = missing.length === 0 ? 'hit' : missing.length === distinct.length ? 'miss' : 'partial';
    return { body, cache, queueMs, inferenceMs };
  }

  private async withDeadline<T>(work: Promise<T>, deadline: number, onTimeout: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(Errors.Timeout());
      }, Math.max(0, deadline - this.now()));
    });
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
