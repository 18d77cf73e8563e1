import { predictionsBody } from './prediction-body.js';
import { parseBulkPredictRequest } from './parse-request.js';
import { createInferenceHandler, type InferenceRoute, type InferenceRouteDeps } from '../../http/inference-route.js';
import { namedModel, pathSegment } from '../../http/model-path.js';
import type { RouteHandler } from '../../http/pipeline.js';

/**
 * POST <base>/bulk-predict (the default model) and POST <base>/models/{name}/bulk-predict (the model `name`): the
 * shared prediction route (inference-route.ts), with the response memo in front of parsing.
 */
export function createPredictHandler(deps: InferenceRouteDeps, named: boolean): RouteHandler {
  const { config } = deps;
  const answer: InferenceRoute<string>['answer'] = async (ctx, body, _name, model) => {
    const texts = parseBulkPredictRequest(body, config.maxTexts);
    const prediction = await model.predictor.predict(texts, ctx);
    return { body: predictionsBody(prediction.predictions), prediction };
  };
  if (!named) {
    // The bare body: the reference's route, and the common case, pays for no prefix.
    return createInferenceHandler<string>(deps, { errorFamily: 'bulk-predict', memoScope: () => '', answer });
  }
  return createInferenceHandler<string>(deps, {
    errorFamily: 'bulk-predict',
    params: (req) => pathSegment(req, 0),
    model: (name) => namedModel(deps.repository, name),
    // A served model's name (MODEL_NAME: no NUL), so no two names share a key.
    memoScope: (name) => `\0bulk-predict\0${name}\0`,
    answer,
  });
}
