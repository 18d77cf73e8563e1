// The result cache against a real redis-server that this test starts on a free port.
import t from 'tap';
import { Redis } from 'ioredis';
import { postPredict, scrape, startRedis, startService } from './helper.js';

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const TEXTS = 'inf_inferred_texts_total';

t.test('one request stores one key per distinct text, with the prefix and the TTL; reordered texts are all hits', async (t) => {
  // No in-process tier, so the second request must be served by Redis.
  const service = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0', CACHE_TTL_SECONDS: '1234' });
  t.teardown(() => service.stop());
  await redis.flushall();
  const texts = ['first text', 'second text', 'third text', 'first text'];
  const first = await postPredict(service.url, { text: texts });
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-cache'), 'miss');
  // The write-back is not awaited by the response; wait for it to land.
  for (let i = 0; i < 100 && (await redis.dbsize()) < 3; i++) await new Promise((r) => setTimeout(r, 20));
  const keys = await redis.keys('*');
  t.equal(keys.length, 3, 'one key per distinct text');
  for (const key of keys) {
    t.match(key, /^fastapi-cache-project::[0-9a-f]{16}::[0-9a-f]{64}$/);
    const ttl = await redis.ttl(key);
    t.ok(ttl > 1200 && ttl <= 1234, `TTL ${ttl}`);
    t.same(
      JSON.parse((await redis.get(key))!)
        .map((p: { label: string }) => p.label)
        .sort(),
      ['NEGATIVE', 'POSITIVE'],
      'value is the finished prediction',
    );
  }
  const [textsBefore] = await scrape(service.url, TEXTS);
  const second = await postPredict(service.url, { text: ['third text', 'first text', 'second text'] });
  t.equal(second.status, 200);
  t.equal(second.headers.get('x-cache'), 'hit');
  const [textsAfter, redisHits] = await scrape(service.url, TEXTS, 'inf_cache_lookups_total{result="redis_hit"}');
  t.equal(textsAfter, textsBefore, 'no text reached the model');
  t.equal(redisHits, 3);
  t.same(
    second.body.predictions,
    [first.body.predictions[2], first.body.predictions[0], first.body.predictions[1]],
    'same scores, new order',
  );
  const partial = await postPredict(service.url, { text: ['first text', 'a new text'] });
  t.equal(partial.headers.get('x-cache'), 'partial');
});

t.test('a request with 10 texts makes exactly one read round trip to Redis', async (t) => {
  const service = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0' });
  t.teardown(() => service.stop());
  const texts = Array.from({ length: 10 }, (_, i) => `round trip text ${i}`);
  await postPredict(service.url, { text: texts });
  await redis.config('RESETSTAT');
  const res = await postPredict(service.url, { text: texts });
  t.equal(res.headers.get('x-cache'), 'hit');
  const stats = await redis.info('commandstats');
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  t.equal(calls('mget'), 1, 'one MGET');
  t.equal(calls('get'), 0, 'no single GETs');
  t.equal(calls('set'), 0, 'nothing written for hits');
});

t.test('50 concurrent requests for the same new text cause one inference', async (t) => {
  const service = await startService({ REDIS_URL: redisServer.url });
  t.teardown(() => service.stop());
  const [before] = await scrape(service.url, TEXTS);
  const results = await Promise.all(
    Array.from({ length: 50 }, () => postPredict(service.url, { text: ['a brand new text for single flight'] })),
  );
  t.ok(results.every((r) => r.status === 200));
  t.ok(
    results.every((r) => JSON.stringify(r.body) === JSON.stringify(results[0].body)),
    'all got the same prediction',
  );
  const [after] = await scrape(service.url, TEXTS);
  t.equal(after - before, 1, 'one text reached the model');
});

t.test('without REDIS_URL the service caches in process and a repeat is a hit', async (t) => {
  const service = await startService({});
  t.teardown(() => service.stop());
  const first = await postPredict(service.url, { text: ['only in memory'] });
  t.equal(first.headers.get('x-cache'), 'miss');
  const [before] = await scrape(service.url, TEXTS);
  const second = await postPredict(service.url, { text: ['only in memory'] });
  t.equal(second.headers.get('x-cache'), 'hit');
  const [after, memoryHits] = await scrape(service.url, TEXTS, 'inf_cache_lookups_total{result="memory_hit"}');
  t.equal(after, before);
  t.equal(memoryHits, 1);
  t.match(service.output(), /in-process cache only/);
});

t.test('the in-process tier answers before Redis is asked', async (t) => {
  const service = await startService({ REDIS_URL: redisServer.url });
  t.teardown(() => service.stop());
  await postPredict(service.url, { text: ['hot text'] });
  await redis.config('RESETSTAT');
  const res = await postPredict(service.url, { text: ['hot text'] });
  t.equal(res.headers.get('x-cache'), 'hit');
  t.notMatch(await redis.info('commandstats'), /cmdstat_mget/, 'no Redis read');
});
