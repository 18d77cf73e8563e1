import { Errors } from '../../errors.js';
import { errorAnswer } from '../../http/error-answers.js';
import type { Lifecycle } from '../../lifecycle.js';
import { isServedModel, OIP_SERVER_NAME, type OipModel, oipModelMetadata } from './model.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendNow } from '../../http/respond.js';

/**
 * Whether a path's model name (and version, when the path has one) is the served model's. uWS's parameters
 * are the raw path segments, so a percent-encoded name is compared decoded.
 */
export function isServedPath(model: OipModel, name: string, version: string | undefined): boolean {
  return isServedModel(model, decodeSegment(name), version === undefined ? undefined : decodeSegment(version));
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
export function createOipMetadataHandlers(model: OipModel, lifecycle: Lifecycle, serverVersion: string): Record<string, RouteHandler> {
  const json = (ctx: RequestContext, status: number, body: string): void => sendNow(ctx, status, 'application/json', body);
  const serverMetadata = JSON.stringify({ name: OIP_SERVER_NAME, version: serverVersion, extensions: [] });
  const modelMetadata = JSON.stringify(oipModelMetadata(model));
  const ready = (): boolean => lifecycle.state === 'ready';
  /** Runs `answer` for the served model; another name (or version) is a 404 in the protocol's error shape. */
  const forModel =
    (withVersion: boolean, answer: (ctx: RequestContext) => void): RouteHandler =>
    (ctx, req) => {
      const name = req.getParameter(0) ?? '';
      if (isServedPath(model, name, withVersion ? (req.getParameter(1) ?? '') : undefined)) answer(ctx);
      else json(ctx, 404, errorAnswer(Errors.ModelNotFound(decodeSegment(name)), 'oip').body);
    };
  const modelReady = (ctx: RequestContext): void => json(ctx, ready() ? 200 : 503, JSON.stringify({ name: model.name, ready: ready() }));
  const metadata = (ctx: RequestContext): void => json(ctx, 200, modelMetadata);
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
