// The stand-in model run directly through onnxruntime-node in the test process, one text at a time: the
// ground truth the service's answers are compared with. directScores runs the model as the service runs it by
// default: rewritten by PER_ROW_QUANTIZATION (model/per-row-quantization.ts, tested against the file's model in
// per-row-quantization.test.ts and batch-invariance.test.ts) when that setting's default is on, the file as it
// is otherwise; untransformedScores always runs the file as it is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { perRowQuantize } from '../dist/model/per-row-quantization.js';
import { Config as configSchema } from '../dist/src/generated/schemas.js';
import { STANDIN_MODEL_DIR } from './helper.js';

export const id2label: Record<string, string> = JSON.parse(readFileSync(join(STANDIN_MODEL_DIR, 'config.json'), 'utf8')).id2label;

const tokenizer = await Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
tokenizer.setTruncation(512);
const file = readFileSync(join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'));
const rewritten = perRowQuantize(file);
if (!rewritten) throw new Error('the stand-in has no run-time quantization to rewrite');
const untransformed = await ort.InferenceSession.create(file);
const rewrittenByDefault = (configSchema.properties as Record<string, { default?: unknown }>).perRowQuantization.default === true;
const sessions = {
  default: rewrittenByDefault ? await ort.InferenceSession.create(rewritten.bytes) : untransformed,
  untransformed,
};

async function scores(session: ort.InferenceSession, text: string): Promise<Record<string, number>> {
  const encoding = await tokenizer.encode(text);
  const ids = BigInt64Array.from(encoding.getIds(), BigInt);
  const mask = BigInt64Array.from(encoding.getAttentionMask(), BigInt);
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
    attention_mask: new ort.Tensor('int64', mask, [1, mask.length]),
  });
  const logits = Array.from(out.logits.data as Float32Array);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return Object.fromEntries(exps.map((e, i) => [id2label[String(i)], e / sum]));
}

/** Softmax of the logits of `text` run alone through the model as the service runs it by default, by label name. */
export const directScores = (text: string): Promise<Record<string, number>> => scores(sessions.default, text);
/** The same through the file's model as it is (PER_ROW_QUANTIZATION=false). */
export const untransformedScores = (text: string): Promise<Record<string, number>> => scores(sessions.untransformed, text);

/** Largest score difference between a service prediction and the direct run of the same text. */
export async function maxScoreDiff(text: string, prediction: { label: string; score: number }[]): Promise<number> {
  const expected = await directScores(text);
  return Math.max(...prediction.map(({ label, score }) => Math.abs(score - expected[label])));
}

/**
 * The stand-in README measures at most 0.0147 between a text's solo and batch-of-32 scores with the file's
 * per-batch quantization; with PER_ROW_QUANTIZATION (the default) the difference is 0.
 */
export const BATCH_TOLERANCE = 0.02;
