import { App, type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import { Errors } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { createDocsHandlers } from './handlers/docs.js';
import { createHealthHandler } from './handlers/health.js';
import { createMetricsHandler } from './handlers/metrics.js';
import { createPredictHandler, type PredictDeps } from './handlers/predict.js';
import { answerHead, withoutBody } from './head.js';
import { refuseAmbiguousFraming } from './request-framing.js';
import { sendNow } from './respond.js';
import { teiRoutes, type TeiDeps } from './tei-routes.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;
type Method = 'get' | 'post';

interface Route {
  readonly method: Method;
  readonly path: string;
  readonly handler: Handler;
}

export interface AppDeps extends PredictDeps, TeiDeps {
  readonly lifecycle: Lifecycle;
  readonly openApi: string;
  /** The body of GET <base>/info, built once (handlers/info.ts). */
  readonly info: string;
}

/** The route table, and FastAPI's 404 and 405 for everything else. No I/O happens here. */
export function createApp(deps: AppDeps): TemplatedApp {
  const { basePath, metricsPath } = deps.config;
  const docs = createDocsHandlers(basePath);
  const routes: Route[] = [
    { method: 'post', path: `${basePath}/bulk-predict`, handler: createPredictHandler(deps) },
    { method: 'get', path: `${basePath}/health`, handler: createHealthHandler(deps.lifecycle) },
    { method: 'get', path: `${basePath}/info`, handler: (res) => sendNow(res, 200, 'application/json', deps.info) },
    { method: 'get', path: `${basePath}/openapi.json`, handler: (res) => sendNow(res, 200, 'application/json', deps.openApi) },
    { method: 'get', path: `${basePath}/docs`, handler: docs.page },
    { method: 'get', path: `${basePath}/docs/`, handler: docs.redirect },
    { method: 'get', path: `${basePath}/docs/*`, handler: docs.asset },
  ];
  routes.push(...teiRoutes(deps, new Set(routes.map((route) => route.path))));
  if (deps.metrics.enabled) routes.push({ method: 'get', path: metricsPath, handler: createMetricsHandler(deps.metrics) });

  const app = App();
  const methodNotAllowed = Errors.MethodNotAllowed();
  const notFound = Errors.NotFound();
  for (const route of routes) {
    app[route.method](route.path, refuseAmbiguousFraming(route.handler));
    if (route.method === 'get') app.head(route.path, refuseAmbiguousFraming(answerHead(route.handler)));
    const allow: [string, string][] = [['allow', route.method === 'get' ? 'GET, HEAD' : route.method.toUpperCase()]];
    // uWS prefers a method's own handler to `any` on the same pattern, so this only sees other methods.
    app.any(
      route.path,
      refuseAmbiguousFraming((res, req) => sendNow(bodyFor(res, req), 405, 'application/json', methodNotAllowed.body, allow, hasBody(req))),
    );
  }
  app.any(
    '/*',
    refuseAmbiguousFraming((res, req) => sendNow(bodyFor(res, req), 404, 'application/json', notFound.body, [], hasBody(req))),
  );
  return app;
}

/** A HEAD request must get no body, also on the paths that have no GET. */
function bodyFor(res: HttpResponse, req: HttpRequest): HttpResponse {
  return req.getMethod() === 'head' ? withoutBody(res) : res;
}

/** These answers leave any request body unread, so such a connection is closed rather than reused mid-body. */
function hasBody(req: HttpRequest): boolean {
  return Number(req.getHeader('content-length')) > 0 || req.getHeader('transfer-encoding') !== '';
}
