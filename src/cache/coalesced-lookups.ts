import type { EventEmitter } from 'node:events';
import type { RedisTransport } from './redis-transport.js';

type Values = (string | null | undefined)[];

interface Lookup {
  readonly keys: readonly string[];
  readonly slots: readonly number[] | undefined;
  resolve(values: Values): void;
  reject(err: unknown): void;
}

/**
 * Lookups go to Redis together: one MGET on a single server, one read per master on a cluster, for all of
 * their keys. Those asked for in the same turn of the event loop go as one; and while a read is in flight, the
 * lookups that arrive wait for it and then go as the next one, after one more poll for I/O, so that the
 * requests that came while its answers were being written join them. So the more load, the more requests
 * share each command, and a request no longer pays the client's per-command CPU (tens of µs on a VM, most of
 * it the socket's write and read in the kernel: most of a cached answer's extra cost on a cluster, where a
 * read touches every master: bench:cluster). What a lookup can wait for is bounded: one turn (setImmediate) when
 * idle, one read's round trip and two turns under load, and RedisTier's budget either way (past it the lookup is
 * served as misses). Writes pass through.
 */
export class CoalescedLookups implements RedisTransport {
  private pending: Lookup[] = [];
  private inFlight = false;

  constructor(private readonly transport: RedisTransport) {}

  get events(): EventEmitter {
    return this.transport.events;
  }

  get ready(): boolean {
    return this.transport.ready;
  }

  get usesSlots(): boolean {
    return this.transport.usesSlots;
  }

  /**
   * The read in flight, if any: lookups waiting for their turn wait for it too. Lookups not yet sent while no
   * read is in flight wait for the event loop (their flush), not for Redis.
   */
  get unansweredSince(): number | undefined {
    return this.transport.unansweredSince;
  }

  mget(keys: readonly string[], slots?: readonly number[]): Promise<Values> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0 && !this.inFlight) setImmediate(this.flush);
      this.pending.push({ keys, slots, resolve, reject });
    });
  }

  setEx(keys: readonly string[], values: readonly string[], ttlSeconds: number, slots?: readonly number[]): Promise<boolean> {
    return this.transport.setEx(keys, values, ttlSeconds, slots);
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private readonly flush = (): void => {
    const lookups = this.pending;
    this.pending = [];
    this.inFlight = true;
    const one = lookups.length === 1 ? lookups[0] : undefined;
    const keys = one ? one.keys : lookups.flatMap((lookup) => lookup.keys);
    // The slots go along only if every lookup has them; a cluster computes them otherwise.
    const slots = one ? one.slots : lookups.every((lookup) => lookup.slots) ? lookups.flatMap((lookup) => lookup.slots!) : undefined;
    this.transport.mget(keys, slots).then(
      (values) => {
        this.next();
        let at = 0;
        for (const lookup of lookups) lookup.resolve(values.slice(at, (at += lookup.keys.length)));
      },
      (err: unknown) => {
        this.next();
        for (const lookup of lookups) lookup.reject(err);
      },
    );
  };

  /** The read in flight is answered: the lookups that waited for it go together, with those of the next poll. */
  private next(): void {
    this.inFlight = false;
    // This turn's check phase, then the next: the flush follows one more poll for I/O, which reads the requests
    // that came while this read's answers were being written.
    if (this.pending.length > 0) setImmediate(() => setImmediate(this.flush));
  }
}
