import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from '../inference/batcher.js';
import type { CacheOutcome } from '../cache/prediction-cache.js';

export type FailureReason = 'overloaded' | 'timeout' | 'worker_failure';

/** Every metric the service records. A disabled set records nothing and exposes nothing. */
export interface Metrics extends BatchObserver {
  readonly registry: Registry | undefined;
  observeRequest(route: string, status: number, seconds: number): void;
  cacheLookup(outcome: CacheOutcome, count: number): void;
  redisError(): void;
  failure(reason: FailureReason): void;
}

/** Live gauges read at scrape time, so the hot path never updates them. */
export interface MetricsSources {
  queueLength(): number;
  busyWorkers(): number;
  workers(): number;
  stats(): { modelRuns: number; textsRun: number };
}

// Sub-millisecond resolution for cached requests, up to the 10 s default deadline.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128];
const PADDED_TOKEN_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

export const disabledMetrics: Metrics = {
  registry: undefined,
  observeRequest() {},
  cacheLookup() {},
  redisError() {},
  failure() {},
  onBatch() {},
  onQueueWait() {},
  onWorkerFailure() {},
};

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const registers = [registry];

  const requests = new Counter({ name: 'inf_http_requests_total', help: 'HTTP requests by route and status.', labelNames: ['route', 'status'], registers });
  const requestSeconds = new Histogram({ name: 'inf_http_request_duration_seconds', help: 'HTTP request duration by route and status.', labelNames: ['route', 'status'], buckets: LATENCY_BUCKETS, registers });
  const queueWait = new Histogram({ name: 'inf_queue_wait_seconds', help: 'Time a text waited for a worker thread.', buckets: LATENCY_BUCKETS, registers });
  const tokenize = new Histogram({ name: 'inf_tokenize_duration_seconds', help: 'Tokenization time per batch (in the worker).', buckets: LATENCY_BUCKETS, registers });
  const inference = new Histogram({ name: 'inf_inference_duration_seconds', help: 'ONNX Runtime run time per batch.', buckets: LATENCY_BUCKETS, registers });
  const batchSize = new Histogram({ name: 'inf_batch_size', help: 'Texts per model run.', buckets: BATCH_SIZE_BUCKETS, registers });
  const paddedTokens = new Histogram({ name: 'inf_batch_padded_tokens', help: 'Padded tokens (texts x longest) per model run.', buckets: PADDED_TOKEN_BUCKETS, registers });
  const cacheLookups = new Counter({ name: 'inf_cache_lookups_total', help: 'Distinct texts looked up in the cache, by outcome.', labelNames: ['result'], registers });
  const redisErrors = new Counter({ name: 'inf_cache_redis_errors_total', help: 'Redis lookups or writes that failed or ran past their budget.', registers });
  const failures = new Counter({ name: 'inf_request_failures_total', help: 'Requests refused or failed, by reason.', labelNames: ['reason'], registers });
  new Gauge({ name: 'inf_queue_texts', help: 'Texts waiting for a worker thread.', registers, collect() { this.set(sources.queueLength()); } });
  new Gauge({ name: 'inf_workers', help: 'Model worker threads.', registers, collect() { this.set(sources.workers()); } });
  new Gauge({ name: 'inf_workers_busy', help: 'Model worker threads running a batch.', registers, collect() { this.set(sources.busyWorkers()); } });
  new Counter({ name: 'inf_model_runs_total', help: 'Model runs (batches).', registers, collect() { this.reset(); this.inc(sources.stats().modelRuns); } });
  new Counter({ name: 'inf_inferred_texts_total', help: 'Texts run through the model.', registers, collect() { this.reset(); this.inc(sources.stats().textsRun); } });

  // Label children are bound once and reused, so recording allocates nothing per request.
  const requestChildren = new Map<string, Map<number, { count: Counter.Internal; seconds: Histogram.Internal<string> }>>();
  const outcomes = {
    memory_hit: cacheLookups.labels('memory_hit'),
    redis_hit: cacheLookups.labels('redis_hit'),
    miss: cacheLookups.labels('miss'),
  } as const;
  const reasons = {
    overloaded: failures.labels('overloaded'),
    timeout: failures.labels('timeout'),
    worker_failure: failures.labels('worker_failure'),
  } as const;
  for (const child of [...Object.values(outcomes), ...Object.values(reasons)]) child.inc(0);

  return {
    registry,
    observeRequest(route, status, seconds) {
      let byStatus = requestChildren.get(route);
      if (byStatus === undefined) requestChildren.set(route, (byStatus = new Map()));
      let child = byStatus.get(status);
      if (child === undefined) {
        child = { count: requests.labels(route, String(status)), seconds: requestSeconds.labels(route, String(status)) };
        byStatus.set(status, child);
      }
      child.count.inc();
      child.seconds.observe(seconds);
    },
    cacheLookup(outcome, count) {
      if (count > 0) outcomes[outcome].inc(count);
    },
    redisError() {
      redisErrors.inc();
    },
    failure(reason) {
      reasons[reason].inc();
    },
    onBatch(size, tokens, tokenizeMs, inferenceMs) {
      batchSize.observe(size);
      paddedTokens.observe(tokens);
      tokenize.observe(tokenizeMs / 1000);
      inference.observe(inferenceMs / 1000);
    },
    onQueueWait(ms) {
      queueWait.observe(ms / 1000);
    },
    onWorkerFailure() {
      reasons.worker_failure.inc();
    },
  };
}
