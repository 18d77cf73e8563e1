import { App, type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import { Errors } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { ModelInfo } from '../model-info.js';
import { createDocsHandlers } from './handlers/docs.js';
import { createHealthHandler } from './handlers/health.js';
import { createHfInferenceHandler, type HfInferenceDeps } from './handlers/hf-inference.js';
import { createMetricsHandler } from './handlers/metrics.js';
import { createOipInferHandler } from './handlers/oip-infer.js';
import { createOipMetadataHandlers, oipModelOf } from './handlers/oip-metadata.js';
import { createPredictHandler } from './handlers/predict.js';
import { errorMessageBody } from './error-bodies.js';
import { answerHead, withoutBody } from './head.js';
import { type ApiKeyGuard, requireApiKey, routeGroup } from './api-keys.js';
import { hasBody, checkFraming } from './request-framing.js';
import { sendNow } from './respond.js';
import { teiRoutes, type TeiDeps } from './tei-routes.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;
type Method = 'get' | 'post';

interface Route {
  readonly method: Method;
  readonly path: string;
  readonly handler: Handler;
}

export interface AppDeps extends HfInferenceDeps, TeiDeps {
  readonly lifecycle: Lifecycle;
  readonly openApi: string;
  /** The body of GET <base>/info, built once (handlers/info.ts). */
  readonly info: string;
  /** Undefined when no API keys are configured (api-keys.ts). */
  readonly apiKeys: ApiKeyGuard | undefined;
  readonly model: ModelInfo;
  /** The server's version (package.json), for the protocols' server metadata. */
  readonly version: string;
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
  // Other protocols' routes, at the root where their clients send them.
  routes.push({ method: 'post', path: '/', handler: createHfInferenceHandler(deps) });
  const oipModel = oipModelOf(deps.model);
  for (const [path, handler] of Object.entries(createOipMetadataHandlers(oipModel, deps.lifecycle, deps.version))) {
    routes.push({ method: 'get', path, handler });
  }
  routes.push(
    { method: 'post', path: '/v2/models/:name/infer', handler: createOipInferHandler(deps, oipModel, false) },
    { method: 'post', path: '/v2/models/:name/versions/:version/infer', handler: createOipInferHandler(deps, oipModel, true) },
  );
  if (deps.metrics.enabled) routes.push({ method: 'get', path: metricsPath, handler: createMetricsHandler(deps.metrics) });

  const app = App();
  const methodNotAllowed = Errors.MethodNotAllowed();
  const notFound = Errors.NotFound();
  for (const route of routes) {
    const handler = guarded(route, deps);
    app[route.method](route.path, checkFraming(handler));
    if (route.method === 'get') app.head(route.path, checkFraming(answerHead(handler)));
    const allow: [string, string][] = [['allow', route.method === 'get' ? 'GET, HEAD' : route.method.toUpperCase()]];
    // uWS prefers a method's own handler to `any` on the same pattern, so this only sees other methods.
    app.any(
      route.path,
      checkFraming((res, req) => sendNow(bodyFor(res, req), 405, 'application/json', methodNotAllowed.body, allow, hasBody(req))),
    );
  }
  // An Open Inference Protocol client reads {"error"}, also on a path that is not the protocol's.
  const notFoundMessage = errorMessageBody(notFound);
  app.any(
    '/v2/*',
    checkFraming((res, req) => sendNow(bodyFor(res, req), 404, 'application/json', notFoundMessage, [], hasBody(req))),
  );
  app.any(
    '/*',
    checkFraming((res, req) => sendNow(bodyFor(res, req), 404, 'application/json', notFound.body, [], hasBody(req))),
  );
  return app;
}

/**
 * The route behind its API key check when API_KEY_ROUTES names its group; the prediction routes check in their
 * own admission (inference-route.ts).
 */
function guarded(route: Route, deps: AppDeps): Handler {
  const group = routeGroup(route.path, deps.config);
  if (!deps.apiKeys || group === undefined || group === 'predict' || !deps.apiKeys.protects(group)) return route.handler;
  return requireApiKey(deps.apiKeys, route.handler, route.path.startsWith('/v2') ? errorMessageBody : undefined);
}

/** A HEAD request must get no body, also on the paths that have no GET. */
function bodyFor(res: HttpResponse, req: HttpRequest): HttpResponse {
  return req.getMethod() === 'head' ? withoutBody(res) : res;
}
