import { App, type TemplatedApp } from 'uWebSockets.js';
import { Errors } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { ModelRepository } from '../model-repository/model-repository.js';
import type { Tracing } from '../observability/tracing.js';
import { createDocsHandlers } from './handlers/docs.js';
import { createHealthHandler } from './handlers/health.js';
import { createHfInferenceHandler } from '../protocols/hf/http-route.js';
import { createInfoHandlers } from './handlers/info.js';
import { createMetricsHandler } from './handlers/metrics.js';
import { createOipInferHandler } from '../protocols/oip/infer-route.js';
import { createOipMetadataHandlers } from '../protocols/oip/metadata-routes.js';
import { createRepositoryHandlers } from '../protocols/oip/repository-routes.js';
import { createPredictHandler } from '../protocols/bulk-predict/http-route.js';
import { errorAnswer } from './error-answers.js';
import { type ApiKeyGuard, requireApiKey, routeGroup } from './api-keys.js';
import { createPipeline, type Route, type RouteHandler } from './pipeline.js';
import { hasBody, checkFraming } from './request-framing.js';
import { sendNow } from './respond.js';
import { teiRoutes, type TeiDeps } from '../protocols/tei/http-routes.js';

export interface AppDeps extends TeiDeps {
  readonly lifecycle: Lifecycle;
  readonly tracing: Tracing;
  readonly openApi: string;
  /** Undefined when no API keys are configured (api-keys.ts). */
  readonly apiKeys: ApiKeyGuard | undefined;
  /**
   * The served models by name, loaded and unloaded live: every route finds its model here (by the name its path
   * carries, else DEFAULT_MODEL), and the repository extension's routes load and unload them.
   */
  readonly repository: ModelRepository;
  /** The server's version (package.json), for the protocols' server metadata. */
  readonly version: string;
}

/** The OIP metadata routes' labels in the request metrics, by path pattern, and whether each is a probe (not traced). */
const OIP_METADATA_ROUTES: Record<string, { readonly name: string; readonly probe?: true }> = {
  '/v2/health/live': { name: 'oip-live', probe: true },
  '/v2/health/ready': { name: 'oip-ready', probe: true },
  '/v2': { name: 'oip-server-metadata' },
  '/v2/': { name: 'oip-server-metadata' },
  '/v2/models/:name': { name: 'oip-model-metadata' },
  '/v2/models/:name/versions/:version': { name: 'oip-model-metadata' },
  '/v2/models/:name/ready': { name: 'oip-model-ready', probe: true },
  '/v2/models/:name/versions/:version/ready': { name: 'oip-model-ready', probe: true },
};

/** The repository extension's routes' labels in the request metrics, by path pattern. */
const OIP_REPOSITORY_ROUTES: Record<string, string> = {
  '/v2/repository/index': 'oip-repository-index',
  '/v2/repository/models/:name/load': 'oip-repository-load',
  '/v2/repository/models/:name/unload': 'oip-repository-unload',
};

/**
 * The route table, and FastAPI's 404 and 405 for everything else; every one of them runs the request pipeline
 * (pipeline.ts). No I/O happens here.
 */
