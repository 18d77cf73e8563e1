import { Admission } from './admission.js';
import type { CostModel } from './cost-model.js';
import { type BatchObserver, Dispatcher, type RunBatch } from './dispatcher.js';
import { InferenceQueue } from './queue.js';
import type { Scores } from './scores.js';
import type { LayoutChange, ThreadLayout } from './thread-layout.js';

export interface SchedulerOptions {
  /** MAX_QUEUE_TOKENS. */
  readonly maxQueueTokens: number;
  /** MAX_QUEUE_DELAY_MS (at most the request timeout). */
  readonly maxQueueDelayMs: number;
  /** Rows of a typical batch under load (the queue's drain time is predicted in such batches). */
  readonly typicalBatchRows: number;
  readonly maxBatchSize: number;
  /** Hard limit on padded tokens (rows x longest) per batch. */
  readonly maxBatchTokens: number;
}

/** One model's queue and its admission: what its predictor hands new texts to. */
export interface ModelScheduler {
  readonly queue: InferenceQueue;
  readonly admission: Admission;
  readonly costModel: CostModel;
}

/**
 * The one dispatcher of the pool's threads, and each model's queue and admission, built and wired here and
 * nowhere else: a queue tells the dispatcher of new texts, admission counts the dispatcher's running batches in
 * the predicted wait, and both each model's cost model and admission follow the thread layout that runs (its own
 * timed warm-up runs, its number of serving threads).
 */
export class Scheduler {
  readonly dispatcher: Dispatcher;
  private readonly models = new Map<string, ModelScheduler>();

  constructor(private readonly layout: ThreadLayout) {
    this.dispatcher = new Dispatcher(layout);
    layout.onChange = (change) => this.follow(change);
    layout.onFreed = () => this.dispatcher.dispatch();
  }

  /** What runs now (the layout's start, or a change): each model's cost model fits its timed runs, admission counts its threads. */
  follow(change: LayoutChange): void {
    for (const [key, model] of this.models) {
      const runs = change.calibration.get(key);
      if (runs && runs.length > 0) model.costModel.calibrate(runs);
      model.admission.setConcurrency(change.concurrency);
    }
  }

  /** A model's queue and admission, its batches dispatched from now on. */
  add(
    key: string,
    options: SchedulerOptions,
    costModel: CostModel,
    run: RunBatch,
    /** A row of a batch's logits as that text's scores, by the model's function. */
    score: (logits: Float32Array, row: number) => Scores,
    observer: BatchObserver,
  ): ModelScheduler {
    const queue = new InferenceQueue({ maxQueueDelayMs: options.maxQueueDelayMs, typicalBatchRows: options.typicalBatchRows }, costModel);
    const admission = new Admission(
      {
        maxQueueTokens: options.maxQueueTokens,
        maxQueueDelayMs: options.maxQueueDelayMs,
        concurrency: this.layout.concurrency,
        typicalBatchRows: options.typicalBatchRows,
      },
      queue,
      costModel,
      this.dispatcher,
    );
    queue.onQueued = () => this.dispatcher.queued();
    this.dispatcher.add({ key, queue, costModel, run, score, options, observer });
    const model = { queue, admission, costModel };
    this.models.set(key, model);
    return model;
  }

  /** The model's texts are all answered (Dispatcher.whenLaneIdle) and no more can come: it leaves. */
  remove(key: string): void {
    this.models.delete(key);
    this.dispatcher.remove(key);
  }
}

/**
 * A scheduler of one model (the tests' and benches' shape): its queue, admission and the dispatcher.
 */
export function createScheduler(
  options: SchedulerOptions,
  costModel: CostModel,
  layout: ThreadLayout,
  runBatch: RunBatch,
  score: (logits: Float32Array, row: number) => Scores,
  observer: BatchObserver,
): ModelScheduler & { readonly dispatcher: Dispatcher } {
  const scheduler = new Scheduler(layout);
  return { ...scheduler.add('model', options, costModel, runBatch, score, observer), dispatcher: scheduler.dispatcher };
}
