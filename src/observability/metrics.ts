import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterFamily, HistogramFamily, type CounterChild, type HistogramChild } from './metric-families.js';
import type { BatchObserver } from '../inference/dispatcher.js';
import type { CacheOutcome } from '../cache/prediction-cache.js';

export type FailureReason = 'overloaded' | 'timeout' | 'worker_failure';

/** What a model's batches, queue, tokenization and cache lookups report: its series, with its `model` label. */
export interface ModelObserver extends BatchObserver {
  /** One request's tokenization (its new texts, on a tokenizer thread). */
  onTokenize(ms: number): void;
  cacheLookup(outcome: CacheOutcome, count: number): void;
  redisInvalid(count: number): void;
  /** Values read from Redis whose signature did not verify (CACHE_SIGNING_KEYS); also counted by redisInvalid. */
  redisUnverified(count: number): void;
}

/** Every metric the service records. A disabled set records nothing and exposes nothing. */
export interface Metrics {
  readonly enabled: boolean;
  readonly contentType: string;
  /** The Prometheus text exposition, built at scrape time. */
  exposition(): Promise<string>;
  observeRequest(route: string, status: number, seconds: number): void;
  /** One gRPC call (one message of a stream) by its method (`package.Service/Method`) and status code's name. */
  observeGrpc(method: string, code: string, seconds: number): void;
  /**
   * A 200 answered from the response memo, in one call: the request and its duration, and the memo hit (its
   * distinct texts are the model's in-memory cache hits: ModelObserver.cacheLookup).
   */
  observeMemoAnswer(route: string, seconds: number): void;
  redisError(): void;
  redisSkipped(): void;
  failure(reason: FailureReason): void;
  /** A request refused for its API key: none sent, or one that is not a configured key. */
  apiKeyRefused(reason: 'missing' | 'invalid'): void;
  /**
   * The observer of the model called `name`: its series' children, bound once (the same ones again for the same
   * name, so a model loaded again counts on).
   */
  modelObserver(name: string): ModelObserver;
}

/** A served model as its gauges read it at scrape time (a ServedModel). */
export interface ModelGaugeSource {
  readonly name: string;
  readonly scheduler: {
    readonly queue: { readonly length: number; readonly tokens: number };
    /** What admission compares with MAX_QUEUE_DELAY_MS: ms until the model's queued and running work is done. */
    readonly admission: { predictedDrainMs(): number };
  };
  /** Its in-process tier's entries and bytes (its own count, see lru.ts): it fills up to its bounds, then stays. */
  memoryTier(): { entries: number; bytes: number };
}

/** Live gauges read at scrape time, so the hot path never updates them. */
export interface MetricsSources {
  /** The models served now: each its queue and cache gauges, by its name. */
  models(): readonly ModelGaugeSource[];
  busyWorkers(): number;
  workers(): number;
  /** The model threads' layout now (src/inference/thread-layout.ts). */
  layout(): string;
  stats(): { modelRuns: number; textsRun: number };
  /** Whether Redis takes lookups; undefined when no Redis is configured (then the gauge is not exported). */
  redisUp?: () => boolean;
  /** Whether API keys are configured; without them the refusal counter is not exported. */
  apiKeys?: boolean;
  /** Whether cache values are signed (CACHE_SIGNING_KEYS); without it the unverified counter is not exported. */
  cacheSigning?: boolean;
}

// Sub-millisecond resolution for cached requests, up to the 10 s default deadline.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128];
const PADDED_TOKEN_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

export const disabledMetrics: Metrics = {
  enabled: false,
  contentType: 'text/plain',
  exposition: async () => '',
  observeRequest() {},
  observeGrpc() {},
  observeMemoAnswer() {},
  redisError() {},
  redisSkipped() {},
  failure() {},
  apiKeyRefused() {},
  modelObserver: () => noModelObserver,
};

const noModelObserver: ModelObserver = {
  onBatch() {},
  onQueueWait() {},
  onTokenize() {},
  cacheLookup() {},
  redisInvalid() {},
  redisUnverified() {},
};

