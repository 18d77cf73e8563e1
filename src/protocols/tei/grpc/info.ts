import type { TeiInfo } from '../info.js';
import type { InfoResponse } from './messages.js';

/** tei.v1.Info's answer: what GET /info reports (../info.ts); sha and docker_label are unset, as /info's are null. */
export function infoResponseOf(info: TeiInfo): InfoResponse {
  return {
    version: info.version,
    model_id: info.modelId,
    ...(info.modelSha === null ? {} : { model_sha: info.modelSha }),
    model_dtype: info.modelDtype,
    model_type: info.modelType === 'reranker' ? 'MODEL_TYPE_RERANKER' : 'MODEL_TYPE_CLASSIFIER',
    max_concurrent_requests: info.maxConcurrentRequests,
    max_input_length: info.maxInputLength,
    max_batch_tokens: info.maxBatchTokens,
    max_batch_requests: info.maxBatchRequests,
    max_client_batch_size: info.maxClientBatchSize,
    tokenization_workers: info.tokenizationWorkers,
  };
}
