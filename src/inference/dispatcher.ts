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

/** Runs one batch of a lane's model on thread `slot`, on a session of this shape (ModelPool.run). */
export type RunBatch = (rows: readonly (Int32Array | Tokens)[], slot: number, session: SessionShape) => Promise<BatchOutcome>;

/** One model's queue and what running its batches takes: the dispatcher's unit of fairness. */
export interface Lane {
  /** The model's key (its name and version). */
  readonly key: string;
  readonly queue: InferenceQueue;
  readonly costModel: CostModel;
  readonly run: RunBatch;
  /** A row of a batch's logits as that text's scores, by the model's function. */
  readonly score: (logits: Float32Array, row: number) => Scores;
  readonly options: DispatcherOptions;
  readonly observer: BatchObserver;
}

/** A lane and its share of the threads so far. */
interface LaneState {
  readonly lane: Lane;
  /**
   * Start-time fair queuing's finish tag: the thread time of the batches the lane has been given (predicted when
   * given, measured once run), not counting time it had nothing queued. The lane with the least goes next.
   */
  virtualMs: number;
  running: number;
  idleWaiters: (() => void)[];
}

/**
 * Runs batches on the worker threads: when a thread that the layout serves with is free it picks the lane (one
 * per model) that has had the least thread time, asks the batch policy what to run from that lane's queue (no
 * fixed wait while threads idle; while all are busy the queues grow), runs it, settles its texts, feeds the
 * measured run time back to that model's cost model, and splits a batch that failed in a healthy thread. A batch
 * never mixes models, and a flood on one model takes no more than its share of the threads from a model that has
 * texts waiting: those wait at most for a batch to end. After each round it tells the layout what it left
 * waiting (ThreadLayout.observe).
 */
export class Dispatcher {
  /** Predicted end (performance.now()) of each running batch. */
  private readonly runningUntil = new Set<{ until: number }>();
  private readonly lanes = new Map<string, LaneState>();
  /** The finish tag of the batch given out last: a lane that was idle starts from here, banking no time. */
  private virtualNowMs = 0;
  private idleWaiters: (() => void)[] = [];
  /** Counters the tests and metrics read. */
  readonly stats = { modelRuns: 0, textsRun: 0 };

  constructor(private readonly layout: ThreadLayout) {}

  /** A model's lane: its queued texts take their share of the threads from now on. */
  add(lane: Lane): void {
    this.lanes.set(lane.key, { lane, virtualMs: this.virtualNowMs, running: 0, idleWaiters: [] });
  }

  /** Removes a lane; call it once whenLaneIdle resolved and no text can reach its queue any more. */
  remove(key: string): void {
    this.lanes.delete(key);
  }

