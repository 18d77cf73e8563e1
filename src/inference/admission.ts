import { performance } from 'node:perf_hooks';
import { InferenceErrors, type InferenceError } from './errors.js';
import type { CostModel } from './cost-model.js';
import type { InferenceQueue, Ticket } from './queue.js';
import type { Tokens } from '../../workers/protocol.js';

export interface AdmissionOptions {
  /** Memory bound: tokens that may wait (MAX_QUEUE_TOKENS). */
  readonly maxQueueTokens: number;
  /** A request whose new texts are predicted to wait longer than this is refused (MAX_QUEUE_DELAY_MS). */
  readonly maxQueueDelayMs: number;
  /** Threads that drain the queue in parallel at start (the thread layout may change it: setConcurrency). */
  readonly concurrency: number;
  /**
   * Rows of a typical batch under load, for the predicted drain time (corrected by the cost model's packing
   * factor, learnt from the batches the queue gives out while backed up).
   */
  readonly typicalBatchRows: number;
}

/** Work still to run outside the queue: the batches running now (the dispatcher knows them). */
export interface RunningWork {
  runningMs(): number;
}

/** New texts' cost: their count, Σ length and Σ length² (the cost model's terms). */
interface Work {
  readonly texts: number;
  readonly tokens: number;
  readonly squares: number;
}

/** Texts admitted before their tokenization, counted at the mean length until released. */
export interface Reservation {
  release(): void;
}

/**
 * "May this work enter", decided here alone, at three named points of a request's path (src/inference/predictor.ts):
 * - `full`, on arrival, before anything is spent on the request: the queue is past its bound or its predicted
 *   drain time; the predictor then refuses unless every text may be cached (`refusal()`).
 * - `reserve()`, before tokenization: its new texts at the mean length seen so far must fit the predicted wait,
 *   so a refusal costs no tokenization and admitted requests do not wait behind ones that will be refused.
 * - `enqueue()`, with exact token counts: all of a request's new texts or none; refused when they would pass
 *   MAX_QUEUE_TOKENS (memory), when the work ahead of them is predicted to take longer than MAX_QUEUE_DELAY_MS, or
 *   when they are predicted to finish past the request's deadline.
 * A refusal says when the queue is predicted to have drained (Retry-After).
 */
export class Admission {
  /** Texts of admitted requests still being tokenized (reserve()). */
  private reservedTexts = 0;
  private concurrency: number;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly queue: InferenceQueue,
    private readonly costModel: CostModel,
    private readonly running: RunningWork,
  ) {
    this.concurrency = options.concurrency;
  }

  /** Threads that drain the queue now (src/inference/thread-layout.ts changes them). */
  setConcurrency(threads: number): void {
    this.concurrency = threads;
  }

  /** True when no new text can be admitted: callers refuse before spending work on the request. */
  get full(): boolean {
    if (this.queue.length === 0) return false;
    return this.queue.tokens >= this.options.maxQueueTokens || this.predictedDrainMs() > this.options.maxQueueDelayMs;
  }

  /** The refusal of a request while `full`, with its Retry-After. */
  refusal(): InferenceError {
    return InferenceErrors.overloaded(this.retryAfterS());
  }

  /** Predicted ms until the queued, reserved and running work is done, with `extra` work added. */
  predictedDrainMs(extra: Work = NO_WORK): number {
    const mean = this.queue.meanTokens;
    const reserved = this.reservedTexts;
    const texts = this.queue.length + reserved + extra.texts;
    const tokens = this.queue.tokens + reserved * mean + extra.tokens;
    const squares = this.queue.tokenSquares + reserved * mean * mean + extra.squares;
    const work = this.costModel.workOf(texts, tokens, squares, this.options.typicalBatchRows);
    return (work + this.running.runningMs()) / this.concurrency;
  }

  /** Seconds a refused client should wait: until the queue as it is now is predicted to have drained. */
  retryAfterS(): number {
    return Math.max(1, Math.ceil(this.predictedDrainMs() / 1000));
  }

  /**
   * Admits `texts` new texts before their tokenization, at the mean length seen so far; they count in the
   * predictions until released, and enqueue() then checks their exact cost.
   */
  reserve(texts: number, deadline: number): Reservation {
    const mean = this.queue.meanTokens;
    const tokens = texts * mean;
    this.check({ texts, tokens, squares: tokens * mean }, deadline);
    this.reservedTexts += texts;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reservedTexts -= texts;
      },
    };
  }

  /**
   * Queues a request's texts with their token ids if their exact cost is admitted, all or none; throws the
   * 'overloaded' error at once otherwise. Texts already queued (single flight) add no work. `deadline` is a
   * performance.now() time.
   */
  enqueue(texts: readonly string[], tokens: readonly (Int32Array | Tokens)[], deadline: number): Ticket {
    const fresh = this.queue.newWork(texts, tokens);
    if (fresh.texts > 0) {
      if (this.queue.tokens + fresh.tokens > this.options.maxQueueTokens) throw this.refusal();
      this.check(fresh, deadline);
    }
    return this.queue.add(texts, tokens);
  }

  /**
   * Refuses new work when the work ahead of it is predicted to take longer than MAX_QUEUE_DELAY_MS, or when it
   * is predicted to finish past the deadline. Only work ahead counts against a request: with nothing queued,
   * reserved or running, waiting would not make it faster, so it runs (and may still time out).
   */
  private check(work: Work, deadline: number): void {
    if (this.queue.length === 0 && this.reservedTexts === 0 && this.running.runningMs() === 0) return;
    const ahead = this.predictedDrainMs();
    const finish = this.predictedDrainMs(work);
    if (ahead > this.options.maxQueueDelayMs || finish > deadline - performance.now()) throw this.refusal();
  }
}

const NO_WORK: Work = { texts: 0, tokens: 0, squares: 0 };
