import type { InferenceRouteDeps } from '../../http/inference-route.js';
import { Errors } from '../../errors.js';
import type { TextInput } from '../../cache/cache-key.js';
import { parseTeiRerankRequest } from './parse-request.js';
import { createTeiRoute } from './http-route.js';

/**
 * POST <tei prefix>/rerank, as TEI answers it: each text scored as the pair (query, text) through a one-label
 * cross-encoder -> [{index, score, text?}] by descending score. The score is TEI's: the logit with raw_scores,
 * else its sigmoid (whatever the model's config says of its head), so the pairs' raw logits are what is run and
 * cached. A model with more than one label is not a re-ranker: TEI's 424.
 */
export function createTeiRerankHandler(deps: InferenceRouteDeps, numLabels: number) {
  const maxBatch = deps.config.maxTexts;
  return createTeiRoute(deps, 'tei-rerank', async (body, ctx) => {
    const request = parseTeiRerankRequest(body);
    if (request.texts.length === 0) throw Errors.TextsEmpty();
    if (numLabels !== 1) throw Errors.NotReranker();
    if (request.texts.length > maxBatch) throw Errors.BatchTooLarge(request.texts.length, maxBatch);
    const pairs: TextInput[] = request.texts.map((text) => [request.query, text]);
    if (pairs.some((pair) => pair[0] === '' && pair[1] === '')) throw Errors.InputEmpty();
    const prediction = await deps.predictor.predict(pairs, ctx, { raw: true, truncate: request.truncate });
    const ranks = prediction.predictions.map((raw, index) => {
      const logit = raw.values[0];
      return { index, score: request.rawScores ? logit : Math.fround(1 / (1 + Math.exp(-logit))) };
    });
    ranks.sort((a, b) => b.score - a.score || a.index - b.index);
    const json = JSON.stringify(
      ranks.map(({ index, score }) => (request.returnText ? { index, text: request.texts[index], score } : { index, score })),
    );
    return { body: json, prediction };
  });
}
