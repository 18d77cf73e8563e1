import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import type { ModelInfo } from '../model-loading/model-info.js';
import { LruCache } from '../cache/lru.js';
import type { RedisTier } from '../cache/redis-tier.js';
import type { ValueSigner } from '../cache/value-signing.js';
import { createCacheKey, isRawKey } from '../cache/cache-key.js';
import { PredictionCache } from '../cache/prediction-cache.js';
import { CostModel } from '../inference/cost-model.js';
import type { ModelPool, PoolModel } from '../inference/pool.js';
import { PredictionCodec } from '../inference/prediction-codec.js';
import { Predictor } from '../inference/predictor.js';
import type { ModelScheduler, Scheduler } from '../inference/scheduler.js';
import { scoreRow } from '../inference/score-functions.js';
import { createTokenizerPool, type TokenizerPool } from '../inference/tokenizer-pool.js';
import type { ModelObserver } from '../observability/metrics.js';
import type { ModelSettings } from './model-settings.js';

export type { ModelObserver } from '../observability/metrics.js';

/** What every model of the process shares: the threads, their dispatcher, Redis and the server's settings. */
export interface SharedParts {
  readonly config: Config;
  readonly pool: ModelPool;
  readonly scheduler: Scheduler;
  readonly redis: RedisTier | undefined;
  readonly signer: ValueSigner | undefined;
  readonly cachePrefix: string;
  /** The observer of the model called `name` (its metrics series carry the name). */
  readonly observerOf: (name: string) => ModelObserver;
}

/** One model as every protocol serves it: its name, its identity and the path its requests take. */
export interface ServedModel {
  /** Its name on every route (the repository directory's name). */
  readonly name: string;
  /** Its version: the model id (hash of what shapes a prediction), so a changed directory is a new version. */
  readonly version: string;
  readonly info: ModelInfo;
  /** Its own settings (model-settings.json) over the server's. */
  readonly limits: ModelLimits;
  readonly predictor: Predictor;
  /** Its queue, admission and cost model (metrics, tests). */
  readonly scheduler: ModelScheduler;
  /** The model as the worker threads run it. */
  readonly worker: PoolModel;
  /** Its metrics (series with its `model` label), for what is counted outside its predictor: the response memo's answers. */
  readonly observer: ModelObserver;
  /** Its in-process cache tier's entries and bytes (the metrics add them up). */
  memoryTier(): { entries: number; bytes: number };
}

/** The serving settings of one model: the server's, overridden by the model's model-settings.json. */
export interface ModelLimits {
  readonly maxBatchSize: number;
  readonly maxBatchTokens: number;
  readonly maxQueueTokens: number;
  readonly maxQueueDelayMs: number;
}

/** A served model and what it holds of its own (the tokenizer threads), released when it leaves. */
export interface ModelParts {
  readonly served: ServedModel;
  close(): Promise<void>;
}

/** The key of a model's sessions and its dispatcher lane: a name's two versions, during a reload, are two keys. */
export function modelKey(name: string, info: Pick<ModelInfo, 'id'>): string {
  return `${name}@${info.id}`;
}

/** The model as the worker threads run it. */
export function poolModelOf(name: string, info: ModelInfo): PoolModel {
  return {
    worker: {
      key: modelKey(name, info),
      modelPath: info.onnxPath,
      modelBytes: info.rewrite?.bytes,
      padId: info.padId,
      typeId: info.typeId,
      maxTokens: info.maxTokens,
    },
    numLabels: info.labels.length,
  };
}

/**
 * Builds a model's own parts (tokenizer threads, codec, cost model, queue and admission in the shared dispatcher,
 * cache tiers under its id, predictor); its sessions are the pool's, loaded before (ModelPool.ready or addModel).
 */
export function createServedModel(name: string, info: ModelInfo, settings: ModelSettings, shared: SharedParts): ModelParts {
  const { config } = shared;
  const observer = shared.observerOf(name);
  const limits: ModelLimits = {
    maxBatchSize: settings.maxBatchSize ?? config.maxBatchSize,
    maxBatchTokens: settings.maxBatchTokens ?? config.maxBatchTokens,
    maxQueueTokens: settings.maxQueueTokens ?? config.maxQueueTokens,
    maxQueueDelayMs: Math.min(settings.maxQueueDelayMs ?? config.maxQueueDelayMs, config.requestTimeoutMs),
  };
  const worker = poolModelOf(name, info);
  const tokenizer: TokenizerPool = createTokenizerPool({
    threads: config.tokenizerThreads,
    tokenizerPath: info.tokenizerPath,
    maxTokens: info.maxTokens,
    onTokenize: (ms) => observer.onTokenize(ms),
  });
  const codec = new PredictionCodec(info.labels);
  const numLabels = info.labels.length;
  // A prior until the warm-up's timed runs calibrate it (no request reaches the model before).
  const costModel = CostModel.of([2, 0.1, 0.0005]);
  const scheduler = shared.scheduler.add(
    worker.worker.key,
    {
      maxQueueTokens: limits.maxQueueTokens,
      maxQueueDelayMs: limits.maxQueueDelayMs,
      typicalBatchRows: Math.min(16, limits.maxBatchSize),
      maxBatchSize: limits.maxBatchSize,
      maxBatchTokens: limits.maxBatchTokens,
    },
    costModel,
    (rows, slot, session) => shared.pool.run(slot, worker.worker, rows, session),
    (logits, row) => codec.scored(scoreRow(info.scoreFunction, logits, row, numLabels)),
    observer,
  );
  // Each model its own in-process tier, keyed by the text alone (a hit costs no hashing), so the bounds are per model.
  const lru = new LruCache(config.cacheLruEntries, config.cacheLruBytes);
  const cache = new PredictionCache({
    lru,
    redis: shared.redis,
    redisKey: createCacheKey(shared.cachePrefix, info.id),
    // Scores and raw scores (TEI's raw_scores) are checked each by their own rule.
    isValid: (value, key) => codec.check(value, isRawKey(key)),
    onLookup: (outcome, count) => observer.cacheLookup(outcome, count),
    onInvalid: (count) => observer.redisInvalid(count),
    signer: shared.signer,
    onUnverified: (count) => observer.redisUnverified(count),
  });
  const predictor = new Predictor(cache, tokenizer, scheduler.admission, () => performance.now(), codec, name);
  return {
    served: {
      name,
      version: info.id,
      info,
      limits,
      predictor,
      scheduler,
      worker,
      observer,
      memoryTier: () => ({ entries: lru.size, bytes: lru.sizeBytes }),
    },
    close: () => tokenizer.close(),
  };
}
