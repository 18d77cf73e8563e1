import * as ort from 'onnxruntime-node';

/** The ONNX signature every model directory must have (DistilBERT sequence classification export). */
export const INPUT_NAMES = ['input_ids', 'attention_mask'] as const;
export const OUTPUT_NAME = 'logits';

/**
 * One session per worker thread. Intra- and inter-op threads are budgeted by the pool (workers x intraOp <=
 * CPU limit), and spinning is off so idle threads give their core back to the other workers and to the
 * HTTP thread instead of burning it while waiting for work.
 */
export async function createSession(modelPath: string, intraOpThreads: number, modelBytes?: Uint8Array): Promise<ort.InferenceSession> {
  // modelBytes: a rewrite of the file at modelPath (PER_ROW_QUANTIZATION); modelPath still names it in errors.
  // The binding takes no SharedArrayBuffer, hence the copy (ORT parses the bytes into its own memory anyway).
  const create = (options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
    modelBytes ? ort.InferenceSession.create(new Uint8Array(modelBytes), options) : ort.InferenceSession.create(modelPath, options);
  const session = await create({
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  for (const name of INPUT_NAMES) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`${modelPath} has inputs [${session.inputNames.join(', ')}]; expected ${INPUT_NAMES.join(' and ')}`);
    }
  }
  if (!session.outputNames.includes(OUTPUT_NAME)) {
    throw new Error(`${modelPath} has outputs [${session.outputNames.join(', ')}]; expected ${OUTPUT_NAME}`);
  }
  return session;
}

/**
 * Options of every run. Empty: onnxruntime-node 1.30 passes no config entries to runs, so the arena cannot be
 * shrunk per run (memory.enable_memory_arena_shrinkage); see RecyclingSession for how memory comes back.
 */
export const RUN_OPTIONS: ort.InferenceSession.RunOptions = {};
