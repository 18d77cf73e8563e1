import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { us_listen_socket_close, us_socket_local_port, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { packageRoot } from '../model/paths.js';
import { type Config, EDGE_SETTINGS, settingsFor } from './config.js';
import { Errors } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import type { ModelInfo } from './model-loading/model-info.js';
import { createModelPool, type ModelPool } from './inference/pool.js';
import type { CostModel } from './inference/cost-model.js';
import type { InferenceQueue } from './inference/queue.js';
import type { Dispatcher } from './inference/dispatcher.js';
import { Scheduler } from './inference/scheduler.js';
import { initialSession, ThreadLayout, threadLayoutOptions } from './inference/thread-layout.js';
import { readInitialModels } from './model-repository/initial-models.js';
import { ModelRepository } from './model-repository/model-repository.js';
import { readModel } from './model-repository/read-model.js';
import { createServedModel, poolModelOf, type ServedModel, type SharedParts } from './model-repository/served-model.js';
import { RedisTier } from './cache/redis-tier.js';
import { CoalescedLookups } from './cache/coalesced-lookups.js';
import { type RedisTransport, SingleRedis } from './cache/redis-transport.js';
import { RedisCluster } from './cache/redis-cluster.js';
import { createCacheSigning } from './cache/signing-keys.js';
import { createMetrics, disabledMetrics, type Metrics } from './observability/metrics.js';
import { createTracing } from './observability/tracing.js';
import { createApp } from './http/app.js';
import { ResponseMemo } from './http/response-memo.js';
import { buildOpenApi } from './http/openapi.js';
import { createApiKeys } from './http/api-keys.js';
import { loadManifest } from '../model/manifest.js';
import { createRequestIds } from './http/request-id.js';
import { startGrpcServer } from './grpc/server.js';
import { createGrpcServices } from './grpc/services.js';

/** A running service: what main and the in-process tests hold. */
export interface Service {
  readonly port: number;
  /** The gRPC server's port; undefined when GRPC_PORT=0 turns gRPC off. */
  readonly grpcPort: number | undefined;
  /** The default model. */
  readonly model: ModelInfo;
  readonly lifecycle: Lifecycle;
  readonly pool: ModelPool;
  /** The default model's. */
  readonly queue: InferenceQueue;
  readonly dispatcher: Dispatcher;
  readonly layout: ThreadLayout;
  /** The default model's. */
  readonly costModel: CostModel;
  /** The served models by name; loads and unloads them live. */
  readonly repository: ModelRepository;
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
  const readSettings = { modelFile: config.modelFile, maxTokens: config.maxTokens, perRowQuantization: config.perRowQuantization, pinned };
  const initial = await readInitialModels(config, readSettings, logger);
  for (const { name, read } of initial.models) logModel(logger, name, read.info);
  const model = initial.models[0]!.read.info;

  const layoutOptions = threadLayoutOptions(config.workers, config.intraOpThreads);
  const pool = createModelPool({
    workers: config.workers,
    session: initialSession(layoutOptions),
    models: initial.models.map(({ name, read }) => poolModelOf(name, read.info)),
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
  const scheduler = new Scheduler(layout);
  const { dispatcher } = scheduler;
  // Built once the metrics it reports to exist; the metrics read it lazily.
  let repository: ModelRepository | undefined;
  let redis: RedisTier | undefined;
  const transport = createRedisTransport(config);
  const served = (): readonly ServedModel[] => repository?.served() ?? [];
  const metrics = config.metricsEnabled
    ? createMetrics({
        models: served,
        busyWorkers: () => dispatcher.busyWorkers,
        workers: () => pool.size,
        layout: () => layout.layout,
        stats: () => dispatcher.stats,
        redisUp: transport ? () => redis?.isUp ?? false : undefined,
        apiKeys: config.apiKeys !== undefined || config.apiKeysFile !== undefined,
        cacheSigning: config.cacheSigningKeys !== undefined || config.cacheSigningKeysFile !== undefined,
      })
    : disabledMetrics;

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
  const shared: SharedParts = {
    config,
    pool,
    scheduler,
    redis,
    signer: signing.signer,
    cachePrefix: config.cachePrefix,
    observerOf: (name) => metrics.modelObserver(name),
  };
  const startedModels = initial.models.map(({ name, read }) => createServedModel(name, read.info, read.settings, shared));
  repository = new ModelRepository(
    {
      root: initial.root,
      defaultName: initial.defaultName,
      shared,
      layout,
      logger,
      memoryBudgetBytes: config.modelMemoryBudgetMb === undefined ? undefined : config.modelMemoryBudgetMb * 2 ** 20,
      read: (source) => readModel(source, { ...readSettings, modelFile: undefined }),
      rss: () => process.memoryUsage.rss(),
    },
    startedModels,
  );
  const defaultModel = startedModels[0]!.served;
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
    repository,
    tracing,
    memo,
    config: edgeSettings,
    lifecycle,
    metrics,
    logger,
    apiKeys: apiKeys.guard,
    openApi: buildOpenApi({ config: edgeSettings, labels: model.labels, version, apiKeys: apiKeys.guard }),
    version,
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
            version,
            models: repository,
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
    scheduler.follow(layout.started(calibration));
    if (lifecycle.state !== 'starting') return;
    lifecycle.state = 'ready';
    logger.info({ workers: config.workers, costModel: defaultModel.scheduler.costModel.coefficientsAndDrift }, 'ready');
  });

  return {
    port,
    grpcPort: grpcServer?.port,
    model,
    lifecycle,
    pool,
    queue: defaultModel.scheduler.queue,
    dispatcher,
    layout,
    costModel: defaultModel.scheduler.costModel,
    repository,
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
      await repository.close();
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

function logModel(logger: Logger, name: string, model: ModelInfo): void {
  logger.info(
    {
      model: name,
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
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
