// The model a request is for: the one its path names (every protocol's named routes), or DEFAULT_MODEL for the
// routes that name none; either way one Map lookup, and a 404 in the route family's shape when it is not served.
import { Errors } from '../errors.js';
import type { HttpRequest } from 'uWebSockets.js';
import type { ModelLookup } from '../model-repository/model-repository.js';
import type { ServedModel } from '../model-repository/served-model.js';
import { type ApiFamily, errorAnswer, requestErrorOf } from './error-answers.js';
import type { RequestContext } from './request-context.js';
import type { RouteHandler } from './pipeline.js';
import { sendNow } from './respond.js';

/**
 * A raw path segment (uWS gives them as sent), percent-decoded, so `sent%69ment` names `sentiment` on every
 * route; as it is when it does not decode. Model names need no escaping (MODEL_NAME), so this is rare.
 */
function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The request line's `index`th parameter (a path segment), decoded. uWS allows it only before the handler returns. */
export function pathSegment(req: HttpRequest, index: number): string {
  return decodeSegment(req.getParameter(index) ?? '');
}

/** The model `name` (decoded) names, served and, when `version` is given, of that version; else ModelNotFound. */
export function namedModel(lookup: ModelLookup, name: string, version?: string): ServedModel {
  const model = lookup.get(name);
  if (model === undefined || (version !== undefined && version !== model.version)) throw Errors.ModelNotFound(name);
  return model;
}

/** The model of the routes that name none (DEFAULT_MODEL); ModelNotFound while it is not served (unloaded). */
export function defaultModel(lookup: ModelLookup): ServedModel {
  return namedModel(lookup, lookup.defaultName);
}

/**
 * A GET route about one model, answered from memory: `answer` with the model `resolve` finds (read from the
 * request line, synchronously as uWS requires), or its 404 in `family`'s error shape.
 */
export function modelRoute(
  family: ApiFamily,
  resolve: (req: HttpRequest) => ServedModel,
  answer: (ctx: RequestContext, model: ServedModel) => void,
): RouteHandler {
  return (ctx, req) => {
    let model: ServedModel;
    try {
      model = resolve(req);
    } catch (err) {
      const refusal = errorAnswer(requestErrorOf(err), family);
      sendNow(ctx, refusal.status, 'application/json', refusal.body);
      return;
    }
    answer(ctx, model);
  };
}
