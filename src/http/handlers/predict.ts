import type { HttpResponse, HttpRequest } from 'uWebSockets.js';
import { predictionsBody } from '../prediction-body.js';
import { parseBulkPredictRequest } from '../../validation/parse-request.js';
import { createInferenceHandler, detailBody, logRequest, type Answer, type InferenceRouteDeps } from '../inference-route.js';
import type { RequestContext } from '../request-context.js';
import { headerLines, sendLinesInCallback } from '../respond.js';
import type { MemoizedAnswer, ResponseMemo } from '../response-memo.js';

export interface PredictDeps extends InferenceRouteDeps {
  /** The model the memo's answers belong to. */
  readonly modelId: string;
  /** Undefined when the memo is off. */
  readonly memo: ResponseMemo | undefined;
}

const ROUTE = 'bulk-predict';

/** POST <base>/bulk-predict: the shared prediction route (inference-route.ts), with the response memo in front of parsing. */
export function createPredictHandler(deps: PredictDeps): (res: HttpResponse, req: HttpRequest) => void {
  const { config, memo } = deps;
  // A memoized answer's header lines are the same as those a request whose texts were all cached (no queue,
  // no model) gets, rendered once around the request id and the total time.
  const memoLinesBeforeId = headerLines('application/json', [['x-request-id', '']]);
  const memoLinesAfterId = headerLines(
    '',
    config.timingHeaders
      ? [
          ['x-cache', 'hit'],
          ['x-queue-time', '0.000'],
          ['x-inference-time', '0.000'],
          ['x-total-time', ''],
        ]
      : [['x-cache', 'hit']],
  );

  /** The memoized answer, from inside onData; counted and logged like any other request. */
  const answerFromMemo = (ctx: RequestContext, memoized: MemoizedAnswer): void => {
    // onData never runs for a request whose client left, so this answer is always sent.
    const ms = ctx.elapsedMs();
    let lines = memoLinesBeforeId + ctx.requestId + memoLinesAfterId + (config.timingHeaders ? ms.toFixed(3) : '');
    if (ctx.trace) lines += `\r\ntraceparent: ${ctx.trace.traceparent}`;
    sendLinesInCallback(ctx, lines, memoized.body, deps.lifecycle.state === 'draining');
    deps.lifecycle.requestFinished();
    deps.metrics.observeMemoAnswer(ROUTE, ms / 1000, memoized.distinctTexts);
    ctx.trace?.end(200, { 'inference.response_memo': true });
    logRequest(deps, ctx, 200);
  };

  return createInferenceHandler(deps, {
    name: ROUTE,
    path: `${config.basePath}/${ROUTE}`,
    errorBody: detailBody,
    answer(ctx, body) {
      const key = memo?.keyOf(body);
      const memoized = key === undefined ? undefined : memo!.get(deps.modelId, key);
      if (memoized !== undefined) {
        answerFromMemo(ctx, memoized);
        return undefined;
      }
      // Before anything is awaited: `body` may be a view of uWS's receive buffer (see readBody).
      const texts = parseBulkPredictRequest(body, config.maxTexts);
      return predict(deps, ctx, texts, key);
    },
  });
}

async function predict(deps: PredictDeps, ctx: RequestContext, texts: string[], memoKey: string | undefined): Promise<Answer> {
  const prediction = await deps.predictor.predict(texts, ctx);
  const body = predictionsBody(prediction.predictions);
  // Only an answer the cache gave whole is memoized: it is what this body will get from now on.
  if (memoKey !== undefined && prediction.cache === 'hit') deps.memo!.set(deps.modelId, memoKey, body, new Set(texts).size);
  return { body, prediction };
}
