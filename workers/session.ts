import * as ort from 'onnxruntime-node';

/** The classification head's output (transformers' and optimum's name for it). */
export const OUTPUT_NAME = 'logits';

/** What the server fills each input with, by the name Hugging Face exports give it. */
export const FILLABLE_INPUTS = { input_ids: 'ids', attention_mask: 'attentionMask', token_type_ids: 'typeIds' } as const;
export type TokenField = (typeof FILLABLE_INPUTS)[keyof typeof FILLABLE_INPUTS];

/** One input of the model's signature and how it is filled. */
export interface ModelInput {
  readonly name: string;
  readonly field: TokenField;
  readonly type: 'int64' | 'int32';
}

/**
 * The options of every worker's session. Intra- and inter-op threads are budgeted by the pool (the sessions that
 * run at once have at most the CPU limit's threads between them). `spin`: a session that runs alone (the wide
 * layout, src/inference/thread-layout.ts) lets its threads spin between the operators of a run, which is what
 * makes a second thread pay off for one text (one sentence: ~6 ms against ~8.3 ms without spinning, no faster
 * than one thread, in bench:latency's direct run), and stops them when the run ends (force_spinning_stop), so an
 * idle session burns no core. Sessions that run side by side never spin: a spinning thread takes the core another
 * session's run needs (two 2-thread spinning sessions ran 16-text batches at 0.66x of two 1-thread ones).
 */
export function sessionOptions(intraOpThreads: number, spin = false): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    extra: {
      session: {
        intra_op: { allow_spinning: spin ? '1' : '0' },
        inter_op: { allow_spinning: '0' },
        force_spinning_stop: '1',
      },
    },
  };
}

/** One session per worker thread, with sessionOptions. */
export async function createSession(
  modelPath: string,
  intraOpThreads: number,
  modelBytes?: Uint8Array,
  spin = false,
): Promise<ort.InferenceSession> {
  // modelBytes: a rewrite of the file at modelPath (PER_ROW_QUANTIZATION); modelPath still names it in errors.
  // The binding takes no SharedArrayBuffer, hence the copy (ORT parses the bytes into its own memory anyway).
  const options = sessionOptions(intraOpThreads, spin);
  const session = modelBytes
    ? await ort.InferenceSession.create(new Uint8Array(modelBytes), options)
    : await ort.InferenceSession.create(modelPath, options);
  if (!session.outputNames.includes(OUTPUT_NAME)) {
    throw new Error(`${modelPath} has outputs [${session.outputNames.join(', ')}]; expected ${OUTPUT_NAME}`);
  }
  return session;
}

/**
 * The inputs the model declares, each mapped to what fills it and its integer type. An input the server
 * cannot fill (e.g. position_ids, pixel_values) or a type other than int64/int32 stops the worker's start,
 * naming it; input_ids and attention_mask are required.
 */
export function modelInputs(modelPath: string, metadata: readonly ort.InferenceSession.ValueMetadata[]): ModelInput[] {
  const inputs = metadata.map((input): ModelInput => {
    const field = Object.hasOwn(FILLABLE_INPUTS, input.name) ? FILLABLE_INPUTS[input.name as keyof typeof FILLABLE_INPUTS] : undefined;
    if (field === undefined) {
      throw new Error(
        `${modelPath} has an input "${input.name}" that this server cannot fill; it fills ${Object.keys(FILLABLE_INPUTS).join(', ')}`,
      );
    }
    const type = input.isTensor ? input.type : undefined;
    if (type !== 'int64' && type !== 'int32') {
      throw new Error(`${modelPath} declares its input "${input.name}" as ${type ?? 'a non-tensor'}; this server fills int64 or int32`);
    }
    return { name: input.name, field, type };
  });
  for (const required of ['input_ids', 'attention_mask']) {
    if (!inputs.some((i) => i.name === required)) {
      throw new Error(`${modelPath} has inputs [${inputs.map((i) => i.name).join(', ')}]; expected input_ids and attention_mask`);
    }
  }
  return inputs;
}

/**
 * Options of every run. Empty: onnxruntime-node 1.30 passes no config entries to runs, so the arena cannot be
 * shrunk per run (memory.enable_memory_arena_shrinkage); see RecyclingSession for how memory comes back.
 */
export const RUN_OPTIONS: ort.InferenceSession.RunOptions = {};
