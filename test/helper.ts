// The tests' names for the harness they share with the benches (bench/lib/harness.ts, compiled to dist/):
// a private redis-server, the real service in a child process, the HTTP calls and the metrics scrape.
import type { ManagedProcess, RedisProcess } from '../dist/bench/lib/harness.js';

export { startRedisCluster, type RedisCluster } from '../dist/bench/lib/redis-cluster.js';

export {
  commandCalls,
  freePort,
  logRecords,
  metric,
  postPredict,
  redisPing,
  REPO_ROOT as repoRoot,
  scrape,
  SERVICE_MAIN_JS as MAIN_JS,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startRedis,
  startService,
  waitFor,
} from '../dist/bench/lib/harness.js';

export type ServiceProcess = ManagedProcess;
export type RedisServer = RedisProcess;
