import type { ScoreFunction } from '../../model-loading/model-config.js';
import type { ModelInfo } from '../../model-loading/model-info.js';
import { PredictionCodec } from '../../inference/prediction-codec.js';
import { scoreRow } from '../../inference/score-functions.js';
import { parseHfTextClassificationRequest, type HfTextClassificationRequest } from './parse-request.js';
import { createInferenceHandler, type Answer, type InferenceRouteDeps } from '../../http/inference-route.js';
import type { RequestContext } from '../../http/request-context.js';
import type { RouteHandler } from '../../http/pipeline.js';

export interface HfInferenceDeps extends InferenceRouteDeps {
  readonly model: Pick<ModelInfo, 'labels' | 'scoreFunction'>;
}

/**
 * POST / as Hugging Face Inference Endpoints and the HF Inference API answer text-classification: one list of
 * {label, score} by descending score per input, inside a list also for a single string (what the hosted API
 * sends, and what @huggingface/inference's textClassification unwraps). Every label unless `top_k`; scores by
 * the model's function unless `function_to_apply` names another, which is computed from the logits.
 */
export function createHfInferenceHandler(deps: HfInferenceDeps): RouteHandler {
  const { labels, scoreFunction } = deps.model;
  // HF's list of {label, score} by descending score is the cached form, cut to top_k.
  const codec = new PredictionCodec(labels);
  return createInferenceHandler(deps, {
    errorFamily: 'hf',
    // Another function_to_apply runs the model (a miss), so only the model's own scores are memoized.
    memoScope: () => '\0hf-inference\0',
    answer(ctx, body) {
      const request = parseHfTextClassificationRequest(body, deps.config.maxTexts);
      const fn = request.scoreFunction ?? scoreFunction;
      return fn === scoreFunction ? classify(deps, ctx, request, codec) : classifyFromLogits(deps, ctx, request, codec, fn);
    },
  });
}

/** The model's own scores: their cached JSON, spliced, and written anew only for a top_k below the labels. */
async function classify(
  deps: HfInferenceDeps,
  ctx: RequestContext,
  request: HfTextClassificationRequest,
  codec: PredictionCodec,
): Promise<Answer> {
  const prediction = await deps.predictor.predict(request.texts, ctx);
  const { topK } = request;
  const lists = prediction.predictions.map((scores) =>
    topK !== undefined && topK < codec.labels.length ? codec.encode(scores.values, topK) : scores.encoded,
  );
  return { body: `[${lists.join(',')}]`, prediction };
}

/** Scores by another function than the model's, from the logits (the cache holds the model's scores only). */
async function classifyFromLogits(
  deps: HfInferenceDeps,
  ctx: RequestContext,
  request: HfTextClassificationRequest,
  codec: PredictionCodec,
  fn: ScoreFunction,
): Promise<Answer> {
  const prediction = await deps.predictor.logits(request.texts, ctx);
  const lists = prediction.logits.map((row) => codec.encode(scoreRow(fn, row, 0, codec.labels.length), request.topK));
  return { body: `[${lists.join(',')}]`, prediction };
}
