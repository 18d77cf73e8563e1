import type { HttpResponse, HttpRequest } from 'uWebSockets.js';
import { predictionsBody } from '../prediction-body.js';
import { parseBulkPredictRequest } from '../../validation/parse-request.js';
import { createInferenceHandler, detailBody, type InferenceRouteDeps } from '../inference-route.js';

const ROUTE = 'bulk-predict';

/** POST <base>/bulk-predict: the shared prediction route (inference-route.ts), with the response memo in front of parsing. */
export function createPredictHandler(deps: InferenceRouteDeps): (res: HttpResponse, req: HttpRequest) => void {
  const { config } = deps;
  return createInferenceHandler(deps, {
    name: ROUTE,
    path: `${config.basePath}/${ROUTE}`,
    errorBody: detailBody,
    // The bare body: the reference's route, and the common case, pays for no prefix.
    memoScope: () => '',
    async answer(ctx, body) {
      const texts = parseBulkPredictRequest(body, config.maxTexts);
      const prediction = await deps.predictor.predict(texts, ctx);
      return { body: predictionsBody(prediction.predictions), prediction };
    },
  });
}
