// Many pods, one cache: two service processes share one Redis (a single server, then a Redis Cluster), so a
// text scored through one is a hit through the other and never reaches the second one's model.
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { postPredict, scrape, type ServiceProcess, startRedis, startRedisCluster, startService, waitFor } from './helper.js';

const TEXTS = 'inf_inferred_texts_total';
// A lookup past its budget is a miss (fail-open), which would send B's texts to its model: on a loaded machine
// the default 30 ms can pass, and this test is about where the texts are, not about the budget.
const LOOKUP_BUDGET = { CACHE_LOOKUP_TIMEOUT_MS: '2000' };

/**
 * `stored` counts the keys in the shared Redis (empty at the start). B is warmed first with a text of its own,
 * so its connections are up; then A scores `texts`, and once their keys are in Redis, B's one request is a hit.
 */
async function scoredThroughAHitThroughB(
  t: Test,
  a: ServiceProcess,
  b: ServiceProcess,
  texts: string[],
  stored: () => Promise<number>,
): Promise<void> {
  t.equal((await postPredict(b.url, { text: ['B warms its connections with this'] })).status, 200);
  const first = await postPredict(a.url, { text: texts });
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-cache'), 'miss', 'new to A');
  // Neither write-back is awaited by its answer.
  await waitFor(async () => (await stored()) === texts.length + 1, 5000, "A's texts and B's warm-up text in Redis");
  const [bBefore, bRedisBefore] = await scrape(b.url, TEXTS, 'inf_cache_lookups_total{result="redis_hit"}');
  const throughB = await postPredict(b.url, { text: texts });
  t.equal(throughB.headers.get('x-cache'), 'hit', 'a hit through B');
  t.same(throughB.body, first.body, 'the same answer');
  const [bAfter, bRedisAfter] = await scrape(b.url, TEXTS, 'inf_cache_lookups_total{result="redis_hit"}');
  t.equal(bAfter, bBefore, 'no text reached B’s model');
  t.equal(bRedisAfter - bRedisBefore, texts.length, 'B found every one in Redis');
}

t.test('two instances against one redis-server', async (t) => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  t.teardown(async () => {
    client.disconnect();
    await redis.stop();
  });
  const env = { REDIS_URL: redis.url, ...LOOKUP_BUDGET };
  const [a, b] = await Promise.all([startService(env), startService(env)]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  await scoredThroughAHitThroughB(t, a, b, ['shared through one redis', 'and a second text'], () => client.dbsize());
});

t.test('two instances against one Redis Cluster', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const env = { REDIS_CLUSTER_NODES: cluster.seeds, ...LOOKUP_BUDGET };
  const [a, b] = await Promise.all([startService(env), startService(env)]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const stored = async () => {
    let keys = 0;
    for (const port of await cluster.masters()) keys += Number((await cluster.cli(port, 'dbsize')).trim());
    return keys;
  };
  const texts = Array.from({ length: 8 }, (_, i) => `shared through the cluster ${i}`);
  await scoredThroughAHitThroughB(t, a, b, texts, stored);
});
