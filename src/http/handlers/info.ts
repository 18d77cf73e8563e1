import type { EdgeSettings } from '../../config.js';
import type { ModelInfo } from '../../model-loading/model-info.js';

/**
 * The body of GET <base>/info (schemas/info-response.json): what is served and under which limits. Built
 * once at start: none of it changes while the process runs.
 */
export function buildInfo(model: ModelInfo, config: EdgeSettings, version: string): string {
  return JSON.stringify({
    model_id: model.repo,
    model_revision: model.revision,
    model_file: model.modelFile,
    model_sha256: model.onnxSha256,
    problem_type: model.problemType,
    labels: model.labels,
    max_input_length: model.maxTokens,
    max_client_batch_size: config.maxTexts,
    max_batch_size: config.maxBatchSize,
    max_batch_tokens: config.maxBatchTokens,
    max_queue_tokens: config.maxQueueTokens,
    workers: config.workers,
    version,
  });
}
