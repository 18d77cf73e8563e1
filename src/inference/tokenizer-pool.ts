import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import type { TextInput } from '../cache/cache-key.js';
import type { TokenizeTask, Tokenized, TokenizerWorkerData } from '../../workers/protocol.js';

// This module runs as dist/src/inference/tokenizer-pool.js; the worker is dist/workers/tokenizer-worker.js.
const WORKER_FILE = fileURLToPath(new URL('../../workers/tokenizer-worker.js', import.meta.url));

export interface TokenizerPoolOptions {
  readonly threads: number;
  readonly tokenizerPath: string;
  readonly maxTokens: number;
  /** Called with each request's tokenization time (ms), for the metrics. */
  readonly onTokenize: (ms: number) => void;
}

/**
 * Tokenization on arrival: each request's new texts are tokenized exactly (a huge text only up to maxTokens,
 * see workers/exact-tokenizer.ts) on dedicated threads, so their cost is known before admission and
 * batching, and the event loop only posts texts and receives ids.
 */
export interface TokenizerPool {
  /**
   * The tokens of each input (a text, or a pair through the pair template), special tokens included, at most
   * maxTokens each. `untruncated` (TEI's truncate: false): tokenized untruncated, with each one's length, and no ids for
   * one past maxTokens.
   */
  encode(inputs: readonly TextInput[], untruncated?: boolean): Promise<Tokenized[]>;
  readonly maxTokens: number;
  close(): Promise<void>;
}

export function createTokenizerPool(options: TokenizerPoolOptions): TokenizerPool {
  const workerData: TokenizerWorkerData = { tokenizerPath: options.tokenizerPath, maxTokens: options.maxTokens };
  const piscina = new Piscina<TokenizeTask, Tokenized[]>({
    filename: WORKER_FILE,
    workerData,
    minThreads: options.threads,
    maxThreads: options.threads,
    idleTimeout: 2 ** 31 - 1,
    // A task waits on the tokenizer's native calls (libuv's pool), so one thread carries several at once.
    concurrentTasksPerWorker: 8,
  });
  return {
    async encode(inputs, untruncated = false) {
      const started = performance.now();
      const hasPairs = inputs.some((input) => typeof input !== 'string');
      const task: TokenizeTask = hasPairs
        ? {
            texts: inputs.map((input) => (typeof input === 'string' ? input : input[0])),
            pairs: inputs.map((input) => (typeof input === 'string' ? null : input[1])),
            untruncated,
          }
        : { texts: inputs as readonly string[], untruncated };
      const ids = await piscina.run(task);
      options.onTokenize(performance.now() - started);
      return ids;
    },
    maxTokens: options.maxTokens,
    close: () => piscina.destroy(),
  };
}
