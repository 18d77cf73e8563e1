import { predictionsBody } from './prediction-body.js';
import { parseBulkPredictRequest } from './parse-request.js';
import { createInferenceHandler, type InferenceRouteDeps } from '../../http/inference-route.js';
import type { RouteHandler } from '../../http/pipeline.js';

/** POST <base>/bulk-predict: the shared prediction route (inference-route.ts), with the response memo in front of parsing. */
export function createPredictHandler(deps: InferenceRouteDeps): RouteHandler {
  const { config } = deps;
  return createInferenceHandler(deps, {
    errorFamily: 'bulk-predict',
    // The bare body: the reference's route, and the common case, pays for no prefix.
    memoScope: () => '',
    async answer(ctx, body) {
      const texts = parseBulkPredictRequest(body, config.maxTexts);
      const prediction = await deps.predictor.predict(texts, ctx);
      return { body: predictionsBody(prediction.predictions), prediction };
    },
  });
}
