import type { ScoreFunction } from '../../model-loading/model-config.js';
import type { ServedModel } from '../../model-repository/served-model.js';
import { perModel } from '../../model-repository/per-model.js';
import { PredictionCodec } from '../../inference/prediction-codec.js';
import { scoreRow } from '../../inference/score-functions.js';
import { parseHfTextClassificationRequest, type HfTextClassificationRequest } from './parse-request.js';
import { createInferenceHandler, type Answer, type InferenceRoute, type InferenceRouteDeps } from '../../http/inference-route.js';
import { namedModel, pathSegment } from '../../http/model-path.js';
import type { RequestContext } from '../../http/request-context.js';
import type { RouteHandler } from '../../http/pipeline.js';

// HF's list of {label, score} by descending score is the cached form, cut to top_k.
const codecOf = perModel((model) => new PredictionCodec(model.info.labels));

/**
 * POST / (the default model) and POST /models/{name} (the model `name`, the hub's serverless URL shape) as Hugging
 * Face Inference Endpoints and the HF Inference API answer text-classification: one list of {label, score} by
 * descending score per input, inside a list also for a single string (what the hosted API sends, and what
 * @huggingface/inference's textClassification unwraps). Every label unless `top_k`; scores by the model's
 * function unless `function_to_apply` names another, which is computed from the logits.
 */
export function createHfInferenceHandler(deps: InferenceRouteDeps, named: boolean): RouteHandler {
  const answer: InferenceRoute<string>['answer'] = (ctx, body, _name, model) => {
    const request = parseHfTextClassificationRequest(body, deps.config.maxTexts);
    const own = model.info.scoreFunction;
    const fn = request.scoreFunction ?? own;
    return fn === own ? classify(model, ctx, request) : classifyFromLogits(model, ctx, request, fn);
  };
  // Another function_to_apply runs the model (a miss), so only the model's own scores are memoized.
  if (!named) return createInferenceHandler<string>(deps, { errorFamily: 'hf', memoScope: () => '\0hf-inference\0', answer });
  return createInferenceHandler<string>(deps, {
    errorFamily: 'hf',
    params: (req) => pathSegment(req, 0),
    model: (name) => namedModel(deps.repository, name),
    memoScope: (name) => `\0hf-inference\0${name}\0`,
    answer,
  });
}

/** The model's own scores: their cached JSON, spliced, and written anew only for a top_k below the labels. */
async function classify(model: ServedModel, ctx: RequestContext, request: HfTextClassificationRequest): Promise<Answer> {
  const prediction = await model.predictor.predict(request.texts, ctx);
  const { topK } = request;
  const codec = codecOf(model);
  const lists = prediction.predictions.map((scores) =>
    topK !== undefined && topK < codec.labels.length ? codec.encode(scores.values, topK) : scores.encoded,
  );
  return { body: `[${lists.join(',')}]`, prediction };
}

/** Scores by another function than the model's, from the logits (the cache holds the model's scores only). */
async function classifyFromLogits(
  model: ServedModel,
  ctx: RequestContext,
  request: HfTextClassificationRequest,
  fn: ScoreFunction,
): Promise<Answer> {
  const prediction = await model.predictor.logits(request.texts, ctx);
  const codec = codecOf(model);
  const lists = prediction.logits.map((row) => codec.encode(scoreRow(fn, row, 0, codec.labels.length), request.topK));
  return { body: `[${lists.join(',')}]`, prediction };
}
