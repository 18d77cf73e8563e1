import { performance } from 'node:perf_hooks';
import { InferenceErrors } from './errors.js';
import type { CostModel } from './cost-model.js';
import type { Tokens } from '../../workers/protocol.js';
import type { Scores } from './scores.js';

export interface QueueOptions {
  /** The batch window keeps to texts queued within the oldest one's MAX_QUEUE_DELAY_MS (lengths()). */
  readonly maxQueueDelayMs: number;
  /** Rows of a typical batch under load: what the cost model's packing factor is relative to (take()). */
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
 * counts and single flight (concurrent requests for one text share an entry). What may enter is decided before
 * (src/inference/admission.ts); the queue keeps the totals admission predicts from. The texts of one request are
 * queued at one instant, which is how the batch window (lengths()) tells them apart.
 */
export class InferenceQueue {
  private entries: Entry[] = [];
  private readonly pending = new Map<string, Entry>();
  private queuedTokens = 0;
  /** Σ length² of queued texts: with queuedTokens, the queue's predicted cost in O(1). */
  private queuedTokenSquares = 0;
  private mean = 32;
  /** Called when texts were queued: the service points it at the dispatcher (scheduler.ts). */
  onQueued: () => void = () => {};

  constructor(
    private readonly options: QueueOptions,
    private readonly costModel: CostModel,
  ) {}

  /** Texts waiting for a thread. */
  get length(): number {
    return this.entries.length;
  }

  get tokens(): number {
    return this.queuedTokens;
  }

  get tokenSquares(): number {
    return this.queuedTokenSquares;
  }

  /** Moving mean of queued texts' lengths: what a text not yet tokenized is expected to cost. */
  get meanTokens(): number {
    return this.mean;
  }

  /** The work these texts would add: those not already queued (single flight), as count, Σlen and Σlen². */
  newWork(texts: readonly string[], tokens: readonly (Int32Array | Tokens)[]): { texts: number; tokens: number; squares: number } {
    let count = 0;
    let sum = 0;
    let squares = 0;
    texts.forEach((text, i) => {
      if (this.pending.has(text)) return;
      const token = tokens[i];
      const n = (token instanceof Int32Array ? token : token.ids).length;
      count++;
      sum += n;
      squares += n * n;
    });
    return { texts: count, tokens: sum, squares };
  }

  /** Queues a request's texts with their token ids (admitted: src/inference/admission.ts). */
  add(texts: readonly string[], tokens: readonly (Int32Array | Tokens)[]): Ticket {
    const now = performance.now();
    const entries = texts.map((text, i) => {
      const token = tokens[i];
      return token instanceof Int32Array ? this.join(text, token, undefined, now) : this.join(text, token.ids, token.typeIds, now);
    });
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
    this.mean += 0.01 * (ids.length - this.mean);
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
