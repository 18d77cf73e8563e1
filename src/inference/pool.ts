import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { Errors } from '../errors.js';
import {
  packBatch,
  type BatchOutcome,
  type CalibrationRun,
  type LoadResult,
  type ModelLoad,
  type ModelTask,
  type ModelWorkerData,
  type SessionShape,
  type Tokens,
  type WorkerModel,
  type WorkerStatus,
} from '../../workers/protocol.js';

// This module runs as dist/src/inference/pool.js; the worker is dist/workers/onnx-worker.js.
const WORKER_FILE = fileURLToPath(new URL('../../workers/onnx-worker.js', import.meta.url));

export interface ModelPoolOptions {
  readonly workers: number;
  /** The session each thread loads at start. */
  readonly session: SessionShape;
  /** The models every thread loads at start, each with the logits per text its config.json's labels call for. */
  readonly models: readonly PoolModel[];
  readonly logger: Logger;
  /** The worker module; tests substitute a fixture that wraps the real one. */
  readonly workerFile?: string;
}

/** A model the pool runs, and its number of labels (a session giving another number of logits fails its load). */
export interface PoolModel {
  readonly worker: WorkerModel;
  readonly numLabels: number;
}

/**
 * The worker threads, each with at most one ONNX session per model. Each thread is its own piscina pool of one, so a batch
 * or a load goes to the thread the caller names (src/inference/thread-layout.ts decides which holds what).
 */
export interface ModelPool {
  /**
   * Runs one batch (the token ids of its texts) on thread `slot`, on a session of `session`'s shape (the thread
   * re-creates its own if it holds another); the ids are packed into buffers that are transferred, not copied.
   * Rejects only when the thread dies or the pool is closed.
   */
  run(slot: number, model: WorkerModel, rows: readonly (Int32Array | Tokens)[], session: SessionShape): Promise<BatchOutcome>;
  /**
   * Makes thread `slot` hold a warm session of this shape (null: none) of every model the pool runs, with the
   * timed warm-up runs of the models `calibrate` names. Only call it while the thread runs no batch.
   */
  load(slot: number, session: SessionShape | null, calibrate: (key: string) => boolean): Promise<LoadResult>;
  /**
   * Loads a model on thread `slot` (a session of this shape, none for null), warmed and, with `calibrate`, timed;
   * rejects when its session gives another number of logits than its labels. Only while the thread runs no batch.
   */
  addModel(slot: number, model: PoolModel, session: SessionShape | null, calibrate: boolean): Promise<LoadResult>;
  /** From now on the pool's loads include this model (after addModel succeeded on every thread). */
  runs(model: PoolModel): void;
  /** Forgets the model (later loads of a layout leave it out) and releases its session on thread `slot`. */
  removeModel(slot: number, key: string): Promise<void>;
  /**
   * Resolves once every thread has loaded and warmed the start's models, with the timed warm-up runs of all of
   * them by model key (for the cost models); rejects if one could not.
   */
  readonly ready: Promise<ReadonlyMap<string, readonly CalibrationRun[]>>;
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
    models: options.models.map((model) => model.worker),
    session: options.session,
    statusChannel,
  };
  const models = new Map(options.models.map((model) => [model.worker.key, model]));
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
  const ready = new Promise<ReadonlyMap<string, readonly CalibrationRun[]>>((resolve, reject) => {
    const warmed = new Set<number>();
    const calibration = new Map<string, CalibrationRun[]>();
    status.onmessage = (event) => {
      const message = (event as { data: WorkerStatus }).data;
      if (message.type === 'failed') {
        reject(Errors.WorkerStart(message.message));
        return;
      }
      const wrong = labelMismatch(models, message);
      if (wrong) {
        reject(wrong);
        return;
      }
      warmed.add(message.threadId);
      for (const [key, runs] of Object.entries(message.calibration)) calibration.set(key, [...(calibration.get(key) ?? []), ...runs]);
      options.logger.info({ threadId: message.threadId, warmed: warmed.size, workers: options.workers }, 'model worker warm');
      if (warmed.size === options.workers) resolve(calibration);
    };
  });
  ready.catch(() => {}).finally(() => status.close());

  return {
    run: (slot, model, rows, session) => {
      const batch = packBatch(rows, model.typeId);
      const transferList = [batch.ids.buffer, batch.lengths.buffer, ...(batch.typeIds ? [batch.typeIds.buffer] : [])];
      return slots[slot]!.run({ run: batch, session, model }, { transferList: transferList as never }) as Promise<BatchOutcome>;
    },
    load: (slot, session, calibrate) => {
      const loads: ModelLoad[] = [...models.values()].map(({ worker }) => ({ model: worker, calibrate: calibrate(worker.key) }));
      return slots[slot]!.run({ load: session, models: loads }) as Promise<LoadResult>;
    },
    async addModel(slot, model, session, calibrate) {
      const result = (await slots[slot]!.run({ load: session, models: [{ model: model.worker, calibrate }] })) as LoadResult;
      const wrong = labelMismatch(new Map([[model.worker.key, model]]), result);
      if (wrong) throw wrong;
      return result;
    },
    runs(model) {
      models.set(model.worker.key, model);
    },
    async removeModel(slot, key) {
      models.delete(key);
      await slots[slot]!.run({ unload: key });
    },
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

/** The error of a session whose logits per text differ from its model's labels (a load's warm-up tells them). */
function labelMismatch(models: ReadonlyMap<string, PoolModel>, result: LoadResult): Error | undefined {
  for (const [key, numLabels] of Object.entries(result.numLabels)) {
    const model = models.get(key);
    // 0: no session was made (a release, or a shape it already had).
    if (!model || numLabels === 0 || numLabels === model.numLabels) continue;
    const why = `gives ${numLabels} logits per text, but config.json's id2label has ${model.numLabels} labels`;
    return Errors.ModelInvalid(model.worker.modelPath, why);
  }
  return undefined;
}
