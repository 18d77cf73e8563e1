// PER_ROW_QUANTIZATION at load: the model's int8 graph rewritten so that a text's scores do not depend on its
// batch-mates (model/per-row-quantization.ts says how). Done once on the main thread; the worker threads get
// the rewritten bytes. Nothing is written to disk: model directories are read-only in the image.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  GraphNotRecognisedError,
  PER_ROW_QUANTIZATION_ID,
  perRowQuantize,
  type PerRowQuantizationResult,
} from '../../model/per-row-quantization.js';
import { Errors } from '../errors.js';
import type { ModelInfo } from './model-info.js';

/** The model with its rewrite; the model as it is if its graph quantizes nothing at run time (e.g. fp32). */
export async function withPerRowQuantization(model: ModelInfo): Promise<ModelInfo> {
  let result: PerRowQuantizationResult | undefined;
  try {
    result = perRowQuantize(await readFile(model.onnxPath));
  } catch (err) {
    if (err instanceof GraphNotRecognisedError) throw Errors.ModelGraph(model.onnxPath, err.message);
    throw err;
  }
  if (result === undefined) return model;
  // Shared memory: every worker thread, and each replacement piscina starts, reads the same bytes, no copies.
  const bytes = new Uint8Array(new SharedArrayBuffer(result.bytes.byteLength));
  bytes.set(result.bytes);
  const sha256 = createHash('sha256').update(result.bytes).digest('hex');
  // A new id, so the two modes' scores never share cache entries.
  const id = createHash('sha256').update(model.id).update(PER_ROW_QUANTIZATION_ID).update(sha256).digest('hex').slice(0, 16);
  return { ...model, id, rewrite: { name: PER_ROW_QUANTIZATION_ID, bytes, sha256, matMuls: result.matMuls } };
}
