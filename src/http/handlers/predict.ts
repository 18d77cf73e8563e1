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
import type { Tracing } from '../../observability/tracing.js';
import { parseBulkPredictRequest } from '../../validation/parse-request.js';
import { drainBody, readBody } from '../body.js';
import { RequestContext } from '../request-context.js';
import { createRequestIds } from '../request-id.js';
import { headerLines, sendError, sendJson, sendLinesInCallback, type Headers } from '../respond.js';
import type { MemoizedAnswer, ResponseMemo } from '../response-memo.js';

export interface PredictDeps {
  readonly config: Config;
  readonly predictor: Predictor;
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The model the memo's answers belong to. */
  readonly modelId: string;
  /** Undefined when the memo is off. */
  readonly memo: ResponseMemo | undefined;
  readonly tracing: Tracing;
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

/** POST <base>/bulk-predict: headers (synchronously, as uWS requires) -> body -> memo, or parse -> predict -> answer. */
export function createPredictHandler(deps: PredictDeps): (res: HttpResponse, req: HttpRequest) => void {
  const { config, memo, tracing } = deps;
  const route = `${config.basePath}/${ROUTE}`;
  const nextRequestId = createRequestIds();
  // A memoized answer's header lines are the same as those predictAndAnswer sends for a request whose texts
  // were all cached (no queue, no model), rendered once around the request id and the total time.
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
  const onBody = (ctx: RequestContext, body: Buffer): void => {
    const key = memo?.keyOf(body);
    const memoized = key === undefined ? undefined : memo!.get(deps.modelId, key);
    if (memoized !== undefined) answerFromMemo(ctx, memoized);
    else void predictAndAnswer(deps, ctx, body, key);
  };
  const onBodyError = (ctx: RequestContext, err: Error): void => {
    refuse(deps, ctx, err, false);
  };

  return (res, req) => {
    const clientId = req.getHeader('x-request-id');
    const ctx = new RequestContext(res, clientId !== '' && REQUEST_ID.test(clientId) ? clientId : nextRequestId(), config.requestTimeoutMs);
    if (tracing.enabled) {
      ctx.trace = tracing.startRequest('POST', route, ctx.requestId, req.getHeader('traceparent'), req.getHeader('tracestate'));
    }
    if (admit(deps, ctx, req.getHeader('content-type'), req.getHeader('content-length')))
      readBody(ctx, config.maxBodyBytes, onBody, onBodyError);
  };
}

/** Counts the request in, and refuses it before its body is read when the headers already decide. */
function admit(deps: PredictDeps, ctx: RequestContext, contentType: string, contentLength: string): boolean {
  const { config, lifecycle } = deps;
  lifecycle.requestStarted();
  if (lifecycle.state === 'starting') return refuse(deps, ctx, Errors.NotReady(), false);
  if (!isJsonMediaType(contentType)) return refuse(deps, ctx, Errors.UnsupportedMediaType(contentType), false);
  const declared = Number(contentLength);
  if (declared > config.maxBodyBytes) {
    const tooLarge = Errors.BodyTooLarge(config.maxBodyBytes);
    if (declared > config.maxBodyBytes * DRAIN_FACTOR) return refuse(deps, ctx, tooLarge, false);
    void drainBody(ctx).then(() => refuse(deps, ctx, tooLarge, true));
    return false;
  }
  return true;
}

async function predictAndAnswer(deps: PredictDeps, ctx: RequestContext, body: Buffer, memoKey: string | undefined): Promise<void> {
  const { config, lifecycle } = deps;
  let status = 200;
  try {
    // Before anything is awaited: `body` may be a view of uWS's receive buffer (see readBody).
    const texts = parseBulkPredictRequest(body, config.maxTexts);
    const prediction = await deps.predictor.predict(texts, ctx);
    const answer = predictionsBody(prediction.predictions);
    // Only an answer the cache gave whole is memoized: it is what this body will get from now on.
    if (memoKey !== undefined && prediction.cache === 'hit') deps.memo!.set(deps.modelId, memoKey, answer, new Set(texts).size);
    const headers: [string, string][] = [
      ['x-request-id', ctx.requestId],
      ['x-cache', prediction.cache],
    ];
    if (ctx.trace) headers.push(['traceparent', ctx.trace.traceparent]);
    if (config.timingHeaders) {
      headers.push(
        ['x-queue-time', prediction.queueMs.toFixed(3)],
        ['x-inference-time', prediction.inferenceMs.toFixed(3)],
        ['x-total-time', ctx.elapsedMs().toFixed(3)],
      );
    }
    sendJson(ctx, 200, answer, headers, lifecycle.state === 'draining');
  } catch (err) {
    status = answerError(deps, ctx, err, true);
  }
  finish(deps, ctx, status);
}

/** An answer given before or instead of parsing (too large, wrong type, not ready, client left). Returns false. */
function refuse(deps: PredictDeps, ctx: RequestContext, err: unknown, bodyRead: boolean): false {
  finish(deps, ctx, answerError(deps, ctx, err, bodyRead));
  return false;
}

function finish(deps: PredictDeps, ctx: RequestContext, status: number): void {
  deps.lifecycle.requestFinished();
  if (ctx.aborted) status = 499;
  deps.metrics.observeRequest(ROUTE, status, ctx.elapsedMs() / 1000);
  logRequest(deps, ctx, status);
  ctx.trace?.end(status);
}

function logRequest(deps: PredictDeps, ctx: RequestContext, status: number): void {
  if (deps.logger.isLevelEnabled('debug')) {
    deps.logger.debug({ reqId: ctx.requestId, status, ms: ctx.elapsedMs() }, 'request');
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
  ctx.trace?.failed(error.statusCode, error.code, error.message);
  const headers: Headers = ctx.trace
    ? [
        ['x-request-id', ctx.requestId],
        ['traceparent', ctx.trace.traceparent],
      ]
    : [['x-request-id', ctx.requestId]];
  // An answer given before the whole body was read closes the connection: the rest of the body must not be
  // taken for the next request.
  sendError(ctx, error, headers, !bodyRead || deps.lifecycle.state === 'draining');
  return error.statusCode;
}
