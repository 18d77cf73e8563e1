import type { Lifecycle } from '../../lifecycle.js';
import type { ModelLookup } from '../../model-repository/model-repository.js';
import type { ServedModel } from '../../model-repository/served-model.js';
import { perModel } from '../../model-repository/per-model.js';
import { OIP_SERVER_NAME, oipModelMetadata, oipModelOf } from './model.js';
import { modelRoute, namedModel, pathSegment } from '../../http/model-path.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendNow } from '../../http/respond.js';

const metadataBody = perModel((model) => JSON.stringify(oipModelMetadata(oipModelOf(model))));

/** The protocol's health and metadata routes (all GET, answered from memory), by path pattern. */
export function createOipMetadataHandlers(models: ModelLookup, lifecycle: Lifecycle, serverVersion: string): Record<string, RouteHandler> {
  const json = (ctx: RequestContext, status: number, body: string): void => sendNow(ctx, status, 'application/json', body);
  const serverMetadata = JSON.stringify({ name: OIP_SERVER_NAME, version: serverVersion, extensions: [] });
  const ready = (): boolean => lifecycle.state === 'ready';
  /** Runs `answer` for the model the path names; another name (or version) is a 404 in the protocol's error shape. */
  const forModel = (withVersion: boolean, answer: (ctx: RequestContext, model: ServedModel) => void): RouteHandler =>
    modelRoute('oip', (req) => namedModel(models, pathSegment(req, 0), withVersion ? pathSegment(req, 1) : undefined), answer);
  const modelReady = (ctx: RequestContext, model: ServedModel): void =>
    json(ctx, ready() ? 200 : 503, JSON.stringify({ name: model.name, ready: ready() }));
  const metadata = (ctx: RequestContext, model: ServedModel): void => json(ctx, 200, metadataBody(model));
  return {
    // Live while the process answers; ready once every worker is warm (503 while starting and draining, as /health).
    '/v2/health/live': (ctx) => json(ctx, 200, '{"live":true}'),
    '/v2/health/ready': (ctx) => json(ctx, ready() ? 200 : 503, JSON.stringify({ ready: ready() })),
    '/v2': (ctx) => json(ctx, 200, serverMetadata),
    '/v2/': (ctx) => json(ctx, 200, serverMetadata),
    '/v2/models/:name': forModel(false, metadata),
    '/v2/models/:name/versions/:version': forModel(true, metadata),
    '/v2/models/:name/ready': forModel(false, modelReady),
    '/v2/models/:name/versions/:version/ready': forModel(true, modelReady),
  };
}
