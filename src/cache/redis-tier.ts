import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CircuitBreaker } from './circuit-breaker.js';

export interface RedisTierOptions {
  readonly url: string;
  readonly ttlSeconds: number;
  /** Budget of one lookup; past it the texts count as misses. */
  readonly lookupTimeoutMs: number;
  readonly logger: Logger;
  readonly onError: () => void;
  /** A lookup not sent because Redis is disconnected or its circuit breaker is open. */
  readonly onSkip: () => void;
}

/**
 * The shared tier: one MGET per request, writes in one pipeline. It fails open: a Redis that is down, slow
 * or restarting turns lookups into misses within the budget and never fails or stalls a request.
 */
export class RedisTier {
  private readonly client: Redis;
  private readonly breaker: CircuitBreaker;

  constructor(private readonly options: RedisTierOptions) {
    const log = options.logger.child({ component: 'redis' });
    this.client = new Redis(options.url, {
      // No offline queue: while disconnected a command fails at once instead of waiting unboundedly.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      // Replies that come after the lookup budget still resolve; this bounds how long a write may hang.
      commandTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
      lazyConnect: false,
    });
    this.breaker = new CircuitBreaker(3, 500, 5_000, (state) =>
      state === 'open' ? log.warn('redis unhealthy: serving without it until it answers again') : log.info('redis healthy again'),
    );
    let wasReady = false;
    this.client.on('ready', () => {
      wasReady = true;
      log.info('redis connected');
    });
    this.client.on('end', () => log.info('redis connection closed'));
    // ioredis emits 'error' on every failed reconnect; the breaker and 'ready' already log the transitions.
    this.client.on('error', (err: Error) => {
      if (wasReady) log.warn({ err }, 'redis connection lost');
      wasReady = false;
    });
  }

  /** Connected, and not skipped by the circuit breaker: lookups go to Redis. */
  get isUp(): boolean {
    return this.client.status === 'ready' && !this.breaker.isOpen;
  }

  /** Values for `keys` in order (null = absent), or undefined when Redis was skipped or failed. */
  async getMany(keys: readonly string[]): Promise<(string | null)[] | undefined> {
    if (keys.length === 0) return undefined;
    if (this.client.status !== 'ready' || !this.breaker.allow()) {
      this.options.onSkip();
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, this.options.lookupTimeoutMs, 'timeout');
    });
    try {
      const result = await Promise.race([this.client.mget(...keys), budget]);
      if (result === 'timeout') {
        this.fail();
        return undefined;
      }
      this.breaker.success();
      return result;
    } catch {
      this.fail();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes in one pipeline, not awaited by the request. */
  setMany(keys: readonly string[], values: readonly string[]): void {
    if (keys.length === 0 || this.client.status !== 'ready' || this.breaker.isOpen) return;
    const pipeline = this.client.pipeline();
    keys.forEach((key, i) => pipeline.set(key, values[i], 'EX', this.options.ttlSeconds));
    pipeline.exec().catch(() => this.fail());
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private fail(): void {
    this.options.onError();
    this.breaker.failure();
  }
}
