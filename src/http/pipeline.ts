// The stages every request runs, whatever its route, in the manner of fastify's named hooks (lib/hooks.js):
//
//   onRequest   request id, in flight for the drain (lifecycle.ts), the request span
//   handler     the route's own work; it answers through respond.ts
//   onSend      respond.ts writes the answer, and calls ctx.finish once its last byte has left (or the client has)
//   onResponse  out of flight, inf_http_requests_total and its duration by route and status, the request's log
//               line at the level of its status class, the span's end
//
// Every route the app registers (app.ts) is wrapped here, once, at start-up; a request pays for a context
// object and a closure call, nothing per stage.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Metrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';
import { withoutBody } from './head-request.js';
import { type OnResponse, RequestContext } from './request-context.js';
import { createRequestIds, requestIdOf } from './request-id.js';

/** What uWS calls for a route. */
export type Handler = (res: HttpResponse, req: HttpRequest) => void;
/** A route's own work, with its request's context: it answers through respond.ts (send, sendNow, ...). */
export type RouteHandler = (ctx: RequestContext, req: HttpRequest) => void;

export interface PipelineDeps {
  readonly config: Pick<Config, 'requestTimeoutMs'>;
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly tracing: Tracing;
}

/** A route as its requests' metrics, logs and spans name it. */
export interface RouteStages {
  /** The `route` label of the request metrics, and the `route` of the log line. */
  readonly name: string;
  /** ANY: the fallbacks (404, 405), which answer whatever method comes. */
  readonly method: 'GET' | 'HEAD' | 'POST' | 'ANY';
  /** The uWS pattern; the span's name and `http.route` give it as a template (`:name` -> `{name}`). */
  readonly path: string;
  /**
   * False for the metrics exposition (default true): a scrape that counted itself would change the counter it
   * reads, and Prometheus times its scrapes itself. It is still drained and logged.
   */
  readonly counted?: boolean;
  /**
   * False for the probes and the metrics exposition (default true): polled every few seconds by the orchestrator
   * and by Prometheus, their spans would fill the trace store and say nothing.
   */
  readonly traced?: boolean;
}

/** A route of the app's table (app.ts): a GET route also answers HEAD. */
export interface Route extends RouteStages {
  readonly method: 'GET' | 'POST';
  readonly handler: RouteHandler;
}

const MEMO_ATTRIBUTES = { 'inference.response_memo': true } as const;

/** `stages(route, handler)`: the uWS handler that runs `handler` between the stages above. */
export function createPipeline(deps: PipelineDeps): (route: RouteStages, handler: RouteHandler) => Handler {
  const { config, lifecycle, tracing } = deps;
  const nextRequestId = createRequestIds();
  return (route, handler) => {
    const onResponse = createOnResponse(deps, route);
    const traced = tracing.enabled && route.traced !== false;
    const template = route.path.replace(/:(\w+)/g, '{$1}');
    const any = route.method === 'ANY';
    return (res, req) => {
      const method = any ? req.getMethod().toUpperCase() : route.method;
      // A HEAD request gets the GET answer's status and headers and no body (head-request.ts).
      const ctx = new RequestContext(
        method === 'HEAD' ? withoutBody(res) : res,
        requestIdOf(req.getHeader('x-request-id'), nextRequestId),
        config.requestTimeoutMs,
        onResponse,
      );
      lifecycle.requestStarted();
      if (traced) {
        ctx.trace = tracing.startRequest(method, template, ctx.requestId, req.getHeader('traceparent'), req.getHeader('tracestate'));
      }
      handler(ctx, req);
    };
  };
}

/**
 * The last stage: the request leaves the drain's count, is counted by route and status, and logged by its
 * status class as fastify's log-controller does (5xx: error, an outage; 4xx: info, a client's mistake, which a
 * flood of must not look like an outage; the rest: debug).
 */
function createOnResponse(deps: PipelineDeps, route: RouteStages): OnResponse {
  const { lifecycle, metrics, logger } = deps;
  const counted = route.counted !== false;
  return (ctx, status) => {
    lifecycle.requestFinished();
    const ms = ctx.elapsedMs();
    if (counted) {
      if (ctx.memoizedTexts === undefined) metrics.observeRequest(route.name, status, ms / 1000);
      else metrics.observeMemoAnswer(route.name, ms / 1000);
    }
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (logger.isLevelEnabled(level)) logger[level]({ reqId: ctx.requestId, route: route.name, status, ms }, 'request');
    ctx.trace?.end(status, ctx.memoizedTexts === undefined ? undefined : MEMO_ATTRIBUTES);
  };
}