  /** Resolves when the lane has no text queued and no batch running. */
  whenLaneIdle(key: string): Promise<void> {
    const state = this.lanes.get(key);
    if (!state || (state.running === 0 && state.lane.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => state.idleWaiters.push(resolve));
  }

  /** Texts were queued: an arrival the layout counts, and batches for the free threads. */
  queued(): void {
    this.layout.arrived(this.layout.full);
    this.dispatch();
  }

  /** Predicted ms still to run of the batches running now, of every model (admission adds it to a queue's drain time). */
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

  /** Gives the free threads batches, as long as texts wait. */
  dispatch(): void {
    // Each idle thread takes its share of a queue, not all of it: otherwise the first thread to free up takes
    // every waiting text while the others idle. Under saturation the share reaches maxBatchSize.
    const shares = new Map<LaneState, number>();
    for (let state = this.nextLane(); state !== undefined; state = this.nextLane()) {
      const thread = this.layout.acquire();
      if (thread === undefined) break;
      const { queue, costModel, options, observer } = state.lane;
      const share = shares.get(state) ?? Math.ceil(queue.length / this.layout.concurrency);
      shares.set(state, share);
      const lengths = queue.lengths(options.maxBatchSize * 4);
      const positions = chooseBatch(lengths, (rows, cols) => costModel.cost(rows, cols), {
        maxRows: Math.min(options.maxBatchSize, share),
        maxBatchTokens: options.maxBatchTokens,
        window: lengths.length,
      });
      const batch = queue.take(positions);
      for (const entry of batch) observer.onQueueWait(entry.startedAt - entry.enqueuedAt);
      const cols = Math.max(...batch.map((e) => e.ids.length));
      const predictedMs = costModel.cost(batch.length, cols);
      this.virtualNowMs = Math.max(this.virtualNowMs, state.virtualMs);
      state.virtualMs = this.virtualNowMs + predictedMs;
      state.running++;
      const startedAt = performance.now();
      void this.execute(state.lane, batch, thread.slot, thread.session).finally(() => {
        // Charged what the thread was held for: each model's cost model predicts its own runs, and one that
        // has not learnt this machine's speed yet must not get more of the threads for it.
        state.virtualMs += performance.now() - startedAt - predictedMs;
        state.running--;
        this.layout.release(thread.slot);
        this.dispatch();
        if (state.running === 0 && state.lane.queue.length === 0) state.idleWaiters.splice(0).forEach((wake) => wake());
        if (this.layout.running === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      });
    }
    let waiting = 0;
    for (const { lane } of this.lanes.values()) waiting += lane.queue.length;
    this.layout.observe(waiting);
  }

  /** The lane with texts queued that has had the least thread time (an idle lane counts from now). */
  private nextLane(): LaneState | undefined {
    let next: LaneState | undefined;
    let least = Infinity;
    for (const state of this.lanes.values()) {
      if (state.lane.queue.length === 0) continue;
      const tag = Math.max(state.virtualMs, this.virtualNowMs);
      if (tag < least) {
        least = tag;
        next = state;
      }
    }
    return next;
  }

  /** Runs a batch and settles its entries; never throws. */
  private async execute(lane: Lane, batch: Entry[], slot: number, session: SessionShape): Promise<void> {
    const cols = Math.max(...batch.map((e) => e.ids.length));
    const predicted = { until: performance.now() + lane.costModel.cost(batch.length, cols) };
    this.runningUntil.add(predicted);
    const startedAt = performance.now();
    let outcome: BatchOutcome;
    try {
      outcome = await lane.run(
        batch.map((e) => (e.typeIds ? { ids: e.ids, typeIds: e.typeIds } : e.ids)),
        slot,
        session,
      );
    } catch {
      // The thread died (piscina replaces it). Retrying could kill the next thread with the same input.
      this.settle(lane, batch, InferenceErrors.failed());
      return;
    } finally {
      this.runningUntil.delete(predicted);
    }
    if ('error' in outcome) {
      // A healthy thread threw: run the halves apart so only the request that sent the bad text fails.
      if (batch.length === 1) {
        this.settle(lane, batch, InferenceErrors.failed());
        return;
      }
      const middle = Math.ceil(batch.length / 2);
      await this.execute(lane, batch.slice(0, middle), slot, session);
      await this.execute(lane, batch.slice(middle), slot, session);
      return;
    }
    this.record(lane, batch, cols, outcome, startedAt, session);
  }

  private record(lane: Lane, batch: Entry[], cols: number, result: BatchResult, startedAt: number, session: SessionShape): void {
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
    lane.costModel.observe(batch.length, cols, run.endedAt - startedAt);
    lane.observer.onBatch(batch.length, result.paddedTokens, result.inferenceMs);
    this.layout.ran(lane.key, session, batch.length, cols, result.inferenceMs);
    batch.forEach((entry, row) => {
      lane.queue.finish(entry);
      entry.resolve({
        prediction: lane.score(result.logits, row),
        logits: result.logits.slice(row * result.numLabels, (row + 1) * result.numLabels),
        queueMs: entry.startedAt - entry.enqueuedAt,
        inferenceMs: result.inferenceMs,
        batch: run,
      });
    });
  }

  private settle(lane: Lane, batch: Entry[], error: InferenceError): void {
    for (const entry of batch) {
      lane.queue.finish(entry);
      entry.reject(error);
    }
  }
}
