import type { EdgeSettings } from '../../config.js';
import type { ModelLookup } from '../../model-repository/model-repository.js';
import type { ServedModel } from '../../model-repository/served-model.js';
import { perModel } from '../../model-repository/per-model.js';
import { defaultModel, modelRoute, namedModel, pathSegment } from '../model-path.js';
import type { RouteHandler } from '../pipeline.js';
import type { RequestContext } from '../request-context.js';
import { sendNow } from '../respond.js';

export interface InfoHandlers {
  /** GET <base>/info: the default model's. */
  readonly info: RouteHandler;
  /** GET <base>/models/{name}/info: that model's. */
  readonly modelInfo: RouteHandler;
  /** GET <base>/models: every model served. */
  readonly models: RouteHandler;
}

/**
 * What is served and under which limits: GET <base>/info (schemas/info-response.json) of each model, and the list
 * of the models served (schemas/models-response.json; each READY, as the repository index names the state).
 * A model's info is written once, when first asked for.
 */
export function createInfoHandlers(repository: ModelLookup, config: EdgeSettings, version: string): InfoHandlers {
  const infoBody = perModel((model) => buildInfo(model, config, version));
  const info = (ctx: RequestContext, model: ServedModel): void => sendNow(ctx, 200, 'application/json', infoBody(model));
  return {
    info: modelRoute('bulk-predict', () => defaultModel(repository), info),
    modelInfo: modelRoute('bulk-predict', (req) => namedModel(repository, pathSegment(req, 0)), info),
    models: (ctx) => {
      const models = repository.served().map((model) => ({
        name: model.name,
        version: model.version,
        state: 'READY',
        labels: model.info.labels,
        default: model.name === repository.defaultName,
      }));
      sendNow(ctx, 200, 'application/json', JSON.stringify(models));
    },
  };
}

/** The body of GET <base>/info for `model`: its identity, its own limits (model-settings.json) and the server's. */
function buildInfo(model: ServedModel, config: EdgeSettings, version: string): string {
  const { info, limits } = model;
  return JSON.stringify({
    model_id: info.repo,
    model_revision: info.revision,
    model_file: info.modelFile,
    model_sha256: info.onnxSha256,
    problem_type: info.problemType,
    labels: info.labels,
    max_input_length: info.maxTokens,
    max_client_batch_size: config.maxTexts,
    max_batch_size: limits.maxBatchSize,
    max_batch_tokens: limits.maxBatchTokens,
    max_queue_tokens: limits.maxQueueTokens,
    workers: config.workers,
    version,
  });
}
