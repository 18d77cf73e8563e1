import type { HttpRequest } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { Errors, type RequestError } from '../errors.js';
import type { EdgeSettings } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Prediction } from '../inference/predictor.js';
import type { ModelLookup } from '../model-repository/model-repository.js';
import type { ServedModel } from '../model-repository/served-model.js';
import type { Metrics } from '../observability/metrics.js';
import { type ApiFamily, errorAnswer, failureReasonOf, isFault, requestErrorOf } from './error-answers.js';
import { drainBody, readBody } from './body.js';
import type { RequestContext } from './request-context.js';
import type { RouteHandler } from './pipeline.js';
import { headerLines, sendJson, sendLinesInCallback, type Headers } from './respond.js';
import type { MemoizedAnswer, ResponseMemo } from './response-memo.js';
import type { ApiKeyGuard } from './api-keys.js';
import { defaultModel } from './model-path.js';

/** What every route that runs the pipeline needs, whatever its wire format. */
export interface InferenceRouteDeps {
  readonly config: EdgeSettings;
  /** The served models: each request's is found here, by the name its path carries or as the default. */
  readonly repository: ModelLookup;
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Undefined when no API keys are configured (api-keys.ts). */
  readonly apiKeys: ApiKeyGuard | undefined;
  /** Undefined when the response memo is off. */
  readonly memo: ResponseMemo | undefined;
}

/** A finished 200: its body, and the prediction its headers (x-cache, timings) describe. */
export interface Answer {
  readonly body: string;
  readonly prediction: Prediction;
}

/**
 * One route family's part of a prediction request; the rest (admission, body, deadline, errors) is the same
 * for every family and lives here, and what every route shares (request id, metrics, logs, spans, the drain)
 * in the pipeline (pipeline.ts).
 */
export interface InferenceRoute<Params> {
  /** Whose status and body its errors are answered with (error-answers.ts). */
  readonly errorFamily: ApiFamily;
  /** What the route reads from the request line (uWS allows it only before the handler returns), if anything. */
  readonly params?: (req: HttpRequest) => Params;
  /**
   * The model the request names (by its parameters), or ModelNotFound when none of that name (or version) is
   * served; found once the body is read. Absent: the default model (DEFAULT_MODEL).
   */
  readonly model?: (params: Params) => ServedModel;
  /**
   * Where the route's answers go in the response memo: a prefix of the body's key, distinct per family (and per
   * request-line parameter the answer depends on, such as the model's name), so one body sent to two routes is
   * two entries; entries are kept per model version too. Absent: the route's answers are not memoized. The
   * answer must depend only on the body, the prefix, the model and its cache. Called once `model` has found the
   * model, so the parameters are those of a served model.
   */
  readonly memoScope?: (params: Params) => string;
  /** The body -> the model's answer. `body` is valid only until the first await (see readBody). */
  readonly answer: (ctx: RequestContext, body: Buffer, params: Params, model: ServedModel) => Promise<Answer>;
}

/** An oversized body up to this many times the limit is drained so the client can read its 413; a larger one is cut off. */
const DRAIN_FACTOR = 16;

