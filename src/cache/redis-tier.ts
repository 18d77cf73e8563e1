import type { Logger } from 'pino';
import { CircuitBreaker } from './circuit-breaker.js';
import type { RedisTransport } from './redis-transport.js';

export interface RedisTierOptions {
  /** One server or a cluster (redis-transport.ts, redis-cluster.ts). */
  readonly transport: RedisTransport;
  readonly ttlSeconds: number;
  /** Budget of one lookup; past it the texts count as misses. */
  readonly lookupTimeoutMs: number;
  readonly logger: Logger;
  readonly onError: () => void;
  /** A lookup not sent because Redis is disconnected or its circuit breaker is open. */
  readonly onSkip: () => void;
}

/**
 * The shared tier: one round trip per Redis node a request touches (one MGET on a single server), writes
 * pipelined. It fails open: a Redis that is down, slow, restarting or failing over turns lookups into misses
 * within the budget and never fails or stalls a request.
 */
export class RedisTier {
  private readonly transport: RedisTransport;
  private readonly breaker: CircuitBreaker;

  constructor(private readonly options: RedisTierOptions) {
    const log = options.logger.child({ component: 'redis' });
    this.transport = options.transport;
    this.breaker = new CircuitBreaker(3, 500, 5_000, (state) =>
      state === 'open' ? log.warn('redis unhealthy: serving without it until it answers again') : log.info('redis healthy again'),
    );
    let wasReady = false;
    const events = this.transport.events;
    events.on('ready', () => {
      wasReady = true;
      log.info('redis connected');
    });
    events.on('end', () => log.info('redis connection closed'));
    // ioredis emits 'error' on every failed reconnect; the breaker and 'ready' already log the transitions.
    events.on('error', (err: Error) => {
      if (wasReady) log.warn({ err }, 'redis connection lost');
      wasReady = false;
    });
  }

  /** Whether keys should come with their cluster slots (cache-key.ts), which a cluster then need not compute. */
  get usesSlots(): boolean {
    return this.transport.usesSlots;
  }

  /** Connected, and not skipped by the circuit breaker: lookups go to Redis. */
  get isUp(): boolean {
    return this.transport.ready && !this.breaker.isOpen;
  }

  /**
   * Values for `keys` in order (null = absent, undefined = its node failed), or undefined when Redis was
   * skipped or failed as a whole.
   */
  async getMany(keys: readonly string[], slots?: readonly number[]): Promise<(string | null | undefined)[] | undefined> {
    if (keys.length === 0) return undefined;
    if (!this.transport.ready || !this.breaker.allow()) {
      this.options.onSkip();
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, this.options.lookupTimeoutMs, 'timeout');
    });
    try {
      const result = await Promise.race([this.transport.mget(keys, slots), budget]);
      if (result === 'timeout') {
        this.fail();
        return undefined;
      }
      if (result.includes(undefined)) this.fail();
      else this.breaker.success();
      return result;
    } catch {
      this.fail();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes pipelined, not awaited by the request; resolves whether they landed (false: skipped or failed), never rejects. */
  async setMany(keys: readonly string[], values: readonly string[], slots?: readonly number[]): Promise<boolean> {
    if (keys.length === 0 || !this.transport.ready || this.breaker.isOpen) return false;
    const landed = await this.transport.setEx(keys, values, this.options.ttlSeconds, slots).catch(() => false);
    if (!landed) this.fail();
    return landed;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private fail(): void {
    this.options.onError();
    this.breaker.failure();
  }
}
