import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { Errors } from '../errors.js';
import type { ModelInfo } from '../model-loading/model-info.js';
import {
  packBatch,
  type BatchOutcome,
  type CalibrationRun,
  type LoadResult,
  type ModelTask,
  type ModelWorkerData,
  type SessionShape,
  type Tokens,
  type WorkerStatus,
} from '../../workers/protocol.js';

// This module runs as dist/src/inference/pool.js; the worker is dist/workers/onnx-worker.js.
const WORKER_FILE = fileURLToPath(new URL('../../workers/onnx-worker.js', import.meta.url));

export interface ModelPoolOptions {
  readonly workers: number;
  /** The session each thread loads at start. */
  readonly session: SessionShape;
  readonly model: ModelInfo;
  readonly logger: Logger;
  /** The worker module; tests substitute a fixture that wraps the real one. */
  readonly workerFile?: string;
}

/**
 * The worker threads, each with at most one ONNX session. Each thread is its own piscina pool of one, so a batch
 * or a load goes to the thread the caller names (src/inference/thread-layout.ts decides which holds what).
 */
export interface ModelPool {
  /**
   * Runs one batch (the token ids of its texts) on thread `slot`, on a session of `session`'s shape (the thread
   * re-creates its own if it holds another); the ids are packed into buffers that are transferred, not copied.
   * Rejects only when the thread dies or the pool is closed.
   */
  run(slot: number, rows: readonly (Int32Array | Tokens)[], session: SessionShape): Promise<BatchOutcome>;
  /**
   * Makes thread `slot` hold a warm session of this shape (null: none), with the new session's timed warm-up
   * runs if `calibrate`. Only call it while the thread runs no batch.
   */
  load(slot: number, session: SessionShape | null, calibrate: boolean): Promise<LoadResult>;
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
    session: options.session,
    statusChannel,
  };
  const slots = Array.from({ length: options.workers }, () => {
    const piscina = new Piscina<ModelTask, BatchOutcome | LoadResult>({
      filename: options.workerFile ?? WORKER_FILE,
      workerData,
      // The thread holds a loaded model: start it now and never retire it for being idle.
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: 2 ** 31 - 1,
      // The dispatcher and the layout never give a thread more than one task at once; this only guards misuse.
      maxQueue: 1,
      concurrentTasksPerWorker: 1,
      // 'sync' (the default) parks an idle thread in Atomics.wait, which also stops its timers; the session's
      // re-creation after a large batch (workers/recycling-session.ts) runs on a timer of the idle thread.
      atomics: 'async',
    });
    // A thread that dies is replaced by piscina; its task rejects. Without a listener the 'error' event
    // would crash the process.
    piscina.on('error', (err: Error) => options.logger.error({ err }, 'model worker failed'));
    return piscina;
  });

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
    run: (slot, rows, session) => {
      const batch = packBatch(rows, options.model.typeId);
      const transferList = [batch.ids.buffer, batch.lengths.buffer, ...(batch.typeIds ? [batch.typeIds.buffer] : [])];
      return slots[slot]!.run({ run: batch, session }, { transferList: transferList as never }) as Promise<BatchOutcome>;
    },
    load: (slot, session, calibrate) => slots[slot]!.run({ load: session, calibrate }) as Promise<LoadResult>,
    ready,
    size: options.workers,
    get threads() {
      return slots.flatMap((piscina) => piscina.threads);
    },
    close: async () => {
      await Promise.all(slots.map((piscina) => piscina.destroy()));
    },
  };
}
