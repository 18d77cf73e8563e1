// The contract between the main thread and the worker threads (model workers and tokenizer threads).

/**
 * One model as the worker threads run it: what its sessions are made of. Every run names its model, so a thread
 * that does not hold a session of it yet (started anew after a crash, or the model was loaded after it started)
 * creates one itself.
 */
export interface WorkerModel {
  /** The model's name in the repository and its version (src/model-repository): distinct per loaded model. */
  readonly key: string;
  /** Absolute path of the .onnx file. */
  readonly modelPath: string;
  /** The model to run instead of the file's bytes (PER_ROW_QUANTIZATION's rewrite), in shared memory. */
  readonly modelBytes?: Uint8Array;
  /** Padding of input_ids (the model's pad token, src/model-loading/model-config.ts resolvePad). */
  readonly padId: number;
  /** token_type_ids of every real token, for models that take them (resolveSingleTypeId). */
  readonly typeId: number;
  /** The model's token limit (src/model-loading/model-config.ts resolveMaxTokens): warm-up shapes stay within its positions. */
  readonly maxTokens: number;
}

/** Passed once to every model worker thread as piscina's workerData. */
export interface ModelWorkerData {
  /** The models every thread loads at start. */
  readonly models: readonly WorkerModel[];
  /** The session each of them gets at start (the pool's first layout). */
  readonly session: SessionShape;
  /** Name of the BroadcastChannel on which each thread reports that it is warm, or why it failed. */
  readonly statusChannel: string;
}

/**
 * A session's intra-op threads, and whether they spin between a run's operators: only a session that runs alone
 * does (workers/session.ts sessionOptions).
 */
export interface SessionShape {
  readonly threads: number;
  readonly spin: boolean;
}

/**
 * What the main thread asks of a model worker: run a batch of a model on a session of this shape (the thread
 * re-creates its session of that model first if it holds another shape); or make these models' sessions this
 * shape now (warm, and those with `calibrate` timed for their cost model), releasing them with `load: null`; or
 * release one model's session for good (`unload`, the model left the repository).
 */
export type ModelTask =
  | { readonly run: BatchTask; readonly session: SessionShape; readonly model: WorkerModel }
  | { readonly load: SessionShape | null; readonly models: readonly ModelLoad[] }
  | { readonly unload: string };

/** One model of a load task. */
export interface ModelLoad {
  readonly model: WorkerModel;
  readonly calibrate: boolean;
}

/** A load's answer, by model key: the timed warm-up runs of each new session (none for a release or without `calibrate`), and the logits per text it gave. */
export interface LoadResult {
  readonly calibration: Readonly<Record<string, readonly CalibrationRun[]>>;
  readonly numLabels: Readonly<Record<string, number>>;
}

/**
 * One model run: the token ids of its texts, packed one after another (`lengths[i]` ids for text i, special
 * tokens included), in buffers transferred to the worker, not copied. The worker pads them to the longest.
 */
export interface BatchTask {
  readonly ids: Int32Array;
  readonly lengths: Int32Array;
  /**
   * token_type_ids packed like `ids`, present when some row is a text pair (its tokenizer's type ids, 1 on the
   * second segment under a BERT template); a single text's row holds the model's single-sequence type id.
   */
  readonly typeIds?: Int32Array;
}

/** One input's tokenization: its ids, and the type ids of a pair (a single text has none: it is one segment). */
export interface Tokens {
  readonly ids: Int32Array;
  readonly typeIds?: Int32Array;
}

/** What one model run returns; `logits` is transferred, not copied. */
export interface BatchResult {
  /** Row-major [rows, numLabels]. */
  readonly logits: Float32Array;
  readonly numLabels: number;
  /** Tokens in the padded batch as the worker built it (rows x longest). */
  readonly paddedTokens: number;
  /** Time of the model run alone (session.run), ms. */
  readonly inferenceMs: number;
}

/**
 * A batch that threw inside a healthy thread comes back as a value, so the main thread can tell it (retry
 * the texts apart to find the bad one) from a thread that died (fail the batch).
 */
export interface BatchFailure {
  readonly error: string;
}

export type BatchOutcome = BatchResult | BatchFailure;

/** One timed model run of the warm-up, for the main thread's cost model. */
export interface CalibrationRun {
  readonly rows: number;
  readonly cols: number;
  readonly ms: number;
}

export type WorkerStatus =
  | ({ readonly type: 'ready'; readonly threadId: number } & LoadResult)
  | { readonly type: 'failed'; readonly threadId: number; readonly message: string };

/** Passed once to every tokenizer thread. */
export interface TokenizerWorkerData {
  /** Absolute path of tokenizer.json. */
  readonly tokenizerPath: string;
  /** Texts are truncated to this many tokens, special tokens included. */
  readonly maxTokens: number;
}

/**
 * One request's new inputs to tokenize: texts, and for a pair its second text at the same index. The answer is
 * one Tokenized per input, its buffers transferred.
 */
export interface TokenizeTask {
  readonly texts: readonly string[];
  readonly pairs?: readonly (string | null)[];
  /**
   * TEI's `truncate: false`: an input longer than maxTokens is not cut but refused, so each input's whole
   * length is needed (and the input is tokenized whole).
   */
  readonly untruncated?: boolean;
}

export interface Tokenized extends Tokens {
  /** With `untruncated`: the input's length untruncated, special tokens included (then `ids` are empty when it is over maxTokens). */
  readonly length?: number;
}

/**
 * A BatchTask of these rows' ids (and type ids, when a row has them), packed into fresh buffers that can be
 * transferred. `singleTypeId` fills the type ids of single texts in a batch that has pairs.
 */
export function packBatch(rows: readonly (Int32Array | Tokens)[], singleTypeId = 0): BatchTask {
  const tokens = rows.map((row) => (row instanceof Int32Array ? { ids: row } : row));
  const lengths = new Int32Array(tokens.length);
  let total = 0;
  tokens.forEach((row, i) => (total += lengths[i] = row.ids.length));
  const ids = new Int32Array(total);
  const typeIds = tokens.some((row) => row.typeIds !== undefined) ? new Int32Array(total) : undefined;
  let offset = 0;
  for (const row of tokens) {
    ids.set(row.ids, offset);
    if (typeIds) {
      if (row.typeIds) typeIds.set(row.typeIds, offset);
      else typeIds.fill(singleTypeId, offset, offset + row.ids.length);
    }
    offset += row.ids.length;
  }
  return typeIds ? { ids, lengths, typeIds } : { ids, lengths };
}
