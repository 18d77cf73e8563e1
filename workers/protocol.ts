// The contract between the main thread and the model worker threads.

/** Passed once to every worker thread as piscina's workerData. */
export interface ModelWorkerData {
  /** Absolute path of the .onnx file. */
  readonly modelPath: string;
  /** Absolute path of tokenizer.json. */
  readonly tokenizerPath: string;
  /** Texts are truncated to this many tokens, special tokens included (src/model/hf-config.ts resolveMaxTokens). */
  readonly maxTokens: number;
  /** Batches are padded with this token (src/model/hf-config.ts resolvePad). */
  readonly padId: number;
  readonly padToken: string;
  readonly intraOpThreads: number;
  /** Name of the BroadcastChannel on which each thread reports that it is warm, or why it failed. */
  readonly statusChannel: string;
}

/** One model run: a batch of texts. */
export interface BatchTask {
  readonly texts: readonly string[];
}

/** What one model run returns; `logits` is transferred, not copied. */
export interface BatchResult {
  /** Row-major [texts.length, numLabels]. */
  readonly logits: Float32Array;
  readonly numLabels: number;
  /** Tokens in the padded batch (texts x longest). */
  readonly paddedTokens: number;
  readonly tokenizeMs: number;
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

export type WorkerStatus =
  | { readonly type: 'ready'; readonly threadId: number; readonly numLabels: number }
  | { readonly type: 'failed'; readonly threadId: number; readonly message: string };
