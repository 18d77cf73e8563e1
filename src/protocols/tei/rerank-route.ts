import type { InferenceRouteDeps } from '../../http/inference-route.js';
import { parseTeiRerankRequest } from './parse-request.js';
import { teiRerank } from './rerank.js';
import { createTeiRoute } from './http-route.js';

/**
 * POST <tei prefix>/rerank, as TEI answers it (rerank.ts): each text scored as the pair (query, text)
 * through a one-label cross-encoder -> [{index, score, text?}] by descending score. A model with more than one
 * label is not a re-ranker: TEI's 424.
 */
export function createTeiRerankHandler(deps: InferenceRouteDeps) {
  const maxBatch = deps.config.maxTexts;
  return createTeiRoute(deps, 'tei-rerank', async (body, ctx, model) => {
    const request = parseTeiRerankRequest(body);
    const limits = { numLabels: model.info.labels.length, maxBatch };
    const { ranks, predictions } = await teiRerank(model.predictor, limits, request, ctx);
    // One query, one `truncate`: one prediction.
    return { body: JSON.stringify(ranks), prediction: predictions[0] };
  });
}
