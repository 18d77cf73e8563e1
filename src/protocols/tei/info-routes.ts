import type { HttpSettings } from '../../config.js';
import type { Lifecycle } from '../../lifecycle.js';
import type { ModelInfo } from '../../model-loading/model-info.js';
import type { RouteHandler } from '../../http/pipeline.js';
import { sendNow } from '../../http/respond.js';
import { TEI_UNHEALTHY } from '../../http/error-answers.js';

/**
 * The body of GET <tei prefix>/info in TEI's Info shape (router/src/lib.rs), built once at start. TEI calls a
 * one-label model a reranker and any other a classifier. TEI's max_concurrent_requests caps requests in flight;
 * this server admits by predicted wait instead, and reports how many inputs of the model's full length the
 * queue holds (MAX_QUEUE_TOKENS / max tokens). auto_truncate is false: `truncate` defaults to false, as TEI's.
 */
export function buildTeiInfo(model: ModelInfo, config: HttpSettings, version: string): string {
  const id2label = Object.fromEntries(model.labels.map((label, i) => [String(i), label]));
  const label2id = Object.fromEntries(model.labels.map((label, i) => [label, i]));
  const kind = model.labels.length === 1 ? 'reranker' : 'classifier';
  return JSON.stringify({
    model_id: model.repo ?? model.dir,
    model_sha: model.revision ?? null,
    model_dtype: /quantized|int8/.test(model.modelFile) ? 'int8' : 'float32',
    model_type: { [kind]: { id2label, label2id } },
    max_concurrent_requests: Math.max(1, Math.floor(config.maxQueueTokens / model.maxTokens)),
    max_input_length: model.maxTokens,
    max_batch_tokens: config.maxBatchTokens,
    max_batch_requests: config.maxBatchSize,
    max_client_batch_size: config.maxTexts,
    auto_truncate: false,
    tokenization_workers: config.tokenizerThreads,
    version,
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
