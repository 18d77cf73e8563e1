import type { EdgeSettings } from '../../config.js';
import type { ModelInfo } from '../../model-loading/model-info.js';

/**
 * What TEI's GET /info and tei.v1.Info report of this server (TEI's Info, router/src/lib.rs), built once at start
 * and written by each protocol in its own form. TEI calls a one-label model a reranker and any other a
 * classifier. TEI's max_concurrent_requests caps requests in flight; this server admits by predicted wait instead,
 * and reports how many inputs of the model's full length the queue holds (MAX_QUEUE_TOKENS / max tokens).
 */
export interface TeiInfo {
  readonly modelId: string;
  /** The model repository's revision, when the model was fetched from one. */
  readonly modelSha: string | null;
  readonly modelDtype: 'int8' | 'float32';
  readonly modelType: 'classifier' | 'reranker';
  /** id2label, by id. */
  readonly labels: readonly string[];
  readonly maxConcurrentRequests: number;
  readonly maxInputLength: number;
  readonly maxBatchTokens: number;
  readonly maxBatchRequests: number;
  readonly maxClientBatchSize: number;
  readonly tokenizationWorkers: number;
  readonly version: string;
}

export function teiInfo(
  model: ModelInfo,
  config: Pick<EdgeSettings, 'maxQueueTokens' | 'maxBatchTokens' | 'maxBatchSize' | 'maxTexts' | 'tokenizerThreads'>,
  version: string,
): TeiInfo {
  return {
    modelId: model.repo ?? model.dir,
    modelSha: model.revision ?? null,
    modelDtype: /quantized|int8/.test(model.modelFile) ? 'int8' : 'float32',
    modelType: model.labels.length === 1 ? 'reranker' : 'classifier',
    labels: model.labels,
    maxConcurrentRequests: Math.max(1, Math.floor(config.maxQueueTokens / model.maxTokens)),
    maxInputLength: model.maxTokens,
    maxBatchTokens: config.maxBatchTokens,
    maxBatchRequests: config.maxBatchSize,
    maxClientBatchSize: config.maxTexts,
    tokenizationWorkers: config.tokenizerThreads,
    version,
  };
}
