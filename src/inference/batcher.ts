import { performance } from 'node:perf_hooks';
import { Errors, HttpError } from '../errors.js';
import type { BatchOutcome, BatchResult } from '../../workers/protocol.js';

export interface BatcherOptions {
  /** Batches that may run at once: one per worker thread. */
  readonly concurrency: number;
  readonly maxBatchSize: number;
  /** Hard budget of padded tokens (texts x longest, from exact lengths) per batch. */
  readonly maxBatchTokens: number;
  /** Tokens that may wait; past it submit() refuses. */
  readonly maxQueueTokens: number;
}

/** What the batcher reports per batch (metrics). */
export interface BatchObserver {
  onBatch(size: number, paddedTokens: number, inferenceMs: number): void;
  onQueueWait(ms: number): void;
  onWorkerFailure(): void;
}

/** A text's finished prediction and where its time went. */
export interface TextResult {
  readonly prediction: string;
  readonly queueMs: number;
  readonly inferenceMs: number;
}

/** A request's share of the queue: one promise per submitted text, and a way to withdraw them. */
export interface Ticket {
  readonly results: readonly Promise<TextResult>[];
  /** Withdraws the texts that no other request waits for and that have not started. Idempotent. */
  cancel(): void;
}

type EntryState = 'queued' | 'running' | 'dropped' | 'done';

interface Entry {
  readonly text: string;
  /** The text's token ids (special tokens included): its exact cost. */
  readonly ids: Int32Array;
  readonly enqueuedAt: number;
  startedAt: number;
  state: EntryState;
  /** Requests waiting for this text (single flight). */
  waiters: number;
  readonly promise: Promise<TextResult>;
  resolve(result: TextResult): void;
  reject(err: Error): void;
}

/**
 * Dynamic batching in front of the worker pool, like text-embeddings-inference's queue: when a thread is
 * free it takes what is queued at once (no fixed wait while threads idle); while all are busy the queue
 * grows into larger batches. Concurrent requests for the same text share one entry (single flight).
 */
