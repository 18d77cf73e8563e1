import type { InferenceRouteDeps } from '../../http/inference-route.js';
import { perModel } from '../../model-repository/per-model.js';
import { buildTeiInfo, createTeiHealthHandler } from './info-routes.js';
import { teiInfo } from './info.js';
import { createTeiPredictHandler } from './predict-route.js';
import { createTeiRerankHandler } from './rerank-route.js';
import { defaultModel, modelRoute } from '../../http/model-path.js';
import type { Route } from '../../http/pipeline.js';
import { sendNow } from '../../http/respond.js';

export interface TeiDeps extends InferenceRouteDeps {
  /** The server's version (package.json), in TEI's /info. */
  readonly version: string;
}

/**
 * The Hugging Face text-embeddings-inference routes, at TEI_PREFIX (TEI serves them at the root), for the default
 * model: TEI's routes name none. A path that the service's own routes already take (BASE_PATH equal to
 * TEI_PREFIX: both have /info and /health) stays the service's.
 */
export function teiRoutes(deps: TeiDeps, taken: ReadonlySet<string>): Route[] {
  const prefix = deps.config.teiPrefix;
  // The model's own limits (model-settings.json) over the server's.
  const infoBody = perModel((model) => buildTeiInfo(teiInfo(model.info, { ...deps.config, ...model.limits }, deps.version)));
  const info = modelRoute(
    'tei',
    () => defaultModel(deps.repository),
    (ctx, model) => sendNow(ctx, 200, 'application/json', infoBody(model)),
  );
  const routes: Route[] = [
    { method: 'POST', path: `${prefix}/predict`, name: 'tei-predict', handler: createTeiPredictHandler(deps) },
    { method: 'POST', path: `${prefix}/rerank`, name: 'tei-rerank', handler: createTeiRerankHandler(deps) },
    { method: 'GET', path: `${prefix}/info`, name: 'tei-info', handler: info },
    { method: 'GET', path: `${prefix}/health`, name: 'tei-health', traced: false, handler: createTeiHealthHandler(deps.lifecycle) },
  ];
  return routes.filter((route) => !taken.has(route.path));
}
