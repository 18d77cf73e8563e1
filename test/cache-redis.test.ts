// The result cache against a real redis-server that this test starts on a free port.
import t from 'tap';
import { Redis } from 'ioredis';
import { commandCalls, postPredict, scrape, startRedis, startService, waitFor } from './helper.js';

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
  t.equal(commandCalls(stats, 'mget'), 1, 'one MGET');
  t.equal(commandCalls(stats, 'get'), 0, 'no single GETs');
  t.equal(commandCalls(stats, 'set'), 0, 'nothing written for hits');
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

t.test(
  'while the queue is full, new texts are refused after Redis is asked for one of them; texts all in Redis are answered',
  async (t) => {
    // One thread, and any queued text puts the queue over MAX_QUEUE_DELAY_MS: full while the long request runs.
    const service = await startService({
      REDIS_URL: redisServer.url,
      CACHE_LRU_ENTRIES: '0',
      WORKERS: '1',
      MAX_QUEUE_DELAY_MS: '1',
      REQUEST_TIMEOUT_MS: '120000',
      SHUTDOWN_GRACE_MS: '0',
    });
    t.teardown(() => service.stop());
    await redis.flushall();
    const stored = ['stored before the overload', 'and this one too'];
    t.equal((await postPredict(service.url, { text: stored })).status, 200);
    await waitFor(async () => (await redis.dbsize()) === stored.length, 5000, 'the stored texts in Redis');

    const long = Array.from({ length: 120 }, (_, i) => `${i} ${'a long sentence that keeps the worker busy for a while '.repeat(40)}`);
    void postPredict(service.url, { text: long }).catch(() => undefined);
    await waitFor(async () => (await scrape(service.url, 'inf_queue_texts'))[0] > 0, 5000, 'texts of the long request queued');

    await redis.config('RESETSTAT');
    const fresh = Array.from({ length: 32 }, (_, i) => `a new text ${i} sent during the overload`);
    const refused = await postPredict(service.url, { text: fresh });
    t.equal(refused.status, 503);
    t.match(refused.headers.get('retry-after'), /^[1-9][0-9]*$/);
    t.match(await redis.info('commandstats'), /cmdstat_mget:calls=1,/, 'one read');
    t.match(await redis.info('stats'), /keyspace_misses:1\r?\n/, 'of one key, not 32');
    const [queued] = await scrape(service.url, 'inf_queue_texts');
    t.ok(queued > 0, `still overloaded (${queued} texts queued)`);

    const answered = await postPredict(service.url, { text: stored });
    t.equal(answered.status, 200, 'a request whose texts are all in Redis is answered under overload');
    t.equal(answered.headers.get('x-cache'), 'hit');
  },
);
