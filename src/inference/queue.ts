import { performance } from 'node:perf_hooks';
import { InferenceErrors } from './errors.js';
import type { CostModel } from './cost-model.js';
import type { Tokens } from '../../workers/protocol.js';
import type { Scores } from './scores.js';

export interface QueueOptions {
  /** Memory bound: tokens that may wait (MAX_QUEUE_TOKENS). */
  readonly maxQueueTokens: number;
  /** A request whose new texts are predicted to wait longer than this is refused (MAX_QUEUE_DELAY_MS). */
  readonly maxQueueDelayMs: number;
  /** Threads that drain the queue in parallel at start (the thread layout may change it: setConcurrency). */
  readonly concurrency: number;
  /**
   * Rows of a typical batch under load, for the predicted drain time (corrected by the cost model's packing
   * factor, learnt from the batches this queue gives out while backed up).
   */
  readonly typicalBatchRows: number;
}

/** A text's finished prediction and where its time went. */
export interface TextResult {
  /** The text's scores by the model's function (with their JSON, written once for every request that waits). */
  readonly prediction: Scores;
  /** The text's row of logits: TEI's raw_scores, and answers in another score function than the model's. */
  readonly logits: Float32Array;
  readonly queueMs: number;
  /** The model run of its batch (in the worker). */
  readonly inferenceMs: number;
  /** The batch it ran in, one object for all its texts (for tracing). */
  readonly batch: BatchRun;
}

/** One model run, as its requests' traces show it; times are performance.now() values. */
export interface BatchRun {
  /** Counts model runs since start: the requests that shared a run carry the same id. */
  readonly id: number;
  readonly size: number;
  /** Rows × longest row, as the worker padded them. */
  readonly paddedTokens: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly inferenceMs: number;
}

/** A request's share of the queue: one promise per submitted text, and a way to withdraw them. */
export interface Ticket {
  readonly results: readonly Promise<TextResult>[];
  /** Withdraws the texts that no other request waits for and that have not started. Idempotent. */
  cancel(): void;
}

type EntryState = 'queued' | 'running' | 'dropped' | 'done';

export interface Entry {
  /** The input's key (src/cache/cache-key.ts inputKey: a single text is itself). */
  readonly text: string;
  /** The input's token ids (special tokens included): its exact cost. */
  readonly ids: Int32Array;
  /** A pair's token_type_ids. */
  readonly typeIds?: Int32Array;
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
 * The queue of texts waiting for a model thread, like text-embeddings-inference's: entries with exact token
 * counts, single flight (concurrent requests for one text share an entry), and admission. A request is
 * admitted whole or refused at once: refused when its new tokens would pass MAX_QUEUE_TOKENS (memory), when
 * the work ahead of them is predicted to take longer than MAX_QUEUE_DELAY_MS, or when they are predicted to
 * finish past the request's deadline; the refusal says when the queue is predicted to have drained (Retry-After).
 * The texts of one request are queued at one instant, which is how the batch window (lengths()) tells them apart.
 */
export class InferenceQueue {
  private entries: Entry[] = [];
  private readonly pending = new Map<string, Entry>();
  private queuedTokens = 0;
  /** Σ length² of queued texts: with queuedTokens, the queue's predicted cost in O(1). */
  private queuedTokenSquares = 0;
  /** Texts of admitted requests still being tokenized (reserve()), counted at the mean length seen so far. */
  private reservedTexts = 0;
  private meanTokens = 32;
  /** Predicted ms still to run of the batches now running (the dispatcher reports it). */
  runningMs: () => number = () => 0;
  /** Called when texts were queued (the dispatcher starts batches). */
  onQueued: () => void = () => {};

  private concurrency: number;

  constructor(
    private readonly options: QueueOptions,
    private readonly costModel: CostModel,
  ) {
    this.concurrency = options.concurrency;
  }

  /** Threads that drain the queue now (src/inference/thread-layout.ts changes them). */
  setConcurrency(threads: number): void {
    this.concurrency = threads;
  }

  /** Texts waiting for a thread. */
  get length(): number {
    return this.entries.length;
  }

  get tokens(): number {
    return this.queuedTokens;
  }

  /** True when no new text can be admitted: callers refuse before spending work on the request. */
  get full(): boolean {
    if (this.entries.length === 0) return false;
    return this.queuedTokens >= this.options.maxQueueTokens || this.predictedDrainMs() > this.options.maxQueueDelayMs;
  }

  /** Predicted ms until the queued and running work is done, with `extra` texts (count, Σlen, Σlen²) added. */
  predictedDrainMs(extraTexts = 0, extraTokens = 0, extraSquares = 0): number {
    const reserved = this.reservedTexts;
    const texts = this.entries.length + reserved + extraTexts;
    const tokens = this.queuedTokens + reserved * this.meanTokens + extraTokens;
    const squares = this.queuedTokenSquares + reserved * this.meanTokens * this.meanTokens + extraSquares;
    const work = this.costModel.workOf(texts, tokens, squares, this.options.typicalBatchRows);
    return (work + this.runningMs()) / this.concurrency;
  }

  /** Seconds a refused client should wait: until the queue as it is now is predicted to have drained. */
  retryAfterS(): number {
    return Math.max(1, Math.ceil(this.predictedDrainMs() / 1000));
  }