export function createApp(deps: AppDeps): TemplatedApp {
  const { basePath, metricsPath } = deps.config;
  const docs = createDocsHandlers(basePath);
  const json =
    (body: string): RouteHandler =>
    (ctx) =>
      sendNow(ctx, 200, 'application/json', body);
  const info = createInfoHandlers(deps.repository, deps.config, deps.version);
  const routes: Route[] = [
    { method: 'POST', path: `${basePath}/bulk-predict`, name: 'bulk-predict', handler: createPredictHandler(deps, false) },
    {
      method: 'POST',
      path: `${basePath}/models/:name/bulk-predict`,
      name: 'bulk-predict',
      handler: createPredictHandler(deps, true),
    },
    { method: 'GET', path: `${basePath}/health`, name: 'health', traced: false, handler: createHealthHandler(deps.lifecycle) },
    { method: 'GET', path: `${basePath}/info`, name: 'info', handler: info.info },
    { method: 'GET', path: `${basePath}/models`, name: 'models', handler: info.models },
    { method: 'GET', path: `${basePath}/models/:name/info`, name: 'info', handler: info.modelInfo },
    { method: 'GET', path: `${basePath}/openapi.json`, name: 'openapi', handler: json(deps.openApi) },
    { method: 'GET', path: `${basePath}/docs`, name: 'docs', handler: docs.page },
    { method: 'GET', path: `${basePath}/docs/`, name: 'docs', handler: docs.redirect },
    { method: 'GET', path: `${basePath}/docs/*`, name: 'docs-asset', handler: docs.asset },
  ];
  routes.push(...teiRoutes(deps, new Set(routes.map((route) => route.path))));
  // Other protocols' routes, at the root where their clients send them.
  routes.push(
    { method: 'POST', path: '/', name: 'hf-inference', handler: createHfInferenceHandler(deps, false) },
    // The hub's serverless URL shape (api-inference.huggingface.co/models/{repo}), one segment: the model's name.
    { method: 'POST', path: '/models/:name', name: 'hf-inference', handler: createHfInferenceHandler(deps, true) },
  );
  for (const [path, handler] of Object.entries(createOipMetadataHandlers(deps.repository, deps.lifecycle, deps.version))) {
    const { name, probe } = OIP_METADATA_ROUTES[path]!;
    routes.push({ method: 'GET', path, name, traced: !probe, handler });
  }
  routes.push(
    { method: 'POST', path: '/v2/models/:name/infer', name: 'oip-infer', handler: createOipInferHandler(deps, false) },
    {
      method: 'POST',
      path: '/v2/models/:name/versions/:version/infer',
      name: 'oip-infer',
      handler: createOipInferHandler(deps, true),
    },
  );
  for (const [path, handler] of Object.entries(createRepositoryHandlers(deps))) {
    routes.push({ method: 'POST', path, name: OIP_REPOSITORY_ROUTES[path]!, handler });
  }
  if (deps.metrics.enabled) {
    routes.push({
      method: 'GET',
      path: metricsPath,
      name: 'metrics',
      counted: false,
      traced: false,
      handler: createMetricsHandler(deps.metrics),
    });
  }

  const app = App();
  const stages = createPipeline(deps);
  const methodNotAllowed = errorAnswer(Errors.MethodNotAllowed(), 'bulk-predict');
  const notFound = errorAnswer(Errors.NotFound(), 'bulk-predict');
  for (const route of routes) {
    const handler = guarded(route, deps);
    if (route.method === 'GET') {
      app.get(route.path, checkFraming(stages(route, handler)));
      app.head(route.path, checkFraming(stages({ ...route, method: 'HEAD' }, handler)));
    } else {
      app.post(route.path, checkFraming(stages(route, handler)));
    }
    const allow: [string, string][] = [['allow', route.method === 'GET' ? 'GET, HEAD' : route.method]];
    // uWS prefers a method's own handler to `any` on the same pattern, so this only sees other methods.
    app.any(
      route.path,
      checkFraming(
        stages({ ...route, method: 'ANY' }, (ctx, req) =>
          sendNow(ctx, methodNotAllowed.status, 'application/json', methodNotAllowed.body, allow, hasBody(req)),
        ),
      ),
    );
  }
  // An Open Inference Protocol client reads {"error"}, also on a path that is not the protocol's.
  const notFoundMessage = errorAnswer(Errors.NotFound(), 'oip');
  app.any(
    '/v2/*',
    checkFraming(
      stages({ name: 'not-found', method: 'ANY', path: '/v2/*' }, (ctx, req) =>
        sendNow(ctx, notFoundMessage.status, 'application/json', notFoundMessage.body, [], hasBody(req)),
      ),
    ),
  );
  app.any(
    '/*',
    checkFraming(
      stages({ name: 'not-found', method: 'ANY', path: '/*' }, (ctx, req) =>
        sendNow(ctx, notFound.status, 'application/json', notFound.body, [], hasBody(req)),
      ),
    ),
  );
  return app;
}

/**
 * The route behind its API key check when API_KEY_ROUTES names its group; the prediction routes check in their
 * own admission (inference-route.ts).
 */
function guarded(route: Route, deps: AppDeps): RouteHandler {
  const group = routeGroup(route.path, deps.config);
  if (!deps.apiKeys || group === undefined || group === 'predict' || !deps.apiKeys.protects(group)) return route.handler;
  return requireApiKey(deps.apiKeys, route.handler, route.path.startsWith('/v2') ? 'oip' : undefined);
}
