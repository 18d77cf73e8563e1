import type { InferenceRouteDeps } from '../../http/inference-route.js';
import { Errors } from '../../errors.js';
import { parseTeiPredictRequest } from './parse-request.js';
import { teiPredict } from './predict.js';
import { createTeiRoute } from './http-route.js';

/**
 * POST <tei prefix>/predict, as TEI answers it: one input (a string, or ONE pair [text, text_pair]) -> a list of
 * {label, score} by descending score; a batch (a list of [text] / [text, text_pair]) -> a list of such lists.
 * `raw_scores: true` answers the logits (cached apart from the scores, see src/cache/cache-key.ts); `truncate`
 * defaults to false, as TEI's does: an input past the model's limit is TEI's 413, not cut. Each input's list is
 * its scores' cached JSON, spliced, as bulk-predict's are (each item is {"label", "score"}: TEI's fields).
 */
export function createTeiPredictHandler(deps: InferenceRouteDeps) {
  const maxBatch = deps.config.maxTexts;
  return createTeiRoute(deps, 'tei-predict', async (body, ctx, model) => {
    const request = parseTeiPredictRequest(body);
    if (request.batch && request.inputs.length > maxBatch) throw Errors.BatchTooLarge(request.inputs.length, maxBatch);
    const prediction = await teiPredict(model.predictor, request.inputs, ctx, { raw: request.rawScores, truncate: request.truncate });
    const lists = prediction.predictions.map((scores) => scores.encoded);
    const json = request.batch ? `[${lists.join(',')}]` : lists[0];
    return { body: json, prediction };
  });
}
