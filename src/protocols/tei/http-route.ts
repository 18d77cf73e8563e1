import { type Answer, createInferenceHandler, type InferenceRouteDeps } from '../../http/inference-route.js';
import type { RequestContext } from '../../http/request-context.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { ServedModel } from '../../model-repository/served-model.js';

/**
 * The POST routes of the TEI family (/predict, /rerank), for the default model (TEI's routes name none): the
 * shared prediction route (inference-route.ts: API keys, admission, body limit, deadlines, draining), with
 * every error in TEI's body shape and with TEI's status (error-answers.ts). `name` is the route's, so one body
 * sent to two routes is two memo entries. `work` parses the body before it first awaits: the body may be a view
 * of uWS's receive buffer.
 */
export function createTeiRoute(
  deps: InferenceRouteDeps,
  name: string,
  work: (body: Buffer, ctx: RequestContext, model: ServedModel) => Promise<Answer>,
): RouteHandler {
  // A body answered once (truncate: false included: it fitted) gets the same answer again.
  const memoScope = `\0${name}\0`;
  return createInferenceHandler(deps, {
    errorFamily: 'tei',
    memoScope: () => memoScope,
    answer: (ctx, body, _params, model) => work(body, ctx, model),
  });
}