/** No Content-Type (the reference's k6 script sends none), application/json with any charset, or +json. */
export function isJsonMediaType(contentType: string): boolean {
  if (contentType === '') return true;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** A prediction route: headers (synchronously, as uWS requires) -> body -> the route's answer -> response. */
export function createInferenceHandler<Params>(deps: InferenceRouteDeps, route: InferenceRoute<Params>): RouteHandler {
  const { config } = deps;
  // Every route family that runs the model is in API_KEY_ROUTES's `predict` group.
  const apiKeys = deps.apiKeys?.protects('predict') ? deps.apiKeys : undefined;
  const memo = route.memoScope ? deps.memo : undefined;
  const answerFromMemo = memo ? createMemoAnswerer(deps) : undefined;
  const modelOf = route.model ?? (() => defaultModel(deps.repository));
  const answer = (ctx: RequestContext, body: Buffer, params: Params): void => {
    let model: ServedModel;
    try {
      model = modelOf(params);
    } catch (err) {
      answerError(deps, route, ctx, err, true);
      return;
    }
    // Before anything is awaited: `body` may be a view of uWS's receive buffer (see readBody).
    const memoKey = memo?.keyOf(body, route.memoScope!(params));
    const memoized = memoKey === undefined ? undefined : memo!.get(model.version, memoKey);
    if (memoized !== undefined) {
      answerFromMemo!(ctx, memoized, model);
      return;
    }
    let work: Promise<Answer>;
    try {
      work = route.answer(ctx, body, params, model);
    } catch (err) {
      work = Promise.reject(err);
    }
    void answerWhenDone(deps, route, ctx, work, memoKey, model.version);
  };
  // A route without parameters shares one body callback between its requests (no closure per request).
  const answerWithoutParams = (ctx: RequestContext, body: Buffer): void => answer(ctx, body, undefined as Params);
  const onBodyError = (ctx: RequestContext, err: Error): void => {
    refuse(deps, route, ctx, err, false);
  };

  return (ctx, req) => {
    const params = route.params?.(req);
    const refusal = apiKeys?.check(req.getHeader('authorization'));
    if (!admit(deps, route, ctx, req.getHeader('content-type'), req.getHeader('content-length'), refusal)) return;
    const onBody = route.params ? (c: RequestContext, body: Buffer) => answer(c, body, params as Params) : answerWithoutParams;
    readBody(ctx, config.maxBodyBytes, onBody, onBodyError);
  };
}

/** The response headers of a prediction: the request id, the cache outcome and, when enabled, the timings. */
export function predictionHeaders(config: EdgeSettings, ctx: RequestContext, prediction: Prediction): Headers {
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
  return headers;
}

/**
 * A memoized answer, sent from inside onData and counted and logged like any other request (its distinct texts
 * as in-memory cache hits). Its header lines are those a request whose texts were all cached (no queue, no
 * model) gets, rendered once around the request id and the total time.
 */
function createMemoAnswerer(deps: InferenceRouteDeps): (ctx: RequestContext, memoized: MemoizedAnswer, model: ServedModel) => void {
  const { config } = deps;
  const linesBeforeId = headerLines('application/json', [['x-request-id', '']]);
  const linesAfterId = headerLines(
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
  return (ctx, memoized, model) => {
    // onData never runs for a request whose client left, so this answer is always sent.
    let lines = linesBeforeId + ctx.requestId + linesAfterId + (config.timingHeaders ? ctx.elapsedMs().toFixed(3) : '');
    if (ctx.trace) lines += `\r\ntraceparent: ${ctx.trace.traceparent}`;
    ctx.memoizedTexts = memoized.distinctTexts;
    // The model's in-memory cache hits, as the cache would have counted them.
    model.observer.cacheLookup('memory_hit', memoized.distinctTexts);
    ctx.trace?.model(model.name);
    sendLinesInCallback(ctx, lines, memoized.body, deps.lifecycle.state === 'draining');
  };
}

async function answerWhenDone<Params>(
  deps: InferenceRouteDeps,
  route: InferenceRoute<Params>,
  ctx: RequestContext,
  work: Promise<Answer>,
  memoKey: string | undefined,
  /** The version of the model that answers: the memo's entries are that version's. */
  modelId: string,
): Promise<void> {
  try {
    const { body, prediction } = await work;
    // Only an answer the cache gave whole is memoized: it is what this body will get from now on.
    if (memoKey !== undefined && prediction.cache === 'hit') deps.memo!.set(modelId, memoKey, body, prediction.distinctInputs);
    sendJson(ctx, 200, body, predictionHeaders(deps.config, ctx, prediction), deps.lifecycle.state === 'draining');
  } catch (err) {
    answerError(deps, route, ctx, err, true);
  }
}

/** Refuses the request before its body is read when the headers already decide. */
function admit<Params>(
  deps: InferenceRouteDeps,
  route: InferenceRoute<Params>,
  ctx: RequestContext,
  contentType: string,
  contentLength: string,
  apiKeyRefusal: RequestError | undefined,
): boolean {
  const { config, lifecycle } = deps;
  // First: a client without a key learns nothing else about the request or the server.
  if (apiKeyRefusal) return refuse(deps, route, ctx, apiKeyRefusal, false);
  if (lifecycle.state === 'starting') return refuse(deps, route, ctx, Errors.NotReady(), false);
  if (!isJsonMediaType(contentType)) return refuse(deps, route, ctx, Errors.UnsupportedMediaType(contentType), false);
  const declared = Number(contentLength);
  if (declared > config.maxBodyBytes) {
    const tooLarge = Errors.BodyTooLarge(config.maxBodyBytes);
    if (declared > config.maxBodyBytes * DRAIN_FACTOR) return refuse(deps, route, ctx, tooLarge, false);
    void drainBody(ctx).then(() => refuse(deps, route, ctx, tooLarge, true));
    return false;
  }
  return true;
}

/** An answer given before or instead of parsing (too large, wrong type, not ready, client left). Returns false. */
function refuse<Params>(
  deps: InferenceRouteDeps,
  route: InferenceRoute<Params>,
  ctx: RequestContext,
  err: unknown,
  bodyRead: boolean,
): false {
  answerError(deps, route, ctx, err, bodyRead);
  return false;
}

/** Maps any failure to its HTTP answer in the route's error body, and counts and logs it by class. */
function answerError<Params>(
  deps: InferenceRouteDeps,
  route: InferenceRoute<Params>,
  ctx: RequestContext,
  err: unknown,
  bodyRead: boolean,
): void {
  // The client left: nobody to answer, and its withdrawn texts are neither a timeout nor a failure.
  if (ctx.aborted) {
    ctx.finish(499);
    return;
  }
  const error = requestErrorOf(err);
  const reason = failureReasonOf(error);
  if (reason) deps.metrics.failure(reason);
  if (isFault(error)) {
    deps.logger.error({ reqId: ctx.requestId, err }, 'prediction failed');
  } else {
    deps.logger.debug({ reqId: ctx.requestId, code: error.code }, 'request refused');
  }
  // The status the client gets (TEI's differ), also on the span.
  const { status, body, headers: errorHeaders } = errorAnswer(error, route.errorFamily);
  ctx.trace?.failed(status, error.code, error.message);
  const headers: (readonly [string, string])[] = [...errorHeaders, ['x-request-id', ctx.requestId]];
  if (ctx.trace) headers.push(['traceparent', ctx.trace.traceparent]);
  // An answer given before the whole body was read closes the connection: the rest of the body must not be
  // taken for the next request.
  sendJson(ctx, status, body, headers, !bodyRead || deps.lifecycle.state === 'draining');
}
