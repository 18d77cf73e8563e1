// piscina worker: each thread owns at most one ONNX Runtime session per model, created and warmed when the thread
// starts (piscina imports this module at thread start and awaits it before the first task) or when a model is
// loaded, and re-created when the pool's thread layout changes (src/inference/thread-layout.ts). Texts arrive as token
// ids (tokenized on arrival by the tokenizer threads), so the main thread knows every batch's exact size.
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { createSession, modelInputs, OUTPUT_NAME, RUN_OPTIONS } from './session.js';
import { RecyclingSession } from './recycling-session.js';
import { buildModelInputs } from './model-inputs.js';
import {
  packBatch,
  type BatchFailure,
  type BatchResult,
  type BatchTask,
  type CalibrationRun,
  type LoadResult,
  type ModelTask,
  type ModelLoad,
  type ModelWorkerData,
  type SessionShape,
  type WorkerModel,
  type WorkerStatus,
} from './protocol.js';

const data = workerData as ModelWorkerData;
const status = new BroadcastChannel(data.statusChannel);
// The channel must not keep the thread alive; piscina decides the thread's lifetime.
status.unref();
const report = (message: WorkerStatus): void => status.postMessage(message);

/** Warm-up input: one row of 8 ids of 0 (present in every vocabulary). */
const WARM_UP: BatchTask = { ids: new Int32Array(8), lengths: Int32Array.of(8) };
/**
 * A batch whose attention (rows x longest^2) exceeds 32 x 128^2 grows the arena well past what short texts
 * need (SST-2 sentences, at most 57 tokens, never do); after one, the session is re-created once the thread
 * has been idle for 5 s (see RecyclingSession).
 */
const LARGE_BATCH = 32 * 128 * 128;
const RECYCLE_IDLE_MS = 5_000;
/** Shapes (rows x tokens) timed at warm-up to calibrate the main thread's cost model: spread over both terms. */
const CALIBRATION_SHAPES = [
  [1, 8],
  [1, 64],
  [8, 16],
  [8, 64],
  [32, 16],
  [16, 48],
  [4, 128],
] as const;

/** A model's session on this thread, of one shape, and the model's inputs (the file's signature, the same for every session of it). */
interface HeldModel {
  readonly shape: SessionShape;
  readonly session: RecyclingSession;
  readonly spec: ModelSpec;
}

/** The sessions the thread holds, one per model at most, by model key. */
const held = new Map<string, HeldModel>();

type ModelSpec = Parameters<typeof buildModelInputs>[1];

/**
 * Holds a session of `shape` for `model` (none for null), releasing the one held before, so a thread never holds
 * two of one model. A new session is warmed (the first run loads kernels; doing it here keeps it off the first
 * request) and, with `calibrate`, timed on each calibration shape three times, the fastest run counting (the
 * least disturbed by other threads). Returns the logits per text of the warm-up (0 without a new session).
 */
async function hold(model: WorkerModel, shape: SessionShape | null, calibrate: boolean, calibration: CalibrationRun[]): Promise<number> {
  const current = held.get(model.key);
  if (current && shape && current.shape.threads === shape.threads && current.shape.spin === shape.spin) return 0;
  await release(model.key);
  if (!shape) return 0;
  const session = new RecyclingSession(
    () => createSession(model.modelPath, shape.threads, model.modelBytes, shape.spin),
    LARGE_BATCH,
    RECYCLE_IDLE_MS,
  );
  const spec: ModelSpec = {
    inputs: modelInputs(model.modelPath, (await session.current()).inputMetadata),
    padId: model.padId,
    typeId: model.typeId,
  };
  const now: HeldModel = { shape, session, spec };
  held.set(model.key, now);
  const { numLabels } = await runBatch(now, WARM_UP);
  if (!calibrate) return numLabels;
  for (const [rows, shapeCols] of CALIBRATION_SHAPES) {
    // A model with fewer positions (a small fine-tune) cannot run the longer shapes at all.
    const cols = Math.min(shapeCols, model.maxTokens);
    const task = (): BatchTask => packBatch(Array.from({ length: rows }, () => new Int32Array(cols)));
    let ms = Infinity;
    for (let i = 0; i < 3; i++) ms = Math.min(ms, (await runBatch(now, task())).inferenceMs);
    calibration.push({ rows, cols, ms });
  }
  return numLabels;
}

async function release(key: string): Promise<void> {
  const released = held.get(key);
  if (!released) return;
  held.delete(key);
  await released.session.release();
}

/** Loads (or releases) these models' sessions one after another: a thread's loads never overlap its own runs. */
async function load(shape: SessionShape | null, models: readonly ModelLoad[]): Promise<LoadResult> {
  const calibration: Record<string, CalibrationRun[]> = {};
  const numLabels: Record<string, number> = {};
  for (const { model, calibrate } of models) {
    const runs: CalibrationRun[] = [];
    numLabels[model.key] = await hold(model, shape, calibrate, runs);
    calibration[model.key] = runs;
  }
  return { calibration, numLabels };
}

async function runBatch(model: HeldModel, task: BatchTask): Promise<BatchResult> {
  const { feeds, rows, cols } = buildModelInputs(task, model.spec);
  const t0 = performance.now();
  const outputs = await model.session.run(feeds, rows, cols, RUN_OPTIONS);
  const t1 = performance.now();
  const logitsTensor = outputs[OUTPUT_NAME];
  return {
    // A fresh buffer of exactly this batch's logits, so transferring it hands over nothing else.
    logits: new Float32Array(logitsTensor.data as Float32Array),
    numLabels: logitsTensor.dims[1] ?? 0,
    paddedTokens: rows * cols,
    inferenceMs: t1 - t0,
  };
}

async function handle(task: ModelTask): Promise<unknown> {
  if ('load' in task) return load(task.load, task.models);
  if ('unload' in task) {
    await release(task.unload);
    return { calibration: {}, numLabels: {} } satisfies LoadResult;
  }
  let result: BatchResult;
  try {
    // A thread started anew (after a crash) holds the pool's first layout, maybe not the one that runs now, and
    // only the models of the pool's start.
    await hold(task.model, task.session, false, []);
    result = await runBatch(held.get(task.model.key)!, task.run);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) } satisfies BatchFailure;
  }
  return move({ [transferableSymbol]: [result.logits.buffer], [valueSymbol]: result } as never);
}

try {
  const loaded = await load(
    data.session,
    data.models.map((model) => ({ model, calibrate: true })),
  );
  report({ type: 'ready', threadId, ...loaded });
} catch (err) {
  report({ type: 'failed', threadId, message: err instanceof Error ? err.message : String(err) });
  throw err;
}

export default handle;
