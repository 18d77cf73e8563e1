import type { Lifecycle } from '../../lifecycle.js';
import type { TeiInfo } from './info.js';
import type { RouteHandler } from '../../http/pipeline.js';
import { sendNow } from '../../http/respond.js';
import { TEI_UNHEALTHY } from '../../http/error-answers.js';

/**
 * The body of GET <tei prefix>/info in TEI's Info shape (router/src/lib.rs), written once at start.
 * auto_truncate is false: `truncate` defaults to false, as TEI's.
 */
export function buildTeiInfo(info: TeiInfo): string {
  const id2label = Object.fromEntries(info.labels.map((label, i) => [String(i), label]));
  const label2id = Object.fromEntries(info.labels.map((label, i) => [label, i]));
  return JSON.stringify({
    model_id: info.modelId,
    model_sha: info.modelSha,
    model_dtype: info.modelDtype,
    model_type: { [info.modelType]: { id2label, label2id } },
    max_concurrent_requests: info.maxConcurrentRequests,
    max_input_length: info.maxInputLength,
    max_batch_tokens: info.maxBatchTokens,
    max_batch_requests: info.maxBatchRequests,
    max_client_batch_size: info.maxClientBatchSize,
    auto_truncate: false,
    tokenization_workers: info.tokenizationWorkers,
    version: info.version,
    sha: null,
    docker_label: null,
  });
}

/** GET <tei prefix>/health as TEI answers it: 200 with no body when ready, else 503 `unhealthy`. */
export function createTeiHealthHandler(lifecycle: Lifecycle): RouteHandler {
  return (ctx) => {
    if (lifecycle.state === 'ready') sendNow(ctx, 200, 'application/json', '');
    else sendNow(ctx, TEI_UNHEALTHY.status, 'application/json', TEI_UNHEALTHY.body);
  };
}