export function createMetrics(sources: MetricsSources): Metrics {
  // prom-client keeps what is read at scrape time: the Node and process defaults and the live gauges.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const registers = [registry];
  // A gauge per served model: the models share the threads, but each has its own queue, admission and in-process tier.
  const perModel = (name: string, help: string, value: (model: ModelGaugeSource) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['model'],
      registers,
      collect() {
        // A model unloaded since the last scrape leaves no stale series.
        this.reset();
        for (const model of sources.models()) this.set({ model: model.name }, value(model));
      },
    });
  };
  perModel('inf_queue_texts', 'Texts waiting for a worker thread, by model.', (m) => m.scheduler.queue.length);
  // The scaling signal (docs/scaling-out.md): admission refuses by predicted wait, so this is what an
  // autoscaler should keep low, rather than CPU, which saturates long before a request is refused. Per model:
  // the autoscaler follows each pod's worst model (docs/scaling-out.md#models).
  perModel(
    'inf_queue_predicted_wait_seconds',
    "Predicted wait of a model's new text: its queued and running work by the cost model / threads (admission refuses past MAX_QUEUE_DELAY_MS).",
    (m) => m.scheduler.admission.predictedDrainMs() / 1000,
  );
  perModel(
    'inf_queue_tokens',
    "Tokens of a model's texts waiting for a worker thread (admission refuses past MAX_QUEUE_TOKENS).",
    (m) => m.scheduler.queue.tokens,
  );
  new Gauge({
    name: 'inf_workers',
    help: 'Model worker threads.',
    registers,
    collect() {
      this.set(sources.workers());
    },
  });
  new Gauge({
    name: 'inf_workers_busy',
    help: 'Model worker threads running a batch.',
    registers,
    collect() {
      this.set(sources.busyWorkers());
    },
  });
  new Gauge({
    name: 'inf_worker_layout',
    help: "The model threads' layout, 1 on the one that runs: wide (one session on every core, for texts that come one at a time), narrow (a single-thread session per thread, for a queue), or fixed (INTRA_OP_THREADS set).",
    labelNames: ['layout'],
    registers,
    collect() {
      this.reset();
      this.set({ layout: sources.layout() }, 1);
    },
  });
  perModel(
    'inf_cache_memory_entries',
    "Predictions held by a model's in-process cache tier (bounded by CACHE_LRU_ENTRIES).",
    (m) => m.memoryTier().entries,
  );
  perModel(
    'inf_cache_memory_bytes',
    "Bytes of a model's in-process cache tier as its bound counts them (bounded by CACHE_LRU_BYTES).",
    (m) => m.memoryTier().bytes,
  );
  const { redisUp } = sources;
  if (redisUp)
    new Gauge({
      name: 'inf_cache_redis_up',
      help: 'Whether Redis takes lookups (1: connected and not skipped by the circuit breaker).',
      registers,
      collect() {
        this.set(redisUp() ? 1 : 0);
      },
    });
  new Counter({
    name: 'inf_model_runs_total',
    help: 'Model runs (batches).',
    registers,
    collect() {
      this.reset();
      this.inc(sources.stats().modelRuns);
    },
  });
  new Counter({
    name: 'inf_inferred_texts_total',
    help: 'Texts run through the model.',
    registers,
    collect() {
      this.reset();
      this.inc(sources.stats().textsRun);
    },
  });

  // What the request path records: preallocated children, so recording allocates nothing.
  const requests = new CounterFamily('inf_http_requests_total', 'HTTP requests by route and status.', ['route', 'status']);
  const requestSeconds = new HistogramFamily(
    'inf_http_request_duration_seconds',
    'HTTP request duration by route and status.',
    LATENCY_BUCKETS,
    ['route', 'status'],
  );
  const grpcRequests = new CounterFamily('inf_grpc_requests_total', 'gRPC calls (each message of a stream) by method and status code.', [
    'method',
    'code',
  ]);
  const grpcSeconds = new HistogramFamily(
    'inf_grpc_request_duration_seconds',
    'gRPC call duration (each message of a stream) by method and status code.',
    LATENCY_BUCKETS,
    ['method', 'code'],
  );
  // The model's series: each observer binds its children once (modelObserver).
  const model = ['model'];
  const queueWait = new HistogramFamily('inf_queue_wait_seconds', 'Time a text waited for a worker thread.', LATENCY_BUCKETS, model);
  const tokenize = new HistogramFamily(
    'inf_tokenize_duration_seconds',
    "Tokenization time of a request's new texts (tokenizer thread, round trip).",
    LATENCY_BUCKETS,
    model,
  );
  const inference = new HistogramFamily('inf_inference_duration_seconds', 'ONNX Runtime run time per batch.', LATENCY_BUCKETS, model);
  const batchSize = new HistogramFamily('inf_batch_size', 'Texts per model run.', BATCH_SIZE_BUCKETS, model);
  const paddedTokens = new HistogramFamily(
    'inf_batch_padded_tokens',
    'Padded tokens (texts x longest) per model run.',
    PADDED_TOKEN_BUCKETS,
    model,
  );
  const cacheLookups = new CounterFamily('inf_cache_lookups_total', 'Distinct texts looked up in the cache, by outcome.', [
    'result',
    'model',
  ]);
  const redisErrors = new CounterFamily('inf_cache_redis_errors_total', 'Redis lookups or writes that failed or ran past their budget.');
  const redisSkips = new CounterFamily(
    'inf_cache_redis_skipped_total',
    'Redis lookups not sent because Redis was disconnected or skipped by the circuit breaker.',
  );
  const redisInvalids = new CounterFamily(
    'inf_cache_redis_invalid_total',
    'Values read from Redis that are not a prediction of this model: served as misses and overwritten.',
    model,
  );
  const redisUnverifieds = new CounterFamily(
    'inf_cache_redis_unverified_total',
    'Values read from Redis whose signature did not verify (altered, unsigned, moved from another key, unknown key): also in inf_cache_redis_invalid_total.',
    model,
  );
  const failures = new CounterFamily('inf_request_failures_total', 'Requests refused or failed, by reason.', ['reason']);
  const apiKeyRefusals = new CounterFamily('inf_api_key_refusals_total', 'Requests refused 401 for their API key, by reason.', ['reason']);
  const memoHits = new CounterFamily(
    'inf_response_memo_hits_total',
    'Requests answered from the response memo (every text cached, same body as before).',
  );
  const families = [
    requests,
    requestSeconds,
    grpcRequests,
    grpcSeconds,
    queueWait,
    tokenize,
    inference,
    batchSize,
    paddedTokens,
    cacheLookups,
    redisErrors,
    redisSkips,
    redisInvalids,
    failures,
    memoHits,
    ...(sources.apiKeys ? [apiKeyRefusals] : []),
    ...(sources.cacheSigning ? [redisUnverifieds] : []),
  ];

  const byRoute = new Map<string, Map<number, { count: CounterChild; seconds: HistogramChild }>>();
  const reasons = {
    overloaded: failures.child('overloaded'),
    timeout: failures.child('timeout'),
    worker_failure: failures.child('worker_failure'),
  };
  const refusals = { missing: apiKeyRefusals.child('missing'), invalid: apiKeyRefusals.child('invalid') };
  const redisError = redisErrors.child();
  const redisSkip = redisSkips.child();
  const memoHit = memoHits.child();
  const requestChildren = (route: string, status: number): { count: CounterChild; seconds: HistogramChild } => {
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) byRoute.set(route, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (child === undefined) {
      child = { count: requests.child(route, String(status)), seconds: requestSeconds.child(route, String(status)) };
      byStatus.set(status, child);
    }
    return child;
  };
  const modelObservers = new Map<string, ModelObserver>();
  const createModelObserver = (name: string): ModelObserver => {
    const queueWaitChild = queueWait.child(name);
    const tokenizeChild = tokenize.child(name);
    const inferenceChild = inference.child(name);
    const batchSizeChild = batchSize.child(name);
    const paddedTokensChild = paddedTokens.child(name);
    const redisInvalid = redisInvalids.child(name);
    const redisUnverified = redisUnverifieds.child(name);
    const outcomes = {
      memory_hit: cacheLookups.child('memory_hit', name),
      redis_hit: cacheLookups.child('redis_hit', name),
      miss: cacheLookups.child('miss', name),
    };
    return {
      onBatch(size, tokens, inferenceMs) {
        batchSizeChild.observe(size);
        paddedTokensChild.observe(tokens);
        inferenceChild.observe(inferenceMs / 1000);
      },
      onTokenize(ms) {
        tokenizeChild.observe(ms / 1000);
      },
      onQueueWait(ms) {
        queueWaitChild.observe(ms / 1000);
      },
      cacheLookup(outcome, count) {
        outcomes[outcome].inc(count);
      },
      redisInvalid(count) {
        redisInvalid.inc(count);
      },
      redisUnverified(count) {
        redisUnverified.inc(count);
      },
    };
  };

  return {
    enabled: true,
    contentType: registry.contentType,
    async exposition() {
      return (await registry.metrics()) + families.map((f) => f.render()).join('');
    },
    observeRequest(route, status, seconds) {
      const child = requestChildren(route, status);
      child.count.inc();
      child.seconds.observe(seconds);
    },
    observeGrpc(method, code, seconds) {
      // A family's children are kept by their labels: the few methods and codes cost one map lookup each.
      grpcRequests.child(method, code).inc();
      grpcSeconds.child(method, code).observe(seconds);
    },
    observeMemoAnswer(route, seconds) {
      const child = requestChildren(route, 200);
      child.count.inc();
      child.seconds.observe(seconds);
      memoHit.inc();
    },
    redisError() {
      redisError.inc();
    },
    redisSkipped() {
      redisSkip.inc();
    },
    failure(reason) {
      reasons[reason].inc();
    },
    apiKeyRefused(reason) {
      refusals[reason].inc();
    },
    modelObserver(name) {
      let observer = modelObservers.get(name);
      if (observer === undefined) modelObservers.set(name, (observer = createModelObserver(name)));
      return observer;
    },
  };
}
