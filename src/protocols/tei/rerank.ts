import { Errors } from '../../errors.js';
import type { Prediction, Predictor, RequestScope } from '../../inference/predictor.js';

/** One text's place in a rerank answer: its index in the request, its score and, with return_text, the text. */
export interface Rank {
  readonly index: number;
  readonly score: number;
  readonly text?: string;
}

/** A (query, text) pair to rank, and whether an input past the model's limit is cut (TEI's truncate) or refused. */
export interface RerankPair {
  readonly query: string;
  readonly text: string;
  readonly truncate: boolean;
}

export interface RerankOptions {
  readonly rawScores: boolean;
  readonly returnText: boolean;
}

/**
 * TEI's rerank (router/src/http/server.rs, grpc/server.rs): the texts of one query, refused when there are
 * none, when the model is not a one-label cross-encoder (TEI: "model is not a re-ranker model") or past the
 * client batch limit, in that order; then ranked as rankPairs() ranks them.
 */
export async function teiRerank(
  predictor: Predictor,
  limits: { readonly numLabels: number; readonly maxBatch: number },
  request: { readonly query: string; readonly texts: readonly string[]; readonly truncate: boolean } & RerankOptions,
  scope: RequestScope,
): Promise<{ ranks: Rank[]; predictions: Prediction[] }> {
  if (request.texts.length === 0) throw Errors.TextsEmpty();
  checkReranker(limits.numLabels);
  if (request.texts.length > limits.maxBatch) throw Errors.BatchTooLarge(request.texts.length, limits.maxBatch);
  const pairs = request.texts.map((text) => ({ query: request.query, text, truncate: request.truncate }));
  return rankPairs(predictor, pairs, request, scope);
}

/** TEI ranks only with a one-label model (a cross-encoder); a classifier's rerank is its FAILED_PRECONDITION / 424. */
export function checkReranker(numLabels: number): void {
  if (numLabels !== 1) throw Errors.NotReranker();
}

/**
 * Each pair scored through the cross-encoder and ranked by descending score (ties by index). The score is
 * TEI's: the logit with raw_scores, else its sigmoid (whatever the model's config says of its head), so the
 * pairs' raw logits are what is run and cached. Pairs that differ in `truncate` (a stream's messages may) are
 * predicted in one call per value, since an input is cut or refused by its own message's choice.
 */
export async function rankPairs(
  predictor: Predictor,
  pairs: readonly RerankPair[],
  options: RerankOptions,
  scope: RequestScope,
): Promise<{ ranks: Rank[]; predictions: Prediction[] }> {
  if (pairs.some((pair) => pair.query === '' && pair.text === '')) throw Errors.InputEmpty();
  const logits = new Float64Array(pairs.length);
  const groups = [true, false].map((truncate) => pairs.flatMap((pair, index) => (pair.truncate === truncate ? [index] : [])));
  const predictions = await Promise.all(
    groups
      .filter((indexes) => indexes.length > 0)
      .map(async (indexes) => {
        const inputs = indexes.map((i): [string, string] => [pairs[i].query, pairs[i].text]);
        const prediction = await predictor.predict(inputs, scope, { raw: true, truncate: pairs[indexes[0]].truncate });
        prediction.predictions.forEach((raw, k) => {
          logits[indexes[k]] = raw.values[0];
        });
        return prediction;
      }),
  );
  const ranks = Array.from(logits, (logit, index): Rank => {
    const score = options.rawScores ? logit : Math.fround(1 / (1 + Math.exp(-logit)));
    return options.returnText ? { index, text: pairs[index].text, score } : { index, score };
  });
  ranks.sort((a, b) => b.score - a.score || a.index - b.index);
  return { ranks, predictions };
}
