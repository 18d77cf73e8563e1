import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * How RedisTier reaches its keys: one server (SingleRedis) or a Redis Cluster (redis-cluster.ts). The tier
 * adds the lookup budget, the circuit breaker and fail-open on top, the same for both.
 */
export interface RedisTransport {
  /** Emits 'ready', 'end' and 'error' as ioredis clients do; the tier logs the transitions. */
  readonly events: EventEmitter;
  /** Connected and able to take commands now. */
  readonly ready: boolean;
  /** Whether it groups keys by Redis Cluster slot: then callers that know the keys' slots pass them along. */
  readonly usesSlots: boolean;
  /**
   * Values of `keys` in order: null where absent, undefined where the node holding the key failed. `slots`,
   * when given, are the keys' cluster slots (cache-key.ts), which a cluster then need not compute.
   */
  mget(keys: readonly string[], slots?: readonly number[]): Promise<(string | null | undefined)[]>;
  /**
   * performance.now() when the oldest read still unanswered was sent (its command written to the socket);
   * undefined when every read sent has its answer. How long Redis has owed an answer, on Redis's clock: a
   * lookup that waited for the event loop, not for Redis, does not show in it (RedisTier's breaker reads it).
   */
  readonly unansweredSince: number | undefined;
  /** Writes with a TTL; resolves false when some of them failed. `slots` as for mget. */
  setEx(keys: readonly string[], values: readonly string[], ttlSeconds: number, slots?: readonly number[]): Promise<boolean>;
  close(): Promise<void>;
}

/** Client settings of every connection, to one server or to each cluster node. */
export const CONNECTION_OPTIONS = {
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  // Replies that come after the lookup budget still resolve; this bounds how long a write may hang.
  commandTimeout: 2_000,
} satisfies RedisOptions;

/** A backoff that keeps retrying, up to every 2 s: Redis coming back must be noticed without a restart. */
export const reconnectDelay = (attempt: number): number => Math.min(100 * 2 ** attempt, 2_000);

/** Whether a pipeline ran and none of its commands failed. */
export const allSucceeded = (results: [Error | null, unknown][] | null): boolean => results?.every(([err]) => err === null) === true;

/**
 * The reads a transport has sent and not yet had answered, by when each was sent (unansweredSince). ioredis
 * writes a command to the socket in the call that sends it, while connected (there is no offline queue).
 */
export class UnansweredReads {
  private readonly sentAt = new Set<{ readonly at: number }>();

  /** `read` was sent just now; it counts until it settles. */
  track<T>(read: Promise<T>): Promise<T> {
    const entry = { at: performance.now() };
    this.sentAt.add(entry);
    const settled = (): void => {
      this.sentAt.delete(entry);
    };
    read.then(settled, settled);
    return read;
  }

  get since(): number | undefined {
    // A Set iterates in insertion order, and reads are added as they are sent: the first is the oldest.
    return this.sentAt.values().next().value?.at;
  }
}

/** One server: one MGET per lookup, writes in one pipeline. */
export class SingleRedis implements RedisTransport {
  private readonly client: Redis;
  private readonly reads = new UnansweredReads();

  constructor(url: string, auth: { username?: string; password?: string }) {
    this.client = new Redis(url, {
      ...CONNECTION_OPTIONS,
      // REDIS_USERNAME/REDIS_PASSWORD (e.g. from a secret); ioredis lets credentials in the URL win.
      username: auth.username,
      password: auth.password,
      // No offline queue: while disconnected a command fails at once instead of waiting unboundedly.
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
      lazyConnect: false,
    });
  }

  get events(): EventEmitter {
    return this.client;
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  get usesSlots(): boolean {
    return false;
  }

  mget(keys: readonly string[]): Promise<(string | null)[]> {
    return this.reads.track(this.client.mget(...keys));
  }

  get unansweredSince(): number | undefined {
    return this.reads.since;
  }

  async setEx(keys: readonly string[], values: readonly string[], ttlSeconds: number): Promise<boolean> {
    const pipeline = this.client.pipeline();
    keys.forEach((key, i) => pipeline.set(key, values[i], 'EX', ttlSeconds));
    return allSucceeded(await pipeline.exec());
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
