import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Errors, HttpError } from '../../errors.js';
import { InferenceError } from '../../inference/errors.js';
import type { Prediction } from '../../inference/predictor.js';
import { httpErrorFor } from '../inference-errors.js';
import { drainBody, readBody } from '../body.js';
import { RequestContext } from '../request-context.js';
import { createRequestIds } from '../request-id.js';
import { send, type Headers } from '../respond.js';
import { teiErrorFor } from '../tei-errors.js';
import { isJsonMediaType, type PredictDeps } from './predict.js';

/** An oversized body up to this many times the limit is drained so the client can read its 413; a larger one is cut off. */
const DRAIN_FACTOR = 16;
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** What a TEI route's work gives back: the JSON body, and the prediction it came from (for the headers). */
export interface TeiAnswer {
  readonly body: string;
  readonly prediction: Prediction;
}

/**
 * The POST routes of the TEI family (/predict, /rerank): the same edge as bulk-predict (request ids, the
 * not-ready refusal, media type, body limit, deadlines, draining, the request metrics under the route's own
 * label), with every error rendered in TEI's body shape and with TEI's status (src/http/tei-errors.ts).
 */
export function createTeiRoute(
  deps: PredictDeps,
  route: string,
  work: (body: Buffer, ctx: RequestContext) => Promise<TeiAnswer>,
): (res: HttpResponse, req: HttpRequest) => void {
  const { config, lifecycle } = deps;
  const nextRequestId = createRequestIds();

  const finish = (ctx: RequestContext, status: number): void => {
    lifecycle.requestFinished();
    deps.metrics.observeRequest(route, ctx.aborted ? 499 : status, ctx.elapsedMs() / 1000);
    if (deps.logger.isLevelEnabled('debug')) deps.logger.debug({ reqId: ctx.requestId, route, status, ms: ctx.elapsedMs() }, 'request');
  };

  /** Maps any failure to its TEI answer, counts and logs it by class, and returns the status sent. */
  const answerError = (ctx: RequestContext, err: unknown, bodyRead: boolean): number => {
    if (ctx.aborted) return 499;
    const error = err instanceof HttpError ? err : err instanceof InferenceError ? httpErrorFor(err) : Errors.Internal();
    if (error.code === 'INF_ERR_OVERLOADED') deps.metrics.failure('overloaded');
    if (error.code === 'INF_ERR_TIMEOUT') deps.metrics.failure('timeout');
    if (error.code === 'INF_ERR_INFERENCE') deps.metrics.failure('worker_failure');
    if (error.statusCode === 500) deps.logger.error({ reqId: ctx.requestId, route, err }, 'prediction failed');
    else deps.logger.debug({ reqId: ctx.requestId, route, code: error.code }, 'request refused');
    const answer = teiErrorFor(error);
    send(
      ctx,
      answer.status,
      'application/json',
      answer.body,
      [...answer.headers, ['x-request-id', ctx.requestId]],
      !bodyRead || lifecycle.state === 'draining',
    );
    return answer.status;
  };

  const refuse = (ctx: RequestContext, err: unknown, bodyRead: boolean): false => {
    finish(ctx, answerError(ctx, err, bodyRead));
    return false;
  };

  const answer = async (ctx: RequestContext, body: Buffer): Promise<void> => {
    let status = 200;
    try {
      const { body: json, prediction } = await work(body, ctx);
      const headers: [string, string][] = [
        ['x-request-id', ctx.requestId],
        ['x-cache', prediction.cache],
      ];
      if (config.timingHeaders) {
        headers.push(
          ['x-queue-time', prediction.queueMs.toFixed(3)],
          ['x-inference-time', prediction.inferenceMs.toFixed(3)],
          ['x-total-time', ctx.elapsedMs().toFixed(3)],
        );
      }
      send(ctx, 200, 'application/json', json, headers as Headers, lifecycle.state === 'draining');
    } catch (err) {
      status = answerError(ctx, err, true);
    }
    finish(ctx, status);
  };

  return (res, req) => {
    const clientId = req.getHeader('x-request-id');
    const ctx = new RequestContext(res, clientId !== '' && REQUEST_ID.test(clientId) ? clientId : nextRequestId(), config.requestTimeoutMs);
    lifecycle.requestStarted();
    if (lifecycle.state === 'starting') return void refuse(ctx, Errors.NotReady(), false);
    const contentType = req.getHeader('content-type');
    if (!isJsonMediaType(contentType)) return void refuse(ctx, Errors.UnsupportedMediaType(contentType), false);
    const declared = Number(req.getHeader('content-length'));
    if (declared > config.maxBodyBytes) {
      const tooLarge = Errors.BodyTooLarge(config.maxBodyBytes);
      if (declared > config.maxBodyBytes * DRAIN_FACTOR) return void refuse(ctx, tooLarge, false);
      void drainBody(ctx).then(() => refuse(ctx, tooLarge, true));
      return;
    }
    // The body is parsed before anything is awaited in `work`: it may be a view of uWS's receive buffer.
    readBody(
      ctx,
      config.maxBodyBytes,
      (c, body) => void answer(c, body),
      (c, err) => refuse(c, err, false),
    );
  };
}