  /**
   * Admission before tokenization, so a refusal costs no tokenization and admitted requests do not wait behind
   * ones that will be refused: `texts` new texts, at the mean length seen so far, must fit the predicted
   * drain time. They count in the queue's predictions until `release()`; then submit() checks exact costs.
   */
  reserve(texts: number, deadline: number): { release(): void } {
    const tokens = texts * this.meanTokens;
    this.admit(texts, tokens, tokens * this.meanTokens, deadline);
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
   * Queues a request's texts with their token ids, all or none; throws the 'overloaded' error at once when
   * they do not fit (see the class comment). `deadline` is a performance.now() time.
   */
  submit(texts: readonly string[], tokens: readonly (Int32Array | Tokens)[], deadline: number): Ticket {
    const ids = tokens.map((t) => (t instanceof Int32Array ? t : t.ids));
    let freshTexts = 0;
    let freshTokens = 0;
    let freshSquares = 0;
    texts.forEach((text, i) => {
      if (this.pending.has(text)) return;
      const n = ids[i].length;
      freshTexts++;
      freshTokens += n;
      freshSquares += n * n;
    });
    if (freshTexts > 0) {
      if (this.queuedTokens + freshTokens > this.options.maxQueueTokens) throw InferenceErrors.overloaded(this.retryAfterS());
      this.admit(freshTexts, freshTokens, freshSquares, deadline);
    }
    const now = performance.now();
    const entries = texts.map((text, i) => this.join(text, ids[i], (tokens[i] as Tokens).typeIds, now));
    this.onQueued();
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

  /**
   * Refuses new work (count, Σlen, Σlen²) when the work ahead of it is predicted to take longer than
   * MAX_QUEUE_DELAY_MS, or when it is predicted to finish past the deadline. Only work ahead counts against a
   * request: with nothing queued, reserved or running, waiting would not make it faster, so it runs (and may
   * still time out with 504).
   */
  private admit(texts: number, tokens: number, squares: number, deadline: number): void {
    if (this.entries.length === 0 && this.reservedTexts === 0 && this.runningMs() === 0) return;
    const ahead = this.predictedDrainMs();
    const finish = this.predictedDrainMs(texts, tokens, squares);
    if (ahead > this.options.maxQueueDelayMs || finish > deadline - performance.now()) throw InferenceErrors.overloaded(this.retryAfterS());
  }

  /**
   * Exact lengths of the queued texts the batch policy chooses from, oldest first (its input): the oldest
   * `window`, and of those only the texts queued within what is left of the oldest text's MAX_QUEUE_DELAY_MS
   * after it. Otherwise newer texts of common lengths ride along in batch after batch while an older request's
   * texts of rare lengths wait their turn to be the oldest: a request of 32 texts finished after about the
   * whole window had run, not its own texts. Once the oldest text has waited MAX_QUEUE_DELAY_MS, the window is
   * its own request's texts; under normal load the oldest text is young and the window is whole.
   */
  lengths(window: number): number[] {
    const out: number[] = [];
    if (this.entries.length === 0) return out;
    const oldest = this.entries[0].enqueuedAt;
    const until = oldest + Math.max(0, this.options.maxQueueDelayMs - (performance.now() - oldest));
    const n = Math.min(window, this.entries.length);
    for (let i = 0; i < n && this.entries[i].enqueuedAt <= until; i++) out.push(this.entries[i].ids.length);
    return out;
  }

  /**
   * Takes the queued texts at these positions (from lengths()) out of the queue, as running. A batch that
   * leaves texts queued is one of those the queue's drain time is made of: the cost model learns from it how
   * the queue packs into batches (CostModel.packed()).
   */
  take(positions: readonly number[]): Entry[] {
    const started = performance.now();
    const batch = positions.map((p) => this.entries[p]);
    let cols = 0;
    let tokens = 0;
    let squares = 0;
    for (const entry of batch) {
      const n = entry.ids.length;
      cols = Math.max(cols, n);
      tokens += n;
      squares += n * n;
      entry.state = 'running';
      entry.startedAt = started;
      this.forget(entry);
    }
    this.entries = this.entries.filter((e) => e.state === 'queued');
    if (this.entries.length > 0 && batch.length > 0)
      this.costModel.packed(batch.length, cols, tokens, squares, this.options.typicalBatchRows);
    return batch;
  }

  /** A running entry is done (resolved or rejected by the dispatcher). */
  finish(entry: Entry): void {
    entry.state = 'done';
    if (this.pending.get(entry.text) === entry) this.pending.delete(entry.text);
  }

  private join(text: string, ids: Int32Array, typeIds: Int32Array | undefined, now: number): Entry {
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
    const entry: Entry = { text, ids, typeIds, enqueuedAt: now, startedAt: 0, state: 'queued', waiters: 1, promise, resolve, reject };
    this.pending.set(text, entry);
    this.entries.push(entry);
    this.queuedTokens += ids.length;
    this.queuedTokenSquares += ids.length * ids.length;
    this.meanTokens += 0.01 * (ids.length - this.meanTokens);
    return entry;
  }

  private leave(entry: Entry): void {
    if (entry.state !== 'queued' || --entry.waiters > 0) return;
    // Running entries are left to finish: a thread cannot be stopped inside ONNX Runtime's synchronous run
    // without aborting the whole process, and the predictor caches the result all the same.
    entry.state = 'dropped';
    this.forget(entry);
    this.pending.delete(entry.text);
    this.entries.splice(this.entries.indexOf(entry), 1);
    entry.reject(InferenceErrors.timeout());
  }

  private forget(entry: Entry): void {
    this.queuedTokens -= entry.ids.length;
    this.queuedTokenSquares -= entry.ids.length * entry.ids.length;
  }
}
