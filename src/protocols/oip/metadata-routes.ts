import { Errors } from '../../errors.js';
import { errorAnswer } from '../../http/error-answers.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { ModelLookup } from '../../model-repository/model-repository.js';
import type { ServedModel } from '../../model-repository/served-model.js';
import { OIP_SERVER_NAME, oipModelMetadata, oipModelOfServed } from './model.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendNow } from '../../http/respond.js';

/**
 * The served model a path names (and its version, when the path has one); undefined for a name not served now
 * (unknown, unloaded) or another version. uWS's parameters are the raw path segments, so a percent-encoded name
 * is looked up decoded.
 */
export function servedAtPath(models: ModelLookup, name: string, version: string | undefined): ServedModel | undefined {
  const served = models.get(decodeSegment(name));
  return served !== undefined && (version === undefined || decodeSegment(version) === served.version) ? served : undefined;
}

/** A raw path segment, percent-decoded (as it is when it does not decode). */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The protocol's health and metadata routes (all GET, answered from memory), by path pattern. */
export function createOipMetadataHandlers(models: ModelLookup, lifecycle: Lifecycle, serverVersion: string): Record<string, RouteHandler> {
  const json = (ctx: RequestContext, status: number, body: string): void => sendNow(ctx, status, 'application/json', body);
  const serverMetadata = JSON.stringify({ name: OIP_SERVER_NAME, version: serverVersion, extensions: [] });
  // Each served model's metadata, rendered once (a reload is a new ServedModel, so a new entry).
  const metadataBodies = new WeakMap<ServedModel, string>();
  const ready = (): boolean => lifecycle.state === 'ready';
  /** Runs `answer` for a served model; another name (or version) is a 404 in the protocol's error shape. */
  const forModel =
    (withVersion: boolean, answer: (ctx: RequestContext, served: ServedModel) => void): RouteHandler =>
    (ctx, req) => {
      const name = req.getParameter(0) ?? '';
      const served = servedAtPath(models, name, withVersion ? (req.getParameter(1) ?? '') : undefined);
      if (served) answer(ctx, served);
      else json(ctx, 404, errorAnswer(Errors.ModelNotFound(decodeSegment(name)), 'oip').body);
    };
  const modelReady = (ctx: RequestContext, served: ServedModel): void =>
    json(ctx, ready() ? 200 : 503, JSON.stringify({ name: served.name, ready: ready() }));
  const metadata = (ctx: RequestContext, served: ServedModel): void => {
    let body = metadataBodies.get(served);
    if (body === undefined) {
      body = JSON.stringify(oipModelMetadata(oipModelOfServed(served)));
      metadataBodies.set(served, body);
    }
    json(ctx, 200, body);
  };
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
