import type { ScoreFunction } from '../../hf-config.js';
import type { ModelInfo } from '../../model-info.js';
import { createPredictionFormatter } from '../../inference/prediction-format.js';
import { parseHfTextClassificationRequest, type HfTextClassificationRequest } from '../../validation/parse-hf-request.js';
import { createInferenceHandler, type Answer, type InferenceRouteDeps } from '../inference-route.js';
import type { RequestContext } from '../request-context.js';
import type { RouteHandler } from '../pipeline.js';

export interface HfInferenceDeps extends InferenceRouteDeps {
  readonly model: Pick<ModelInfo, 'labels' | 'scoreFunction'>;
}

const SCORE_FUNCTIONS: readonly ScoreFunction[] = ['softmax', 'sigmoid', 'none'];

/**
 * POST / as Hugging Face Inference Endpoints and the HF Inference API answer text-classification: one list of
 * {label, score} by descending score per input, inside a list also for a single string (what the hosted API
 * sends, and what @huggingface/inference's textClassification unwraps). Every label unless `top_k`; scores by
 * the model's function unless `function_to_apply` names another, which is computed from the logits.
 */
export function createHfInferenceHandler(deps: HfInferenceDeps): RouteHandler {
  const { labels, scoreFunction } = deps.model;
  const formatters = new Map(SCORE_FUNCTIONS.map((fn) => [fn, createPredictionFormatter(labels, fn)]));
  return createInferenceHandler(deps, {
    errorFamily: 'hf',
    // Another function_to_apply runs the model (a miss), so only the model's own scores are memoized.
    memoScope: () => '\0hf-inference\0',
    answer(ctx, body) {
      const request = parseHfTextClassificationRequest(body, deps.config.maxTexts);
      const fn = request.scoreFunction ?? scoreFunction;
      return fn === scoreFunction
        ? classify(deps, ctx, request, labels.length)
        : classifyFromLogits(deps, ctx, request, formatters.get(fn)!);
    },
  });
}

/** The model's own scores: the cached prediction JSON, spliced, and cut only for a top_k below the labels. */
async function classify(deps: HfInferenceDeps, ctx: RequestContext, request: HfTextClassificationRequest, labels: number): Promise<Answer> {
  const prediction = await deps.predictor.predict(request.texts, ctx);
  const topK = request.topK !== undefined && request.topK < labels ? request.topK : undefined;
  return { body: `[${prediction.predictions.map((json) => firstLabels(json, topK)).join(',')}]`, prediction };
}

async function classifyFromLogits(
  deps: HfInferenceDeps,
  ctx: RequestContext,
  request: HfTextClassificationRequest,
  format: (logits: Float32Array, row: number) => string,
): Promise<Answer> {
  const prediction = await deps.predictor.logits(request.texts, ctx);
  return { body: `[${prediction.logits.map((row) => firstLabels(format(row, 0), request.topK)).join(',')}]`, prediction };
}

/** A prediction's JSON (by descending score) cut to its first `topK` labels; as it is without a top_k. */
function firstLabels(json: string, topK: number | undefined): string {
  return topK === undefined ? json : JSON.stringify((JSON.parse(json) as unknown[]).slice(0, topK));
}
