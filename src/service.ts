import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { us_listen_socket_close, us_socket_local_port, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { packageRoot } from '../model/paths.js';
import { type Config, EDGE_SETTINGS, settingsFor } from './config.js';
import { Errors } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { loadModelInfo, type ModelInfo } from './model-loading/model-info.js';
import { withPerRowQuantization } from './model-loading/per-row-model.js';
import { createModelPool, type ModelPool } from './inference/pool.js';
import { createTokenizerPool } from './inference/tokenizer-pool.js';
import { CostModel } from './inference/cost-model.js';
import type { InferenceQueue } from './inference/queue.js';
import type { Dispatcher } from './inference/dispatcher.js';
import { createScheduler, type Scheduler } from './inference/scheduler.js';
import { initialSession, ThreadLayout, threadLayoutOptions } from './inference/thread-layout.js';
import { PredictionCodec } from './inference/prediction-codec.js';
import { scoreRow } from './inference/score-functions.js';
import { Predictor } from './inference/predictor.js';
import { LruCache } from './cache/lru.js';
import { RedisTier } from './cache/redis-tier.js';
import { CoalescedLookups } from './cache/coalesced-lookups.js';
import { type RedisTransport, SingleRedis } from './cache/redis-transport.js';
import { RedisCluster } from './cache/redis-cluster.js';
import { createCacheKey, isRawKey } from './cache/cache-key.js';
import { PredictionCache } from './cache/prediction-cache.js';
import { createCacheSigning } from './cache/signing-keys.js';
import { createMetrics, disabledMetrics, type Metrics } from './observability/metrics.js';
import { createTracing } from './observability/tracing.js';
import { createApp } from './http/app.js';
import { ResponseMemo } from './http/response-memo.js';
import { buildOpenApi } from './http/openapi.js';
import { createApiKeys } from './http/api-keys.js';
import { buildInfo } from './http/handlers/info.js';
import { buildTeiInfo } from './protocols/tei/info-routes.js';
import { teiInfo } from './protocols/tei/info.js';
import { loadManifest } from '../model/manifest.js';
import { createRequestIds } from './http/request-id.js';
import { startGrpcServer } from './grpc/server.js';
import { createGrpcServices } from './grpc/services.js';

/** A running service: what main and the in-process tests hold. */
export interface Service {
  readonly port: number;
  /** The gRPC server's port; undefined when GRPC_PORT=0 turns gRPC off. */
  readonly grpcPort: number | undefined;
  readonly model: ModelInfo;
  readonly lifecycle: Lifecycle;
  readonly pool: ModelPool;
  readonly queue: InferenceQueue;
  readonly dispatcher: Dispatcher;
  readonly layout: ThreadLayout;
  readonly costModel: CostModel;
  readonly metrics: Metrics;
  /** Resolves when every worker is warm and health turns 200. */
  readonly ready: Promise<void>;
  /**
   * Graceful stop: health 503, stop accepting, let in-flight requests finish (up to shutdownGraceMs),
   * then close the pool and Redis. Resolves true when every request finished in time.
   */
  shutdown(): Promise<boolean>;
}

/**
 * Wires the service together and starts listening at once, so health can answer 503 while the workers load
 * and warm the model.
 */
export async function startService(config: Config, logger: Logger, overrides: { workerFile?: string } = {}): Promise<Service> {
  const manifest = await loadManifest(join(packageRoot, 'model', 'manifest.json')).catch(() => undefined);
  const pinned = manifest && {
    ...manifest,
    onnxSha256s: Object.values(manifest.variants)
      .flat()
      .flatMap((f) => f.sha256 ?? []),
  };
  const loaded = await loadModelInfo(config.modelDir, config.modelFile, config.maxTokens, pinned);
  const model = config.perRowQuantization ? await withPerRowQuantization(loaded) : loaded;
  logger.info(
    {
      modelDir: model.dir,
      onnx: model.onnxPath,
      sha256: model.onnxSha256,
      modelId: model.id,
      labels: model.labels,
      problemType: model.problemType,
      maxTokens: model.maxTokens,
      maxTokensLimitedBy: model.maxTokensLimitedBy,
      padId: model.padId,
      repo: model.repo,
      revision: model.revision,
      activationQuantization: model.rewrite
        ? { rewrite: model.rewrite.name, sha256: model.rewrite.sha256, matMuls: model.rewrite.matMuls }
        : 'as in the file',
    },
    'model',
  );

  const layoutOptions = threadLayoutOptions(config.workers, config.intraOpThreads);
  const pool = createModelPool({
    workers: config.workers,
    session: initialSession(layoutOptions),
    model,
    logger,
    workerFile: overrides.workerFile,
  });
  const layout = new ThreadLayout(
    layoutOptions,
    (slot, session, calibrate) => pool.load(slot, session, calibrate),
    logger,
    () => performance.now(),
  );
  logger.info(
    { workers: config.workers, layout: layout.layout, intraOpThreads: config.intraOpThreads, cpuLimit: config.cpuLimit },
    'worker pool starting',
  );
  const lifecycle = new Lifecycle();
  // A prior until the workers' warm-up runs calibrate it (no request is admitted before: health is 503).
  const costModel = CostModel.of([2, 0.1, 0.0005]);
  // Built once the metrics it reports to exist; the metrics read it lazily.
  let scheduler: Scheduler | undefined;
  let redis: RedisTier | undefined;
  const transport = createRedisTransport(config);
  const lru = new LruCache(config.cacheLruEntries, config.cacheLruBytes);
  const metrics = config.metricsEnabled
    ? createMetrics({
        queueLength: () => scheduler?.queue.length ?? 0,
        queueTokens: () => scheduler?.queue.tokens ?? 0,
        predictedWaitMs: () => scheduler?.admission.predictedDrainMs() ?? 0,
        busyWorkers: () => scheduler?.dispatcher.busyWorkers ?? 0,
        workers: () => pool.size,
        layout: () => layout.layout,
        memoryTier: () => ({ entries: lru.size, bytes: lru.sizeBytes }),
        stats: () => scheduler?.dispatcher.stats ?? { modelRuns: 0, textsRun: 0 },
        redisUp: transport ? () => redis?.isUp ?? false : undefined,
        apiKeys: config.apiKeys !== undefined || config.apiKeysFile !== undefined,
        cacheSigning: config.cacheSigningKeys !== undefined || config.cacheSigningKeysFile !== undefined,
      })
    : disabledMetrics;
  const tokenizer = createTokenizerPool({
    threads: config.tokenizerThreads,
    tokenizerPath: model.tokenizerPath,
    maxTokens: model.maxTokens,
    onTokenize: (ms) => metrics.onTokenize(ms),
  });
  const codec = new PredictionCodec(model.labels);
  const numLabels = model.labels.length;
  scheduler = createScheduler(
    {
      maxQueueTokens: config.maxQueueTokens,
      maxQueueDelayMs: Math.min(config.maxQueueDelayMs, config.requestTimeoutMs),
      typicalBatchRows: Math.min(16, config.maxBatchSize),
      maxBatchSize: config.maxBatchSize,
      maxBatchTokens: config.maxBatchTokens,
    },
    costModel,
    layout,
    (rows, slot, session) => pool.run(slot, rows, session),
    (logits, row) => codec.scored(scoreRow(model.scoreFunction, logits, row, numLabels)),
    metrics,
  );
  const { queue, admission, dispatcher } = scheduler;

  redis = transport
    ? new RedisTier({
        transport,
        ttlSeconds: config.cacheTtlSeconds,
        lookupTimeoutMs: config.cacheLookupTimeoutMs,
        logger,
        onError: () => metrics.redisError(),
        onSkip: () => metrics.redisSkipped(),
      })
    : undefined;
  const redisTarget = config.redisClusterNodes
    ? `cluster ${config.redisClusterNodes.seeds.map((s) => `${s.host}:${s.port}`).join(',')}${config.redisClusterNodes.tls ? ' (TLS)' : ''}`
    : config.redisUrl
      ? redactUrl(config.redisUrl)
      : 'none (in-process cache only)';
  logger.info({ redis: redisTarget, prefix: config.cachePrefix }, 'cache');
  const signing = createCacheSigning(config, logger, redis !== undefined);
  const cache = new PredictionCache({
    lru,
    redis,
    redisKey: createCacheKey(config.cachePrefix, model.id),
    // Scores and raw scores (TEI's raw_scores) are checked each by their own rule.
    isValid: (value, key) => codec.check(value, isRawKey(key)),
    onLookup: (outcome, count) => metrics.cacheLookup(outcome, count),
    onInvalid: (count) => metrics.redisInvalid(count),
    signer: signing.signer,
    onUnverified: (count) => metrics.redisUnverified(count),
  });
  const predictor = new Predictor(cache, tokenizer, admission, () => performance.now(), codec);
  // The memo holds answers the in-process tier gave; with that tier off, every lookup goes to Redis as asked.
  const memo =
    config.responseMemoEntries > 0 && config.responseMemoBytes > 0 && config.cacheLruEntries > 0
      ? new ResponseMemo({
          maxEntries: config.responseMemoEntries,
          maxBytes: config.responseMemoBytes,
          maxBodyBytes: config.responseMemoMaxBodyBytes,
        })
      : undefined;
  const apiKeys = createApiKeys(config, logger, (reason) => metrics.apiKeyRefused(reason));
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const tracing = createTracing(config, version);
  if (tracing.enabled) logger.info({ endpoint: config.otelTracesEndpoint, sampler: config.otelTracesSampler }, 'tracing');
  const edgeSettings = settingsFor(config, EDGE_SETTINGS);
  const app = createApp({
    model,
    tracing,
    modelId: model.id,
    memo,
    config: edgeSettings,
    predictor,
    lifecycle,
    metrics,
    logger,
    apiKeys: apiKeys.guard,
    openApi: buildOpenApi({ config: edgeSettings, labels: model.labels, version, apiKeys: apiKeys.guard }),
    info: buildInfo(model, edgeSettings, version),
    version,
    teiInfo: buildTeiInfo(teiInfo(model, edgeSettings, version)),
    numLabels,
  });

  const listenSocket = await listen(app, config.host, config.port);
  const port = us_socket_local_port(listenSocket);
  logger.info({ host: config.host, port, basePath: config.basePath }, 'listening');
  const grpcServer =
    config.grpcPort === 0
      ? undefined
      : await startGrpcServer(
          config,
          lifecycle,
          createGrpcServices({
            config: edgeSettings,
            model,
            version,
            predictor,
            lifecycle,
            metrics,
            logger,
            tracing,
            apiKeys: apiKeys.guard,
            requestIds: createRequestIds(),
          }),
        );
  if (grpcServer) logger.info({ host: config.host, grpcPort: grpcServer.port }, 'grpc listening');

  const ready = pool.ready.then((calibration) => {
    layout.started(calibration);
    costModel.calibrate(calibration);
    if (lifecycle.state !== 'starting') return;
    lifecycle.state = 'ready';
    logger.info({ workers: config.workers, costModel: costModel.coefficientsAndDrift }, 'ready');
  });

  return {
    port,
    grpcPort: grpcServer?.port,
    model,
    lifecycle,
    pool,
    queue,
    dispatcher,
    layout,
    costModel,
    metrics,
    ready,
    async shutdown() {
      lifecycle.state = 'draining';
      logger.info({ inFlight: lifecycle.requestsInFlight, graceMs: config.shutdownGraceMs }, 'draining');
      us_listen_socket_close(listenSocket);
      apiKeys.close();
      signing.close();
      const drained = await lifecycle.waitIdle(config.shutdownGraceMs);
      if (!drained) logger.warn({ inFlight: lifecycle.requestsInFlight }, 'grace period over; closing with requests in flight');
      // No gRPC call is in flight now (the drain counts them too): the last answers leave, then the connections close.
      await grpcServer?.stop(GRPC_STOP_GRACE_MS);
      // Answers that close their connection leave a turn after they are given (respond.ts endClosing).
      await new Promise((resolve) => setImmediate(resolve));
      // Closes the keep-alive connections that are left; their requests, if any, were answered.
      app.close();
      // Batches of requests that timed out or left still run; a thread must not be terminated mid-run.
      await dispatcher.whenIdle();
      // A session's load (a change of thread layout) is native code too.
      await layout.stop();
      // A stop during start-up: the warm-up is an inference too, and must finish before its thread ends.
      await pool.ready.catch(() => {});
      await pool.close();
      await tokenizer.close();
      await redis?.close();
      // Last: the Redis writes above end spans too.
      await tracing.shutdown();
      logger.info('stopped');
      return drained;
    },
  };
}

/** How long the gRPC server's last answers may take to leave once no call is in flight, before its connections are cut. */
const GRPC_STOP_GRACE_MS = 1000;

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(Errors.Listen(host, port))));
  });
}

/** The cache's shared tier: a Redis Cluster, one Redis server, or none; either way one command per turn's lookups. */
function createRedisTransport(config: Config): RedisTransport | undefined {
  const auth = { username: config.redisUsername, password: config.redisPassword };
  const transport = config.redisClusterNodes
    ? new RedisCluster({ ...config.redisClusterNodes, ...auth })
    : config.redisUrl
      ? new SingleRedis(config.redisUrl, auth)
      : undefined;
  return transport && new CoalescedLookups(transport);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
