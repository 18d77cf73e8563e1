// Fail-open through a Redis Cluster failover: a master SIGKILLed under load costs misses, never an error,
// and hits come back once its replica is promoted.
import t from 'tap';
import { postPredict, scrape, startRedisCluster, startService, waitFor } from './helper.js';

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());

const BODIES = Array.from({ length: 16 }, (_, i) => ({ text: [`failover text ${i} a`, `failover text ${i} b`, `failover text ${i} c`] }));
const ALL_TEXTS = { text: BODIES.flatMap((b) => b.text) };
const LOST = ['inf_cache_lookups_total{result="miss"}', 'inf_cache_redis_skipped_total', 'inf_cache_redis_errors_total'];

t.test('killing a master under load: 0 non-200, and hits resume after the replica is promoted', async (t) => {
  const service = await startService({
    REDIS_CLUSTER_NODES: cluster.seeds,
    // Redis only: every request asks the cluster, so the failover is felt by every request that touches it.
    CACHE_LRU_ENTRIES: '0',
    // The texts of the dead master's slots go to the model meanwhile: 4 connections of 3 texts. On a fast
    // machine they stay far below the default admission bound; on a slow one (a 25-token text has taken 64 ms
    // here) they would not, and this test is about the cache failing open, not about admission.
    WORKERS: '1',
    MAX_QUEUE_DELAY_MS: '8000',
  });
  t.teardown(() => service.stop());
  t.equal((await postPredict(service.url, ALL_TEXTS)).status, 200);
  await waitFor(async () => (await postPredict(service.url, ALL_TEXTS)).headers.get('x-cache') === 'hit', 5000, 'every text cached');

  const statuses = new Map<number, number>();
  let running = true;
  const connection = async (seed: number): Promise<void> => {
    for (let i = seed; running; i++) {
      const res = await postPredict(service.url, BODIES[i % BODIES.length]).catch(() => ({ status: 0 }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const load = Promise.all([0, 1, 2, 3].map((seed) => connection(seed * 4)));
  try {
    await waitFor(() => (statuses.get(200) ?? 0) >= 50, 10_000, 'the load running');
    const lostBefore = await scrape(service.url, ...LOST);
    const [victim] = await cluster.masters();
    const node = cluster.nodes.find((n) => n.port === victim)!;
    t.comment(`SIGKILL master on port ${victim}`);
    await node.stop('SIGKILL');
    await waitFor(async () => !(await cluster.masters()).includes(victim), 30_000, `port ${victim} marked failed`);
    // The replica's election waits for the node timeout and a vote of the other masters, which a loaded machine (the
    // whole suite running) has taken past 30 s: the test is about what the service does meanwhile, not how fast.
    await cluster.waitHealthy(3, 90_000);
    const lostAfter = await scrape(service.url, ...LOST);
    t.ok(
      lostAfter.some((v, i) => v > lostBefore[i]),
      `the failover was felt: ${LOST.map((name, i) => `${name} +${lostAfter[i] - lostBefore[i]}`).join(', ')}`,
    );
    // Hits resume: the promoted replica holds the dead master's keys (or they are written again once scored).
    await waitFor(
      async () => (await postPredict(service.url, ALL_TEXTS)).headers.get('x-cache') === 'hit',
      20_000,
      'every text a hit again',
    );
    const answered = statuses.get(200) ?? 0;
    await waitFor(() => (statuses.get(200) ?? 0) >= answered + 50, 10_000, 'the load going on after the failover');
  } finally {
    running = false;
    await load;
  }
  t.same([...statuses.keys()], [200], `every answer a 200 (${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')})`);
  const [redisHits] = await scrape(service.url, 'inf_cache_lookups_total{result="redis_hit"}');
  t.ok(redisHits > 0);
});
