import type { Lifecycle } from '../../lifecycle.js';
import type { InferenceRouteDeps } from '../../http/inference-route.js';
import { createTeiHealthHandler } from './info-routes.js';
import { createTeiPredictHandler } from './predict-route.js';
import { createTeiRerankHandler } from './rerank-route.js';
import type { Route } from '../../http/pipeline.js';
import { sendNow } from '../../http/respond.js';

export interface TeiDeps extends InferenceRouteDeps {
  readonly lifecycle: Lifecycle;
  /** The body of GET <tei prefix>/info, built once (info-routes.ts). */
  readonly teiInfo: string;
  /** The model's outputs per input: /rerank needs exactly one. */
  readonly numLabels: number;
}

/**
 * The Hugging Face text-embeddings-inference routes, at TEI_PREFIX (TEI serves them at the root). A path that
 * the service's own routes already take (BASE_PATH equal to TEI_PREFIX: both have /info and /health) stays
 * the service's.
 */
export function teiRoutes(deps: TeiDeps, taken: ReadonlySet<string>): Route[] {
  const prefix = deps.config.teiPrefix;
  const routes: Route[] = [
    { method: 'POST', path: `${prefix}/predict`, name: 'tei-predict', handler: createTeiPredictHandler(deps) },
    { method: 'POST', path: `${prefix}/rerank`, name: 'tei-rerank', handler: createTeiRerankHandler(deps, deps.numLabels) },
    { method: 'GET', path: `${prefix}/info`, name: 'tei-info', handler: (ctx) => sendNow(ctx, 200, 'application/json', deps.teiInfo) },
    { method: 'GET', path: `${prefix}/health`, name: 'tei-health', traced: false, handler: createTeiHealthHandler(deps.lifecycle) },
  ];
  return routes.filter((route) => !taken.has(route.path));
}
