import { performance } from 'node:perf_hooks';
import { chooseBatch } from './batch-policy.js';
import { InferenceErrors, type InferenceError } from './errors.js';
import type { CostModel } from './cost-model.js';
import type { Entry, InferenceQueue } from './queue.js';
import type { ThreadLayout } from './thread-layout.js';
import type { Scores } from './scores.js';
import type { BatchOutcome, BatchResult, SessionShape, Tokens } from '../../workers/protocol.js';

export interface DispatcherOptions {
  readonly maxBatchSize: number;
  /** Hard limit on padded tokens (rows x longest) per batch. */
  readonly maxBatchTokens: number;
}

/** What the dispatcher reports per batch (metrics). */
export interface BatchObserver {
  onBatch(size: number, paddedTokens: number, inferenceMs: number): void;
  onQueueWait(ms: number): void;
}

/** Runs one batch on thread `slot`, on a session of this shape (ModelPool.run). */
export type RunBatch = (rows: readonly (Int32Array | Tokens)[], slot: number, session: SessionShape) => Promise<BatchOutcome>;

/**
 * Runs batches on the worker threads: when a thread that the layout serves with is free it asks the batch policy
 * what to run from the queue (no fixed wait while threads idle; while all are busy the queue grows), runs it,
 * settles its texts, feeds the measured run time back to the cost model, and splits a batch that failed in a
 * healthy thread. After each round it tells the layout what it left waiting (ThreadLayout.observe).
 */
export class Dispatcher {
  /** Predicted end (performance.now()) of each running batch. */
  private readonly runningUntil = new Set<{ until: number }>();
  private idleWaiters: (() => void)[] = [];
  /** Counters the tests and metrics read. */
  readonly stats = { modelRuns: 0, textsRun: 0 };

  constructor(
    private readonly queue: InferenceQueue,
    private readonly runBatch: RunBatch,
    /** A row of the batch's logits as that text's scores, by the model's function. */
    private readonly score: (logits: Float32Array, row: number) => Scores,
    private readonly costModel: CostModel,
    private readonly options: DispatcherOptions,
    private readonly observer: BatchObserver,
    private readonly layout: ThreadLayout,
  ) {}

  /** Texts were queued: an arrival the layout counts, and batches for the free threads. */
  queued(): void {
    this.layout.arrived(this.layout.full);
    this.dispatch();
  }

  /** Predicted ms still to run of the batches running now (admission adds it to the queue's drain time). */
  runningMs(): number {
    const now = performance.now();
    let ms = 0;
    for (const r of this.runningUntil) ms += Math.max(0, r.until - now);
    return ms;
  }

  /** Batches running now (busy threads). */
  get busyWorkers(): number {
    return this.layout.running;
  }

  /** Resolves when no batch is running (queued texts of requests still waiting are not counted). */
  whenIdle(): Promise<void> {
    return this.layout.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private dispatch(): void {
    // Each idle thread takes its share of the queue, not all of it: otherwise the first thread to free up
    // takes every waiting text while the others idle. Under saturation the share reaches maxBatchSize.
    const share = Math.ceil(this.queue.length / this.layout.concurrency);
    while (this.queue.length > 0) {
      const thread = this.layout.acquire();
      if (thread === undefined) break;
      const lengths = this.queue.lengths(this.options.maxBatchSize * 4);
      const positions = chooseBatch(lengths, (rows, cols) => this.costModel.cost(rows, cols), {
        maxRows: Math.min(this.options.maxBatchSize, share),
        maxBatchTokens: this.options.maxBatchTokens,
        window: lengths.length,
      });
      const batch = this.queue.take(positions);
      for (const entry of batch) this.observer.onQueueWait(entry.startedAt - entry.enqueuedAt);
      void this.execute(batch, thread.slot, thread.session).finally(() => {
        this.layout.release(thread.slot);
        this.dispatch();
        if (this.layout.running === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      });
    }
    this.layout.observe(this.queue.length);
  }

  /** Runs a batch and settles its entries; never throws. */
  private async execute(batch: Entry[], slot: number, session: SessionShape): Promise<void> {
    const cols = Math.max(...batch.map((e) => e.ids.length));
    const predicted = { until: performance.now() + this.costModel.cost(batch.length, cols) };
    this.runningUntil.add(predicted);
    const startedAt = performance.now();
    let outcome: BatchOutcome;
    try {
      outcome = await this.runBatch(
        batch.map((e) => (e.typeIds ? { ids: e.ids, typeIds: e.typeIds } : e.ids)),
        slot,
        session,
      );
    } catch {
      // The thread died (piscina replaces it). Retrying could kill the next thread with the same input.
      this.settle(batch, InferenceErrors.failed());
      return;
    } finally {
      this.runningUntil.delete(predicted);
    }
    if ('error' in outcome) {
      // A healthy thread threw: run the halves apart so only the request that sent the bad text fails.
      if (batch.length === 1) {
        this.settle(batch, InferenceErrors.failed());
        return;
      }
      const middle = Math.ceil(batch.length / 2);
      await this.execute(batch.slice(0, middle), slot, session);
      await this.execute(batch.slice(middle), slot, session);
      return;
    }
    this.record(batch, cols, outcome, startedAt, session);
  }

  private record(batch: Entry[], cols: number, result: BatchResult, startedAt: number, session: SessionShape): void {
    const run = {
      id: this.stats.modelRuns,
      size: batch.length,
      paddedTokens: result.paddedTokens,
      startedAt,
      endedAt: performance.now(),
      inferenceMs: result.inferenceMs,
    };
    this.stats.modelRuns++;
    this.stats.textsRun += batch.length;
    // The thread time the run took, as the queue drains at: transfer, the worker's run, and the event loop's
    // lag before it read the answer (the thread stays idle until then), not the worker's inference time alone.
    this.costModel.observe(batch.length, cols, run.endedAt - startedAt);
    this.observer.onBatch(batch.length, result.paddedTokens, result.inferenceMs);
    this.layout.ran(session, batch.length, cols, result.inferenceMs);
    batch.forEach((entry, row) => {
      this.queue.finish(entry);
      entry.resolve({
        prediction: this.score(result.logits, row),
        logits: result.logits.slice(row * result.numLabels, (row + 1) * result.numLabels),
        queueMs: entry.startedAt - entry.enqueuedAt,
        inferenceMs: result.inferenceMs,
        batch: run,
      });
    });
  }

  private settle(batch: Entry[], error: InferenceError): void {
    for (const entry of batch) {
      this.queue.finish(entry);
      entry.reject(error);
    }
  }
}
