import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { Errors, HttpError } from '../../errors.js';
import { InferenceError } from '../../inference/errors.js';
import { httpErrorFor } from '../inference-errors.js';
import { predictionsBody } from '../prediction-body.js';
import type { Config } from '../../config.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { Predictor } from '../../inference/predictor.js';
import type { Metrics } from '../../observability/metrics.js';
import { parseBulkPredictRequest } from '../../validation/parse-request.js';
import { drainBody, readBody } from '../body.js';
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
/** An oversized body up to this many times the limit is drained so the client can read its 413; a larger one is cut off. */
const DRAIN_FACTOR = 16;
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
  let bodyRead = false;
  try {
    if (lifecycle.state === 'starting') throw Errors.NotReady();
    if (!isJsonMediaType(contentType)) throw Errors.UnsupportedMediaType(contentType);
    const declared = Number(contentLength);
    if (declared > config.maxBodyBytes) {
      if (declared <= config.maxBodyBytes * DRAIN_FACTOR) bodyRead = await drainBody(ctx).then(() => true);
      throw Errors.BodyTooLarge(config.maxBodyBytes);
    }
    const body = await readBody(ctx, config.maxBodyBytes);
    bodyRead = true;
    const texts = parseBulkPredictRequest(body, config.maxTexts);
    const prediction = await deps.predictor.predict(texts, ctx);
    const headers: [string, string][] = [['x-request-id', ctx.requestId], ['x-cache', prediction.cache]];
    if (config.timingHeaders) {
      headers.push(['x-queue-time', prediction.queueMs.toFixed(3)], ['x-inference-time', prediction.inferenceMs.toFixed(3)], ['x-total-time', ctx.elapsedMs().toFixed(3)]);
    }
    sendJson(ctx, 200, predictionsBody(prediction.predictions), headers, lifecycle.state === 'draining');
  } catch (err) {
    status = answerError(deps, ctx, err, bodyRead);
  } finally {
    lifecycle.requestFinished();
    if (ctx.aborted) status = 499;
    metrics.observeRequest(ROUTE, status, ctx.elapsedMs() / 1000);
    if (deps.logger.isLevelEnabled('debug')) {
      deps.logger.debug({ reqId: ctx.requestId, status, ms: ctx.elapsedMs() }, 'request');
    }
  }
}

/** Maps any failure to its HTTP answer, counts and logs it by class, and returns the status sent. */
function answerError(deps: PredictDeps, ctx: RequestContext, err: unknown, bodyRead: boolean): number {
  // The client left: nobody to answer, and its withdrawn texts are neither a timeout nor a failure.
  if (ctx.aborted) return 499;
  const error = err instanceof HttpError ? err : err instanceof InferenceError ? httpErrorFor(err) : Errors.Internal();
  // Per request, not per batch: a failed batch of ten requests counts ten.
  if (error.code === 'INF_ERR_OVERLOADED') deps.metrics.failure('overloaded');
  if (error.code === 'INF_ERR_TIMEOUT') deps.metrics.failure('timeout');
  if (error.code === 'INF_ERR_INFERENCE') deps.metrics.failure('worker_failure');
  if (error.statusCode === 500) {
    deps.logger.error({ reqId: ctx.requestId, err }, 'prediction failed');
  } else {
    deps.logger.debug({ reqId: ctx.requestId, code: error.code }, 'request refused');
  }
  const headers: Headers = [['x-request-id', ctx.requestId]];
  // An answer given before the whole body was read closes the connection: the rest of the body must not be
  // taken for the next request.
  sendError(ctx, error, headers, !bodyRead || deps.lifecycle.state === 'draining');
  return error.statusCode;
}
