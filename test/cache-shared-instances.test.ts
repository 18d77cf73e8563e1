// Many pods, one cache: two service processes share one Redis (a single server, then a Redis Cluster), so a
// text scored through one is a hit through the other and never reaches the second one's model.
import t, { type Test } from 'tap';
import { postPredict, scrape, type ServiceProcess, startRedis, startRedisCluster, startService, waitFor } from './helper.js';

const TEXTS = 'inf_inferred_texts_total';

async function scoredThroughAHitThroughB(t: Test, a: ServiceProcess, b: ServiceProcess, texts: string[]): Promise<void> {
  const first = await postPredict(a.url, { text: texts });
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-cache'), 'miss', 'new to A');
  const [bBefore] = await scrape(b.url, TEXTS);
  // A's write-back is not awaited by its answer.
  await waitFor(async () => (await postPredict(b.url, { text: texts })).headers.get('x-cache') === 'hit', 5000, 'a hit through B');
  const [bAfter, bRedisHits] = await scrape(b.url, TEXTS, 'inf_cache_lookups_total{result="redis_hit"}');
  t.equal(bAfter, bBefore, 'no text reached B’s model');
  t.ok(bRedisHits >= texts.length, 'B found them in Redis');
  t.same((await postPredict(b.url, { text: texts })).body, first.body, 'the same answer');
}

t.test('two instances against one redis-server', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [a, b] = await Promise.all([startService({ REDIS_URL: redis.url }), startService({ REDIS_URL: redis.url })]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  await scoredThroughAHitThroughB(t, a, b, ['shared through one redis', 'and a second text']);
});

t.test('two instances against one Redis Cluster', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const env = { REDIS_CLUSTER_NODES: cluster.seeds };
  const [a, b] = await Promise.all([startService(env), startService(env)]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  await scoredThroughAHitThroughB(
    t,
    a,
    b,
    Array.from({ length: 8 }, (_, i) => `shared through the cluster ${i}`),
  );
});
