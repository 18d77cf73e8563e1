import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { Errors } from '../errors.js';
import type { ModelInfo } from '../model-info.js';
import {
  packBatch,
  type BatchOutcome,
  type BatchTask,
  type CalibrationRun,
  type ModelWorkerData,
  type Tokens,
  type WorkerStatus,
} from '../../workers/protocol.js';

// This module runs as dist/src/inference/pool.js; the worker is dist/workers/onnx-worker.js.
const WORKER_FILE = fileURLToPath(new URL('../../workers/onnx-worker.js', import.meta.url));

export interface ModelPoolOptions {
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly model: ModelInfo;
  readonly logger: Logger;
  /** The worker module; tests substitute a fixture that wraps the real one. */
  readonly workerFile?: string;
}

/** The worker threads, each with its own ONNX session. */
export interface ModelPool {
  /**
   * Runs one batch (the token ids of its texts) on a free thread; the ids are packed into buffers that are
   * transferred, not copied. Rejects only when the thread dies or the pool is closed.
   */
  run(rows: readonly (Int32Array | Tokens)[]): Promise<BatchOutcome>;
  /**
   * Resolves once every thread has loaded and warmed its session, with the timed warm-up runs of all of them
   * (for the cost model); rejects if one could not.
   */
  readonly ready: Promise<readonly CalibrationRun[]>;
  readonly size: number;
  /** The live threads (tests terminate one to check that it is replaced). */
  readonly threads: readonly { terminate(): Promise<number> }[];
  /**
   * Ends the threads. Only call it with no batch running: ONNX Runtime's run is synchronous native code, and a
   * thread terminated inside it aborts the whole process.
   */
  close(): Promise<void>;
}

export function createModelPool(options: ModelPoolOptions): ModelPool {
  const statusChannel = `inf-model-worker-${randomUUID()}`;
  const workerData: ModelWorkerData = {
    modelPath: options.model.onnxPath,
    modelBytes: options.model.rewrite?.bytes,
    padId: options.model.padId,
    typeId: options.model.typeId,
    maxTokens: options.model.maxTokens,
    intraOpThreads: options.intraOpThreads,
    statusChannel,
  };
  const piscina = new Piscina<BatchTask, BatchOutcome>({
    filename: options.workerFile ?? WORKER_FILE,
    workerData,
    // Threads hold a loaded model: start them all now and never retire them for being idle.
    minThreads: options.workers,
    maxThreads: options.workers,
    idleTimeout: 2 ** 31 - 1,
    // The dispatcher never has more batches out than threads, so this queue only guards against misuse.
    maxQueue: options.workers,
    concurrentTasksPerWorker: 1,
    // 'sync' (the default) parks an idle thread in Atomics.wait, which also stops its timers; the session's
    // re-creation after a large batch (workers/recycling-session.ts) runs on a timer of the idle thread.
    atomics: 'async',
  });
  // A thread that dies is replaced by piscina; its task rejects. Without a listener the 'error' event
  // would crash the process.
  piscina.on('error', (err: Error) => options.logger.error({ err }, 'model worker failed'));

  const status = new BroadcastChannel(statusChannel);
  status.unref();
  const ready = new Promise<readonly CalibrationRun[]>((resolve, reject) => {
    const warmed = new Set<number>();
    const calibration: CalibrationRun[] = [];
    status.onmessage = (event) => {
      const message = (event as { data: WorkerStatus }).data;
      if (message.type === 'failed') {
        reject(Errors.WorkerStart(message.message));
        return;
      }
      if (message.numLabels !== options.model.labels.length) {
        const why = `gives ${message.numLabels} logits per text, but config.json's id2label has ${options.model.labels.length} labels`;
        reject(Errors.ModelInvalid(options.model.onnxPath, why));
        return;
      }
      warmed.add(message.threadId);
      calibration.push(...message.calibration);
      options.logger.info({ threadId: message.threadId, warmed: warmed.size, workers: options.workers }, 'model worker warm');
      if (warmed.size === options.workers) resolve(calibration);
    };
  });
  ready.catch(() => {}).finally(() => status.close());

  return {
    run: (rows) => {
      const task = packBatch(rows, options.model.typeId);
      const transferList = [task.ids.buffer, task.lengths.buffer, ...(task.typeIds ? [task.typeIds.buffer] : [])];
      return piscina.run(task, { transferList: transferList as never });
    },
    ready,
    size: options.workers,
    get threads() {
      return piscina.threads;
    },
    close: () => piscina.destroy(),
  };
}
