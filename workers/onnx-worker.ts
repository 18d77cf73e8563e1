// piscina worker: each thread owns at most one ONNX Runtime session, created and warmed when the thread starts
// (piscina imports this module at thread start and awaits it before the first task) and re-created when the
// pool's thread layout changes (src/inference/thread-layout.ts). Texts arrive as token
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
  type ModelWorkerData,
  type SessionShape,
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

/** What the thread holds: one session, of one shape, or none (a layout that does not run this thread). */
let held: { readonly shape: SessionShape; readonly session: RecyclingSession } | undefined;
/** The model's inputs; the signature is the file's, the same for every session of it. */
let spec: ModelSpec | undefined;
let numLabels = 0;

type ModelSpec = Parameters<typeof buildModelInputs>[1];

/**
 * Holds a session of `shape` (none for null), releasing the one held before, so a thread never holds two. A new
 * session is warmed (the first run loads kernels; doing it here keeps it off the first request) and, with
 * `calibrate`, timed on each calibration shape three times, the fastest run counting (the least disturbed by
 * other threads).
 */
async function hold(shape: SessionShape | null, calibrate: boolean): Promise<CalibrationRun[]> {
  if (held && shape && held.shape.threads === shape.threads && held.shape.spin === shape.spin) return [];
  if (held) {
    const released = held.session;
    held = undefined;
    await released.release();
  }
  if (!shape) return [];
  const session = new RecyclingSession(
    () => createSession(data.modelPath, shape.threads, data.modelBytes, shape.spin),
    LARGE_BATCH,
    RECYCLE_IDLE_MS,
  );
  spec ??= {
    inputs: modelInputs(data.modelPath, (await session.current()).inputMetadata),
    padId: data.padId,
    typeId: data.typeId,
  };
  held = { shape, session };
  numLabels = (await runBatch(WARM_UP)).numLabels;
  const calibration: CalibrationRun[] = [];
  if (!calibrate) return calibration;
  for (const [rows, shapeCols] of CALIBRATION_SHAPES) {
    // A model with fewer positions (a small fine-tune) cannot run the longer shapes at all.
    const cols = Math.min(shapeCols, data.maxTokens);
    const task = (): BatchTask => packBatch(Array.from({ length: rows }, () => new Int32Array(cols)));
    let ms = Infinity;
    for (let i = 0; i < 3; i++) ms = Math.min(ms, (await runBatch(task())).inferenceMs);
    calibration.push({ rows, cols, ms });
  }
  return calibration;
}

async function runBatch(task: BatchTask): Promise<BatchResult> {
  const { feeds, rows, cols } = buildModelInputs(task, spec!);
  const t0 = performance.now();
  const outputs = await held!.session.run(feeds, rows, cols, RUN_OPTIONS);
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
  if ('load' in task) return { calibration: await hold(task.load, task.calibrate) } satisfies LoadResult;
  let result: BatchResult;
  try {
    // A thread started anew (after a crash) holds the pool's first layout, maybe not the one that runs now.
    await hold(task.session, false);
    result = await runBatch(task.run);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) } satisfies BatchFailure;
  }
  return move({ [transferableSymbol]: [result.logits.buffer], [valueSymbol]: result } as never);
}

try {
  const calibration = await hold(data.session, true);
  report({ type: 'ready', threadId, numLabels, calibration });
} catch (err) {
  report({ type: 'failed', threadId, message: err instanceof Error ? err.message : String(err) });
  throw err;
}

export default handle;
