// The tests' names for the harness they share with the benches (harness.ts, metrics-scrape.ts, redis-cluster.ts,
// here in test/; the build compiles them for the benches, which run from dist/): a private redis-server, the real
// service in a child process, the HTTP calls and the metrics scrape.
import type { NodeServerProcess, RedisProcess } from './harness.js';

export type { PredictAnswer } from './harness.js';

export { startRedisCluster, type RedisCluster } from './redis-cluster.js';

export {
  commandCalls,
  freePort,
  logRecords,
  postPredict,
  redisCli,
  redisCommandCalls,
  redisPing,
  REPO_ROOT as repoRoot,
  SERVICE_MAIN_JS as MAIN_JS,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startAll,
  startRedis,
  startService,
  waitFor,
} from './harness.js';

export { exposition, metric, sampleIn, scrape, scrapeMetrics } from './metrics-scrape.js';

export type ServiceProcess = NodeServerProcess;
export type RedisServer = RedisProcess;
