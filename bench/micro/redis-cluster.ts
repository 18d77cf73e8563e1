// Issue 23: the Redis-only cached path (CACHE_LRU_ENTRIES=0, so no in-process tier and no response memo)
// against one redis-server and against a local 3-master + 3-replica Redis Cluster, in one run, alternating.
// Every request's texts are in Redis; on the cluster they spread over the masters, so a lookup is one
// pipeline per master instead of one MGET. Target: the cluster costs <= 1.3x the single Redis's service
// CPU per answer.
import { delta, type ManagedProcess, modelWork, postPredict, PREDICT_PATH, startAll, startRedis, startService } from '../lib/harness.js';
import { startRedisCluster } from '../lib/redis-cluster.js';
import { fmtCores, fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, processCpuSeconds, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';

const CPU_TARGET = 1.3;

type Target = 'single' | 'cluster';
const LABELS: Record<Target, string> = { single: 'one redis-server', cluster: 'Redis Cluster, 3 masters + 3 replicas' };

interface RunRecord {
  target: Target;
  round: number;
  measured: LoadResult;
  /** CPU µs per answer of the Redis processes (the single server, or all six cluster nodes). */
  redisCpuUsPerRequest: number;
  redisHitsPerRequest: number;
  modelRuns: number;
}

defineBench({
  name: 'redis-cluster',
  title: 'Redis-only cached path: one Redis against a Redis Cluster',
  usage: `  --texts N           texts per request, all cached (default 10)
  --connections N     autocannon connections (default 20)
  --duration S        seconds per measured run (default 10)
  --warmup S          seconds of warm-up right before each measured run (default 3)
  --rounds N          measured runs per target (default 3)`,
  options: valueFlags('texts', 'connections', 'duration', 'warmup', 'rounds'),
  async run({ values, log, started, track, measure }) {
    const cfg = {
      texts: numberFlag('texts', values.texts, 10),
      connections: numberFlag('connections', values.connections, 20),
      durationS: numberFlag('duration', values.duration, 10),
      warmupS: numberFlag('warmup', values.warmup, 3),
      rounds: numberFlag('rounds', values.rounds, 3),
    };
    const body = JSON.stringify({
      text: Array.from({ length: cfg.texts }, (_, i) => `a cached sentence for the cluster bench, number ${i}`),
    });

    // Stopped as run() ends, before the runner stops the services (which only log the lost connections).
    const cluster = await startRedisCluster();
    try {
      const redis = await track(startRedis());
      const env = { CACHE_LRU_ENTRIES: '0', WORKERS: '1' };
      const [single, clustered] = await startAll(
        [
          () => startService({ ...env, REDIS_URL: redis.url }, { name: 'service-single-redis' }),
          () => startService({ ...env, REDIS_CLUSTER_NODES: cluster.seeds }, { name: 'service-redis-cluster' }),
        ],
        started,
      );
      const servers: Record<Target, ManagedProcess> = { single: single!, cluster: clustered! };
      const redisPids: Record<Target, number[]> = { single: [redis.child.pid!], cluster: cluster.nodes.map((n) => n.child.pid!) };
      for (const [target, server] of Object.entries(servers)) {
        await postPredict(server.url, body, { raw: true });
        // Writes are not awaited by the answer: poll until the texts are all in Redis.
        for (let i = 0; (await postPredict(server.url, body, { raw: true })).headers.get('x-cache') !== 'hit'; i++) {
          if (i > 100) throw new Error(`${target}: the body never became a Redis hit`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      log(
        `single ${servers.single.url} (redis ${redis.url}); cluster ${servers.cluster.url} (seeds ${cluster.seeds}); ${cfg.texts} texts per request`,
      );

      const runs: RunRecord[] = [];
      for (let round = 0; round < cfg.rounds; round++) {
        // Alternate who goes first, so a drift in the shared machine's load does not favour one target.
        const order: Target[] = round % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single'];
        for (const target of order) {
          const server = servers[target];
          const redisCpu = (): number => redisPids[target].reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? Number.NaN), 0);
          let redisCpuStart = 0;
          let redisCpuEnd = 0;
          const {
            load: measured,
            before: b,
            after: a,
          } = await measure(server, {
            connections: cfg.connections,
            pipelining: 1,
            warmupS: cfg.warmupS,
            durationS: cfg.durationS,
            path: PREDICT_PATH,
            body,
            onWindow: (edge) => {
              if (edge === 'start') redisCpuStart = redisCpu();
              else redisCpuEnd = redisCpu();
            },
          });
          const record: RunRecord = {
            target,
            round,
            measured,
            redisCpuUsPerRequest: ((redisCpuEnd - redisCpuStart) * 1e6) / measured.ok,
            redisHitsPerRequest: delta(b!, a!, 'inf_cache_lookups_total{result="redis_hit"}') / measured.ok,
            modelRuns: modelWork(b!, a!).runs,
          };
          runs.push(record);
          log(
            `round ${round + 1} ${target.padEnd(7)}: ${fmtRps(measured.okRps)} req/s, p50 ${fmtMs(measured.p50)} ms, p99 ${fmtMs(measured.p99)} ms, ` +
              `service ${fmtRps(measured.serverCpuUsPerRequest ?? Number.NaN)} µs/answer, redis ${fmtRps(record.redisCpuUsPerRequest)} µs/answer, ` +
              `${record.redisHitsPerRequest.toFixed(2)} redis hits/request` +
              (problems(measured) ? `, ${problems(measured).toUpperCase()}` : '') +
              (record.modelRuns ? `, ${record.modelRuns} MODEL RUNS (not fully cached)` : ''),
          );
        }
      }
      return { data: { settings: cfg, runs }, markdown: render(cfg, runs) };
    } finally {
      await cluster.stop();
    }
  },
});

function render(cfg: { texts: number; connections: number; durationS: number; rounds: number }, runs: RunRecord[]): string[] {
  const stats = (target: Target) => {
    const rs = runs.filter((r) => r.target === target);
    return {
      rps: median(rs.map((r) => r.measured.okRps)),
      p50: median(rs.map((r) => r.measured.p50)),
      p99: median(rs.map((r) => r.measured.p99)),
      serverCpu: median(rs.map((r) => r.measured.serverCpu ?? Number.NaN)),
      serviceUs: median(rs.map((r) => r.measured.serverCpuUsPerRequest ?? Number.NaN)),
      redisUs: median(rs.map((r) => r.redisCpuUsPerRequest)),
      failed: rs.reduce((n, r) => n + r.measured.non2xx + r.measured.errors, 0),
    };
  };
  const s = stats('single');
  const c = stats('cluster');
  const serviceRatio = c.serviceUs / s.serviceUs;
  const totalRatio = (c.serviceUs + c.redisUs) / (s.serviceUs + s.redisUs);
  const row = (target: Target, x: typeof s) => [
    LABELS[target],
    fmtRps(x.rps),
    fmtMs(x.p50),
    fmtMs(x.p99),
    fmtCores(x.serverCpu),
    fmtRps(x.serviceUs),
    fmtRps(x.redisUs),
    String(x.failed),
  ];
  return [
    `Every request: the same ${cfg.texts} cached texts, CACHE_LRU_ENTRIES=0 (no in-process tier, no response memo), ` +
      `${cfg.connections} connections, ${cfg.durationS} s per run, ${cfg.rounds} rounds alternating; medians.`,
    '',
    ...mdTable(
      ['target', 'req/s', 'p50 ms', 'p99 ms', 'service cores', 'service CPU µs/answer', 'Redis CPU µs/answer', 'failed'],
      [row('single', s), row('cluster', c)],
    ),
    '',
    `- Service CPU per answer, cluster / single: ×${serviceRatio.toFixed(2)} (target ≤ ×${CPU_TARGET}: ${serviceRatio <= CPU_TARGET ? 'met' : 'MISSED'})`,
    `- Service + Redis CPU per answer, cluster / single: ×${totalRatio.toFixed(2)}`,
    `- req/s, cluster / single: ×${(c.rps / s.rps).toFixed(2)}`,
  ];
}
