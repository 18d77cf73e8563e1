import { basename } from 'node:path';
import { Errors } from '../../errors.js';
import { errorAnswer } from '../../http/error-answers.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { ModelInfo } from '../../model-loading/model-info.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { RequestContext } from '../../http/request-context.js';
import { sendNow } from '../../http/respond.js';

/** The served model as the Open Inference Protocol names it: one model, one version (its identity). */
export interface OipModel {
  /** The hub repository's last part, else the model directory's name. */
  readonly name: string;
  /** The model id (hash of the ONNX file, tokenizer and labels): a new model is a new version. */
  readonly version: string;
  readonly labels: readonly string[];
}

export function oipModelOf(model: Pick<ModelInfo, 'repo' | 'dir' | 'id' | 'labels'>): OipModel {
  return { name: model.repo?.split('/').pop() ?? basename(model.dir), version: model.id, labels: model.labels };
}

/**
 * Whether a path's model name (and version, when the path has one) is the served model's. uWS's parameters
 * are the raw path segments, so a percent-encoded name is compared decoded.
 */
export function isServedModel(model: OipModel, name: string, version: string | undefined): boolean {
  return decodeSegment(name) === model.name && (version === undefined || decodeSegment(version) === model.version);
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
  const serverMetadata = JSON.stringify({ name: 'sentiment-inference-server', version: serverVersion, extensions: [] });
  const modelMetadata = JSON.stringify({
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: 'scores', datatype: 'FP32', shape: [-1, model.labels.length] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  });
  const ready = (): boolean => lifecycle.state === 'ready';
  /** Runs `answer` for the served model; another name (or version) is a 404 in the protocol's error shape. */
  const forModel =
    (withVersion: boolean, answer: (ctx: RequestContext) => void): RouteHandler =>
    (ctx, req) => {
      const name = req.getParameter(0) ?? '';
      if (isServedModel(model, name, withVersion ? (req.getParameter(1) ?? '') : undefined)) answer(ctx);
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
