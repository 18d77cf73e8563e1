import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { us_listen_socket_close, us_socket_local_port, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { packageRoot, type Config } from './config.js';
import { Errors } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { loadModelInfo, type ModelInfo } from './model/model-info.js';
import { createModelPool, type ModelPool } from './inference/pool.js';
import { createTokenizerPool } from './inference/tokenizer-pool.js';
import { Batcher } from './inference/batcher.js';
import { createPredictionFormatter } from './inference/prediction-format.js';
import { Predictor } from './inference/predictor.js';
import { LruCache } from './cache/lru.js';
import { RedisTier } from './cache/redis-tier.js';
import { createCacheKey } from './cache/cache-key.js';
import { PredictionCache } from './cache/prediction-cache.js';
import { createMetrics, disabledMetrics, type Metrics } from './observability/metrics.js';
import { createApp } from './http/app.js';
import { buildOpenApi } from './http/openapi.js';
import { buildInfo } from './http/handlers/info.js';
import { loadManifest } from '../model/manifest.js';

/** A running service: what main and the in-process tests hold. */
export interface Service {
  readonly port: number;
  readonly model: ModelInfo;
  readonly lifecycle: Lifecycle;
  readonly pool: ModelPool;
  readonly batcher: Batcher;
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
  const pinned = manifest && { ...manifest, onnxSha256s: Object.values(manifest.variants).flat().flatMap((f) => f.sha256 ?? []) };
  const model = await loadModelInfo(config.modelDir, config.modelFile, config.maxTokens, pinned);
  logger.info({
    modelDir: model.dir, onnx: model.onnxPath, sha256: model.onnxSha256, modelId: model.id, labels: model.labels, problemType: model.problemType,
    maxTokens: model.maxTokens, maxTokensLimitedBy: model.maxTokensLimitedBy, padId: model.padId, repo: model.repo, revision: model.revision,
  }, 'model');

  const pool = createModelPool({ workers: config.workers, intraOpThreads: config.intraOpThreads, model, logger, workerFile: overrides.workerFile });
  logger.info({ workers: config.workers, intraOpThreads: config.intraOpThreads, cpuLimit: config.cpuLimit }, 'worker pool starting');
  const lifecycle = new Lifecycle();
  let batcher: Batcher | undefined;
  const metrics = config.metricsEnabled
    ? createMetrics({
        queueLength: () => batcher?.queueLength ?? 0,
        busyWorkers: () => batcher?.busyWorkers ?? 0,
        workers: () => pool.size,
        stats: () => batcher?.stats ?? { modelRuns: 0, textsRun: 0 },
      })
    : disabledMetrics;
  const tokenizer = createTokenizerPool({ threads: config.tokenizerThreads, tokenizerPath: model.tokenizerPath, maxTokens: model.maxTokens, onTokenize: (ms) => metrics.onTokenize(ms) });
  batcher = new Batcher((rows) => pool.run(rows), createPredictionFormatter(model.labels, model.scoreFunction), {
    concurrency: config.workers,
    maxBatchSize: config.maxBatchSize,
    maxBatchTokens: config.maxBatchTokens,
    maxQueueTokens: config.maxQueueTokens,
  }, metrics);

  const redis = config.redisUrl
    ? new RedisTier({ url: config.redisUrl, ttlSeconds: config.cacheTtlSeconds, lookupTimeoutMs: config.cacheLookupTimeoutMs, logger, onError: () => metrics.redisError() })
    : undefined;
  logger.info({ redis: config.redisUrl ? redactUrl(config.redisUrl) : 'none (in-process cache only)', prefix: config.cachePrefix }, 'cache');
  const cache = new PredictionCache({
    lru: new LruCache(config.cacheLruEntries, config.cacheLruBytes),
    redis,
    redisKey: createCacheKey(config.cachePrefix, model.id),
    onLookup: (outcome, count) => metrics.cacheLookup(outcome, count),
  });
  const predictor = new Predictor(cache, tokenizer, batcher, () => performance.now());
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const app = createApp({
    config, predictor, lifecycle, metrics, logger,
    openApi: buildOpenApi({ basePath: config.basePath, maxTexts: config.maxTexts, maxBodyBytes: config.maxBodyBytes, version }),
    info: buildInfo(model, config, version),
  });

  const listenSocket = await listen(app, config.host, config.port);
  const port = us_socket_local_port(listenSocket);
  logger.info({ host: config.host, port, basePath: config.basePath }, 'listening');

  const ready = pool.ready.then(() => {
    if (lifecycle.state === 'starting') lifecycle.state = 'ready';
    logger.info({ workers: config.workers }, 'ready');
  });

  return {
    port, model, lifecycle, pool, batcher, metrics, ready,
    async shutdown() {
      lifecycle.state = 'draining';
      logger.info({ inFlight: lifecycle.requestsInFlight, graceMs: config.shutdownGraceMs }, 'draining');
      us_listen_socket_close(listenSocket);
      const drained = await lifecycle.waitIdle(config.shutdownGraceMs);
      if (!drained) logger.warn({ inFlight: lifecycle.requestsInFlight }, 'grace period over; closing with requests in flight');
      // Closes the keep-alive connections that are left; their requests, if any, were answered.
      app.close();
      // Batches of requests that timed out or left still run; a thread must not be terminated mid-run.
      await batcher.whenIdle();
      await pool.close();
      await tokenizer.close();
      await redis?.close();
      logger.info('stopped');
      return drained;
    },
  };
}

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(Errors.Listen(host, port))));
  });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
