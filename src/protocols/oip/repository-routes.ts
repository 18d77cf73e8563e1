// The model repository extension of Triton and KServe (the Open Inference Protocol's `/v2/repository`): the
// repository's index, and a model's load and unload while the other models serve (src/model-repository).
import type { Logger } from 'pino';
import type { ValidateFunction } from 'ajv';
import type { EdgeSettings } from '../../config.js';
import { Errors, type RequestError } from '../../errors.js';
import { errorAnswer, isFault, requestErrorOf } from '../../http/error-answers.js';
import { readBody } from '../../http/body.js';
import { isJsonMediaType } from '../../http/inference-route.js';
import type { RouteHandler } from '../../http/pipeline.js';
import type { RequestContext } from '../../http/request-context.js';
import { hasBody } from '../../http/request-framing.js';
import { sendJson, sendNow } from '../../http/respond.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { ModelRepository } from '../../model-repository/model-repository.js';
import { decodeJsonBody, describeSchemaErrors } from '../../validation/decode-json.js';
import { validateRepositoryIndexRequest, validateRepositoryModelRequest } from '../../validation/validators.js';
import { pathSegment } from '../../http/model-path.js';

export interface RepositoryRouteDeps {
  readonly repository: Pick<ModelRepository, 'index' | 'load' | 'unload'>;
  readonly lifecycle: Lifecycle;
  readonly config: Pick<EdgeSettings, 'maxBodyBytes'>;
  readonly logger: Logger;
}

interface IndexRequest {
  ready?: boolean;
}

interface ModelRequest {
  parameters?: Record<string, unknown>;
}

/** The repository extension's routes (all POST), by path pattern. */
export function createRepositoryHandlers(deps: RepositoryRouteDeps): Record<string, RouteHandler> {
  const { repository } = deps;
  return {
    '/v2/repository/index': repositoryRoute(deps, validateRepositoryIndexRequest, async (_name, body: IndexRequest) => {
      const index = await repository.index();
      return body.ready === true ? index.filter((entry) => entry.state === 'READY') : index;
    }),
    // 200 once the model serves in every thread: a client may send it requests as soon as it has the answer.
    '/v2/repository/models/:name/load': repositoryRoute(deps, validateRepositoryModelRequest, async (name, body: ModelRequest) => {
      refuseOverrides(body);
      await repository.load(name);
      return {};
    }),
    // 200 once its last requests have their answers and its sessions are released.
    '/v2/repository/models/:name/unload': repositoryRoute(deps, validateRepositoryModelRequest, async (name) => {
      await repository.unload(name);
      return {};
    }),
  };
}

/**
 * Triton's load may carry a model configuration or files to load instead of the repository's: this server loads
 * a model from its directory only, and says so rather than load something other than what was asked for.
 */
function refuseOverrides(body: ModelRequest): void {
  const overrides = Object.keys(body.parameters ?? {}).filter((key) => key === 'config' || key.startsWith('file:'));
  if (overrides.length > 0) {
    throw Errors.InvalidInput(`parameters ${overrides.join(', ')} not supported: a model is loaded from its directory in MODEL_REPOSITORY`);
  }
}

/**
 * One repository route: refused while the workers start (503, as the prediction routes), then its body (optional:
 * none is `{}`) parsed and checked against its schema, then `work`'s result as JSON, or its error in the
 * protocol's `{"error": ...}`. `name` is the path's model name, decoded ('' on the index).
 */
function repositoryRoute<Body>(
  deps: RepositoryRouteDeps,
  validate: ValidateFunction,
  work: (name: string, body: Body) => Promise<unknown>,
): RouteHandler {
  const { config, lifecycle } = deps;
  const run = (ctx: RequestContext, name: string, bytes: Buffer): void => {
    let body: Body;
    try {
      body = parseBody(bytes, validate) as Body;
    } catch (err) {
      answerError(deps, ctx, err, true);
      return;
    }
    work(name, body).then(
      (answer) => sendJson(ctx, 200, JSON.stringify(answer), [], lifecycle.state === 'draining'),
      (err: unknown) => answerError(deps, ctx, err, true),
    );
  };
  return (ctx, req) => {
    const name = pathSegment(req, 0);
    const refusal = refusalBeforeBody(deps, req.getHeader('content-type'), Number(req.getHeader('content-length')));
    if (refusal) {
      // The body is left unread: the connection closes after the answer, so it is never taken for a request.
      const { status, body, headers } = errorAnswer(refusal, 'oip');
      ctx.trace?.failed(status, refusal.code, refusal.message);
      sendNow(ctx, status, 'application/json', body, headers, hasBody(req));
      return;
    }
    readBody(
      ctx,
      config.maxBodyBytes,
      (c, bytes) => run(c, name, bytes),
      (c, err) => answerError(deps, c, err, false),
    );
  };
}

function refusalBeforeBody(deps: RepositoryRouteDeps, contentType: string, contentLength: number): RequestError | undefined {
  if (deps.lifecycle.state === 'starting') return Errors.NotReady();
  if (!isJsonMediaType(contentType)) return Errors.UnsupportedMediaType(contentType);
  if (contentLength > deps.config.maxBodyBytes) return Errors.BodyTooLarge(deps.config.maxBodyBytes);
  return undefined;
}

/** An empty body is `{}` (Triton's clients send none); anything else must be JSON of the route's schema. */
function parseBody(bytes: Uint8Array, validate: ValidateFunction): unknown {
  if (bytes.length === 0) return {};
  const body = decodeJsonBody(bytes);
  if (!validate(body)) throw Errors.InvalidInput(describeSchemaErrors(validate.errors));
  return body;
}

function answerError(deps: RepositoryRouteDeps, ctx: RequestContext, err: unknown, bodyRead: boolean): void {
  const error = requestErrorOf(err);
  if (isFault(error)) deps.logger.error({ reqId: ctx.requestId, err }, 'repository request failed');
  const { status, body, headers } = errorAnswer(error, 'oip');
  ctx.trace?.failed(status, error.code, error.message);
  sendJson(ctx, status, body, headers, !bodyRead || deps.lifecycle.state === 'draining');
}
