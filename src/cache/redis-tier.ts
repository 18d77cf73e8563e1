import { performance } from 'node:perf_hooks';
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
 *
 * The circuit breaker judges Redis, not the event loop: a lookup past its budget is a miss for its request at
 * once, but it counts against Redis only if Redis had the budget on its own clock — a read sent at least the
 * budget ago still unanswered after the event loop polled for I/O (judgeLate()). On a saturated event loop a
 * lookup misses its budget waiting for its turn to be sent or for its answer to be read, while Redis answered
 * in time; before, that opened the breaker (11–30 times per bench:overload run, docs/performance.md).
 */
export class RedisTier {
  private readonly transport: RedisTransport;
  private readonly breaker: CircuitBreaker;
  /** The read last found late (when it was sent) and for how many whole budgets it was late then. */
  private lateRead = { sentAt: Number.NaN, budgets: 0 };

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
    // Let through while open: the half-open probe, whose outcome closes or reopens the breaker.
    const probe = this.breaker.isOpen;
    const read = this.transport.mget(keys, slots);
    try {
      const result = await Promise.race([read, budget]);
      if (result === 'timeout') {
        this.options.onError();
        this.judgeLate(read, probe);
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

  /**
   * A lookup that missed its budget: a failure for the breaker only if Redis was late on its own clock. Looked
   * at in a check phase (setImmediate), right after the event loop polled for I/O, so an answer that came while
   * the loop was busy has been read: answered by then is a success, a failed read a failure, and otherwise it
   * is a failure once the read it waits for (its own, or the one in flight before its turn) was sent at least
   * the budget ago. A read not sent yet, or sent less than the budget ago, is looked at again when it will have
   * had the budget; the read settles within the client's command timeout, so the judgement always comes.
   * A late read is one failure per whole budget it is late, however many lookups share it or wait behind it:
   * three in a row (three late reads, or one unanswered for three budgets) open the breaker, as three failed
   * lookups did before lookups were coalesced, and one 40 ms hiccup shared by 40 lookups does not. Judged while
   * the breaker is open, only the probe's outcome moves it: a lookup sent before it opened tells nothing of Redis
   * now. (The lookup was counted as an error when it missed its budget, whatever the judgement.)
   */
  private judgeLate(read: Promise<(string | null | undefined)[]>, probe: boolean): void {
    let answer: 'none' | 'ok' | 'failed' = 'none';
    read.then(
      (values) => {
        answer = values.includes(undefined) ? 'failed' : 'ok';
      },
      () => {
        answer = 'failed';
      },
    );
    const budgetMs = this.options.lookupTimeoutMs;
    const judge = (): void => {
      const since = this.transport.unansweredSince;
      const owedMs = since === undefined ? 0 : performance.now() - since;
      const moves = probe || !this.breaker.isOpen;
      if (answer === 'ok') {
        if (moves) this.breaker.success();
      } else if (answer === 'failed') {
        if (moves) this.breaker.failure();
      } else if (owedMs >= budgetMs) {
        const budgets = Math.floor(owedMs / budgetMs);
        const counted = this.lateRead.sentAt === since ? this.lateRead.budgets : 0;
        this.lateRead = { sentAt: since!, budgets: Math.max(budgets, counted) };
        if (!moves) return;
        // Open, this is its probe: it failed, once.
        if (this.breaker.isOpen) this.breaker.failure();
        else for (let i = counted; i < budgets; i++) this.breaker.failure();
      } else setTimeout(() => setImmediate(judge), budgetMs - owedMs).unref();
    };
    setImmediate(judge);
  }

  private fail(): void {
    this.options.onError();
    this.breaker.failure();
  }
}
