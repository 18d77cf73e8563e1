import { type CacheKeyOf, fitsKey } from './cache-key.js';
import type { LruCache } from './lru.js';
import type { RedisTier } from './redis-tier.js';
import type { ValueSigner } from './value-signing.js';

export type CacheOutcome = 'memory_hit' | 'redis_hit' | 'miss';

export interface PredictionCacheOptions {
  readonly lru: LruCache;
  /** Undefined: in-process tier only. */
  readonly redis: RedisTier | undefined;
  readonly redisKey: CacheKeyOf;
  /** Whether a value read from Redis under this key is a prediction of this model (the codec's check, inference/prediction-codec.ts). */
  readonly isValid: (value: string, key: string) => boolean;
  readonly onLookup: (outcome: CacheOutcome, count: number) => void;
  /**
   * Values read from Redis that failed `isValid` or, with a signer, did not verify: counted as misses, and
   * overwritten once scored.
   */
  readonly onInvalid: (count: number) => void;
  /**
   * CACHE_SIGNING_KEYS (value-signing.ts): every value written to Redis is signed over its key and value, and a
   * value read is used only if it verifies, and then checked like any other: a leaked key must not let its holder
   * put bytes that are not a prediction into answers. Undefined: values go and come as they are.
   */
  readonly signer?: ValueSigner;
  /** Of the invalid values, those whose signature did not verify. */
  readonly onUnverified?: (count: number) => void;
}

/**
 * Predictions by input key (src/cache/cache-key.ts; a single text is its own key): the in-process LRU first (keyed by the text itself, so a hit costs no hashing), then
 * Redis for what the LRU lacks. Predictions are immutable per model id, so both tiers are always safe. The
 * in-process tier holds only predictions scored here or read from Redis and accepted: checked, or with keys
 * verified, taken out of their signed envelope, and checked.
 */
export class PredictionCache {
  constructor(private readonly options: PredictionCacheOptions) {}

  /** Cached predictions aligned with `texts` (distinct), undefined where neither tier has one. */
  async lookup(texts: readonly string[]): Promise<(string | undefined)[]> {
    const { lru, redis, isValid, onLookup, onInvalid, signer } = this.options;
    const found: (string | undefined)[] = texts.map((text) => lru.get(text));
    const missing: number[] = [];
    found.forEach((value, i) => value === undefined && missing.push(i));
    onLookup('memory_hit', texts.length - missing.length);
    if (missing.length === 0) return found;
    const missingTexts = missing.map((i) => texts[i]);
    const asked = redis && this.redisKeys(redis, missingTexts);
    const values = asked && (await redis.getMany(asked.keys, asked.slots));
    let redisHits = 0;
    let lateMemoryHits = 0;
    let invalid = 0;
    let unverified = 0;
    missing.forEach((textIndex, k) => {
      const value = values?.[k];
      if (value !== undefined && value !== null) {
        const prediction = signer ? signer.open(asked!.keys[k], value) : value;
        if (prediction === undefined) unverified++;
        else if (isValid(prediction, texts[textIndex])) {
          found[textIndex] = prediction;
          this.storeInMemory(texts[textIndex], prediction);
          redisHits++;
          return;
        }
        invalid++;
      }
      // While Redis was asked, another request may have finished scoring this text; it stored it in
      // memory when it did, so looking again keeps concurrent requests to one inference per text.
      found[textIndex] = lru.get(texts[textIndex]);
      if (found[textIndex] !== undefined) lateMemoryHits++;
    });
    onLookup('memory_hit', lateMemoryHits);
    onLookup('redis_hit', redisHits);
    onLookup('miss', missing.length - redisHits - lateMemoryHits);
    if (invalid > 0) onInvalid(invalid);
    if (unverified > 0) this.options.onUnverified?.(unverified);
    return found;
  }

  /**
   * False when some text is surely not cached, at the cost of one text: the first one the in-process tier
   * lacks is asked of Redis alone. Under overload only a fully cached request is answered, so refusing a
   * request of new texts needs neither their hashes nor a multi-get of all of them. No metrics.
   */
  async mayHaveAll(texts: readonly string[]): Promise<boolean> {
    const { lru, redis, isValid, signer } = this.options;
    const probe = texts.find((text) => lru.get(text) === undefined);
    if (probe === undefined) return true;
    if (redis === undefined) return false;
    const { keys, slots } = this.redisKeys(redis, [probe]);
    const value = (await redis.getMany(keys, slots))?.[0];
    if (value === undefined || value === null) return false;
    const prediction = signer ? signer.open(keys[0], value) : value;
    return prediction !== undefined && isValid(prediction, probe);
  }

  /** The in-process tier alone: no Redis, no metrics (a second look after other work, e.g. tokenization). */
  peek(text: string): string | undefined {
    return this.options.lru.get(text);
  }

  /** Keeps a new prediction in process, at once, so concurrent requests find it from now on. */
  storeInMemory(text: string, prediction: string): void {
    this.options.lru.set(text, prediction);
  }

  /**
   * Whether the input was once tokenized untruncated and fitted the model (truncate: false). Kept in the in-process
   * tier beside the predictions, so it shares their bounds, and with that tier off every such input is
   * tokenized again.
   */
  knownToFit(key: string): boolean {
    return this.options.lru.get(fitsKey(key)) !== undefined;
  }

  storeFits(key: string): void {
    this.options.lru.set(fitsKey(key), '');
  }

  /** Whether storeInRedis() writes anywhere: there is a Redis tier. */
  get hasRedisTier(): boolean {
    return this.options.redis !== undefined;
  }

  /** Shares new predictions with the fleet: one Redis pipeline; resolves whether it landed (for tracing). */
  async storeInRedis(texts: readonly string[], predictions: readonly string[]): Promise<boolean> {
    const { redis, signer } = this.options;
    if (redis === undefined) return false;
    const { keys, slots } = this.redisKeys(redis, texts);
    return redis.setMany(keys, signer ? keys.map((key, i) => signer.seal(key, predictions[i])) : predictions, slots);
  }

  /** The texts' Redis keys, with their cluster slots when the tier groups by slot. */
  private redisKeys(redis: RedisTier, texts: readonly string[]): { keys: string[]; slots: number[] | undefined } {
    const { redisKey } = this.options;
    if (!redis.usesSlots) return { keys: texts.map((text) => redisKey(text)), slots: undefined };
    const slots: number[] = [];
    return { keys: texts.map((text) => redisKey.withSlot(text, slots)), slots };
  }
}
