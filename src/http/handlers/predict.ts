import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { Errors, HttpError } from '../../errors.js';
import type { Config } from '../../config.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { Predictor } from '../../inference/predictor.js';
import type { Metrics } from '../../observability/metrics.js';
import { parseBulkPredictRequest } from '../../validation/parse-request.js';
import { readBody } from '../body.js';
import { RequestContext } from '../request-context.js';
import { sendError, sendJson, type Headers } from '../respond.js';

export interface PredictDeps {
  readonly config: Config;
  readonly predictor: Predictor;
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

const ROUTE = 'bulk-predict';
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** No Content-Type (the reference's k6 script sends none), application/json with any charset, or +json. */
export function isJsonMediaType(contentType: string): boolean {
  if (contentType === '') return true;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** POST <base>/bulk-predict: headers (synchronously, as uWS requires) -> body -> parse -> predict -> answer. */
export function createPredictHandler(deps: PredictDeps): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    const clientId = req.getHeader('x-request-id');
    const ctx = new RequestContext(res, REQUEST_ID.test(clientId) ? clientId : randomUUID(), deps.config.requestTimeoutMs);
    void handle(deps, ctx, req.getHeader('content-type'), req.getHeader('content-length'));
  };
}

async function handle(deps: PredictDeps, ctx: RequestContext, contentType: string, contentLength: string): Promise<void> {
  const { config, lifecycle, metrics } = deps;
  lifecycle.requestStarted();
  let status = 200;
  try {
    if (lifecycle.state === 'starting') throw Errors.NotReady();
    if (!isJsonMediaType(contentType)) throw Errors.UnsupportedMediaType(contentType);
    if (Number(contentLength) > config.maxBodyBytes) throw Errors.BodyTooLarge(config.maxBodyBytes);
    const texts = parseBulkPredictRequest(await readBody(ctx, config.maxBodyBytes), config.maxTexts);
    const prediction = await deps.predictor.predict(texts, ctx);
    const headers: [string, string][] = [['x-request-id', ctx.requestId], ['x-cache', prediction.cache]];
    if (config.timingHeaders) {
      headers.push(['x-queue-time', prediction.queueMs.toFixed(3)], ['x-inference-time', prediction.inferenceMs.toFixed(3)], ['x-total-time', ctx.elapsedMs().toFixed(3)]);
    }
    sendJson(ctx, 200, prediction.body, headers, lifecycle.state === 'draining');
  } catch (err) {
    status = answerError(deps, ctx, err);
  } finally {
    lifecycle.requestFinished();
    metrics.observeRequest(ROUTE, ctx.aborted ? 499 : status, ctx.elapsedMs() / 1000);
    if (deps.logger.isLevelEnabled('debug')) {
      deps.logger.debug({ reqId: ctx.requestId, status, aborted: ctx.aborted, ms: ctx.elapsedMs() }, 'request');
    }
  }
}

/** Maps any failure to its HTTP answer, counts and logs it by class, and returns the status sent. */
function answerError(deps: PredictDeps, ctx: RequestContext, err: unknown): number {
  const error = err instanceof HttpError ? err : Errors.Internal();
  if (error.code === 'INF_ERR_OVERLOADED') deps.metrics.failure('overloaded');
  if (error.code === 'INF_ERR_TIMEOUT') deps.metrics.failure('timeout');
  if (error.statusCode === 500) {
    deps.logger.error({ reqId: ctx.requestId, err }, 'prediction failed');
  } else if (!ctx.aborted) {
    deps.logger.debug({ reqId: ctx.requestId, code: error.code }, 'request refused');
  }
  const headers: Headers = [['x-request-id', ctx.requestId]];
  // Answers given before the body was read close the connection: the unread body must not be taken for
  // the next request.
  const bodyUnread = error.code === 'INF_ERR_NOT_READY' || error.code === 'INF_ERR_MEDIA_TYPE' || error.code === 'INF_ERR_BODY_TOO_LARGE';
  sendError(ctx, error, headers, bodyUnread || deps.lifecycle.state === 'draining');
  return error.statusCode;
}
