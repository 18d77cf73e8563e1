import { Admission } from './admission.js';
import type { CostModel } from './cost-model.js';
import { type BatchObserver, Dispatcher, type RunBatch } from './dispatcher.js';
import { InferenceQueue } from './queue.js';
import type { Scores } from './scores.js';
import type { ThreadLayout } from './thread-layout.js';

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

/** The queue, its admission and its dispatcher: what the predictor hands new texts to. */
export interface Scheduler {
  readonly queue: InferenceQueue;
  readonly admission: Admission;
  readonly dispatcher: Dispatcher;
}

/**
 * Builds the three and wires them, here and nowhere else: the queue tells the dispatcher of new texts, admission
 * counts the dispatcher's running batches in the predicted wait, and both the cost model and admission follow the
 * thread layout that runs (its own timed warm-up runs, its number of serving threads).
 */
export function createScheduler(
  options: SchedulerOptions,
  costModel: CostModel,
  layout: ThreadLayout,
  runBatch: RunBatch,
  /** A row of a batch's logits as that text's scores, by the model's function. */
  score: (logits: Float32Array, row: number) => Scores,
  observer: BatchObserver,
): Scheduler {
  const queue = new InferenceQueue({ maxQueueDelayMs: options.maxQueueDelayMs, typicalBatchRows: options.typicalBatchRows }, costModel);
  const dispatcher = new Dispatcher(queue, runBatch, score, costModel, options, observer, layout);
  const admission = new Admission(
    {
      maxQueueTokens: options.maxQueueTokens,
      maxQueueDelayMs: options.maxQueueDelayMs,
      concurrency: layout.concurrency,
      typicalBatchRows: options.typicalBatchRows,
    },
    queue,
    costModel,
    dispatcher,
  );
  queue.onQueued = () => dispatcher.queued();
  layout.onChange = (change) => {
    if (change.calibration.length > 0) costModel.calibrate(change.calibration);
    admission.setConcurrency(change.concurrency);
  };
  return { queue, admission, dispatcher };
}