export class Batcher {
  private queue: Entry[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly pending = new Map<string, Entry>();
  private queuedTexts = 0;
  private queuedTokens = 0;
  private runningBatches = 0;
  /** Counters the tests and metrics read. */
  readonly stats = { modelRuns: 0, textsRun: 0 };

  constructor(
    private readonly runBatch: (rows: readonly Int32Array[]) => Promise<BatchOutcome>,
    private readonly format: (logits: Float32Array, row: number) => string,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver,
  ) {}

  /** Texts waiting for a thread. */
  get queueLength(): number {
    return this.queuedTexts;
  }

  /** Tokens of the texts waiting for a thread. */
  get queueTokens(): number {
    return this.queuedTokens;
  }

  /** True when no new text can be admitted: callers refuse before spending work on the request. */
  get full(): boolean {
    return this.queuedTokens >= this.options.maxQueueTokens;
  }

  /** Batches running now (busy threads). */
  get busyWorkers(): number {
    return this.runningBatches;
  }

  /** Resolves when no batch is running (queued texts of requests still waiting are not counted). */
  whenIdle(): Promise<void> {
    return this.runningBatches === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Queues a request's texts with their token ids, all or none: throws the 503 Overloaded error at once when
   * their tokens would not fit the queue, instead of letting the request wait behind an unbounded queue.
   */
  submit(texts: readonly string[], ids: readonly Int32Array[]): Ticket {
    let fresh = 0;
    texts.forEach((text, i) => {
      if (!this.pending.has(text)) fresh += ids[i].length;
    });
    if (this.queuedTokens + fresh > this.options.maxQueueTokens) throw Errors.Overloaded();
    const entries = texts.map((text, i) => this.join(text, ids[i]));
    this.dispatch();
    let cancelled = false;
    return {
      results: entries.map((e) => e.promise),
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        for (const entry of entries) this.leave(entry);
      },
    };
  }

  private join(text: string, ids: Int32Array): Entry {
    const existing = this.pending.get(text);
    if (existing) {
      existing.waiters++;
      return existing;
    }
    let resolve!: (r: TextResult) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<TextResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A withdrawn entry may still be rejected by a failing batch after every waiter left.
    promise.catch(() => {});
    const entry: Entry = { text, ids, enqueuedAt: performance.now(), startedAt: 0, state: 'queued', waiters: 1, promise, resolve, reject };
    this.pending.set(text, entry);
    this.queue.push(entry);
    this.queuedTexts++;
    this.queuedTokens += ids.length;
    return entry;
  }

  private leave(entry: Entry): void {
    if (entry.state !== 'queued' || --entry.waiters > 0) return;
    // Running entries are left to finish: a thread cannot be stopped inside ONNX Runtime's synchronous run
    // without aborting the whole process, and the predictor caches the result all the same.
    entry.state = 'dropped';
    this.queuedTexts--;
    this.queuedTokens -= entry.ids.length;
    this.pending.delete(entry.text);
    entry.reject(Errors.Timeout());
  }

  private dispatch(): void {
    // A thread takes its share of the queue, not all of it: otherwise the thread that frees up first takes
    // every waiting text into one long batch while the other threads run tiny ones, and the requests in the
    // long batch wait for all of it. Under saturation the share reaches maxBatchSize anyway.
    const share = Math.ceil(this.queuedTexts / this.options.concurrency);
    while (this.runningBatches < this.options.concurrency && this.queuedTexts > 0) {
      const batch = this.takeBatch(share);
      this.runningBatches++;
      void this.execute(batch).finally(() => {
        this.runningBatches--;
        this.dispatch();
        if (this.runningBatches === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      });
    }
  }

  /**
   * The oldest waiting text always goes first (no starvation); the rest of the batch is filled from a window
   * of the queue with the texts nearest its length, within the size and padded-token budgets and the share
   * of the queue this thread should take.
   */
  private takeBatch(share: number): Entry[] {
    const { maxBatchTokens } = this.options;
    const maxBatchSize = Math.min(this.options.maxBatchSize, share);
    const window: Entry[] = [];
    for (const entry of this.queue) {
      if (entry.state !== 'queued') continue;
      window.push(entry);
      if (window.length >= this.options.maxBatchSize * 4) break;
    }
    const [head, ...rest] = window;
    rest.sort((a, b) => Math.abs(a.ids.length - head.ids.length) - Math.abs(b.ids.length - head.ids.length));
    const batch = [head];
    let longest = head.ids.length;
    for (const entry of rest) {
      if (batch.length >= maxBatchSize) break;
      const newLongest = Math.max(longest, entry.ids.length);
      if ((batch.length + 1) * newLongest > maxBatchTokens) continue;
      batch.push(entry);
      longest = newLongest;
    }
    const started = performance.now();
    for (const entry of batch) {
      entry.state = 'running';
      entry.startedAt = started;
      this.observer.onQueueWait(started - entry.enqueuedAt);
    }
    this.queuedTexts -= batch.length;
    for (const entry of batch) this.queuedTokens -= entry.ids.length;
    this.queue = this.queue.filter((e) => e.state === 'queued');
    return batch;
  }

  /** Runs a batch and settles its entries; never throws. */
  private async execute(batch: Entry[]): Promise<void> {
    const started = performance.now();
    let outcome: BatchOutcome;
    try {
      outcome = await this.runBatch(batch.map((e) => e.ids));
    } catch {
      // The thread died (piscina replaces it). Retrying could kill the next thread with the same input.
      this.observer.onWorkerFailure();
      this.settle(batch, Errors.InferenceFailed());
      return;
    }
    if ('error' in outcome) {
      // A healthy thread threw (e.g. a text the tokenizer rejects): run the halves apart so only the
      // request that sent the bad text fails.
      if (batch.length === 1) {
        this.observer.onWorkerFailure();
        this.settle(batch, Errors.InferenceFailed());
        return;
      }
      const middle = Math.ceil(batch.length / 2);
      await this.execute(batch.slice(0, middle));
      await this.execute(batch.slice(middle));
      return;
    }
    this.record(batch, outcome, performance.now() - started);
  }

  private record(batch: Entry[], result: BatchResult, batchMs: number): void {
    this.stats.modelRuns++;
    this.stats.textsRun += batch.length;
    this.observer.onBatch(batch.length, result.paddedTokens, result.inferenceMs);
    batch.forEach((entry, row) => {
      this.finish(entry);
      entry.resolve({ prediction: this.format(result.logits, row), queueMs: entry.startedAt - entry.enqueuedAt, inferenceMs: batchMs });
    });
  }

  private settle(batch: Entry[], error: HttpError): void {
    for (const entry of batch) {
      this.finish(entry);
      entry.reject(error);
    }
  }

  private finish(entry: Entry): void {
    entry.state = 'done';
    if (this.pending.get(entry.text) === entry) this.pending.delete(entry.text);
  }
}
