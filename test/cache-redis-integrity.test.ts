// What the service takes from Redis, against a real redis-server: only a valid prediction of this model is
// served; anything else written there is a miss, is counted, and is overwritten by the real answer. And an
// outage is visible: inf_cache_redis_up and the skipped lookups.
import t from 'tap';
import { Redis } from 'ioredis';
import { exposition, postPredict, scrape, startRedis, startService, waitFor } from './helper.js';

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const INVALID = 'inf_cache_redis_invalid_total';
const MISSES = 'inf_cache_lookups_total{result="miss"}';
const REDIS_HITS = 'inf_cache_lookups_total{result="redis_hit"}';

/** Scores a text once, then returns its Redis key and the value the service wrote there. */
async function scoredKey(url: string, text: string): Promise<{ key: string; value: string; predictions: unknown }> {
  await redis.flushall();
  const first = await postPredict(url, { text: [text] });
  await waitFor(async () => (await redis.dbsize()) === 1, 5_000, 'the write-back');
  const [key] = await redis.keys('*');
  return { key: key!, value: (await redis.get(key!))!, predictions: first.body.predictions[0] };
}

t.test('A value in Redis that is not a prediction of this model is a miss, is counted, and is overwritten.', async (t) => {
  // No in-process tier: every request reads Redis.
  const service = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0' });
  t.teardown(() => service.stop());
  const text = 'a text whose cache entry gets tampered with';
  const { key, value: genuine, predictions } = await scoredKey(service.url, text);
  const parsed = JSON.parse(genuine) as { label: string; score: number }[];
  t.equal(parsed.length, 2, 'the genuine value holds both labels');

  const forged: [string, string][] = [
    ['not JSON', 'not json'],
    ['empty', ''],
    ['a JSON object', '{"label":"POSITIVE","score":1}'],
    ['one label only', JSON.stringify([parsed[0]])],
    ['a label of another model', JSON.stringify([{ label: 'LABEL_0', score: 0.9 }, parsed[1]])],
    ['a label twice', JSON.stringify([parsed[0], parsed[0]])],
    ['ascending order', JSON.stringify([parsed[1], parsed[0]])],
    [
      'a score above 1',
      JSON.stringify([
        { ...parsed[0], score: 1.5 },
        { ...parsed[1], score: -0.5 },
      ]),
    ],
    [
      'a negative score',
      JSON.stringify([
        { ...parsed[0], score: 1 },
        { ...parsed[1], score: -0.0001 },
      ]),
    ],
    ['a string score', genuine.replace(/"score":([^}]+)/, '"score":"$1"')],
    [
      'scores that do not sum to 1',
      JSON.stringify([
        { ...parsed[0], score: 0.5 },
        { ...parsed[1], score: 0.2 },
      ]),
    ],
    ['an extra key', genuine.replace('"score"', '"injected":"<script>","score"')],
    ['bytes after the JSON', `${genuine},{"label":"x"}`],
    ['whitespace around it', ` ${genuine} `],
  ];
  for (const [name, value] of forged) {
    await redis.set(key, value, 'EX', 3600);
    const [invalidBefore, missesBefore] = await scrape(service.url, INVALID, MISSES);
    const response = await postPredict(service.url, { text: [text] });
    t.equal(response.status, 200, `${name}: 200`);
    t.same(response.body.predictions, [predictions], `${name}: the model's answer, not the stored bytes`);
    t.equal(response.headers.get('x-cache'), 'miss', `${name}: x-cache miss`);
    const [invalidAfter, missesAfter] = await scrape(service.url, INVALID, MISSES);
    t.equal(invalidAfter - invalidBefore, 1, `${name}: counted in ${INVALID}`);
    t.equal(missesAfter - missesBefore, 1, `${name}: counted as a miss`);
    await waitFor(async () => (await redis.get(key)) === genuine, 5_000, `${name}: the value to be overwritten`);
    t.pass(`${name}: overwritten with the model's answer`);
  }

  const [invalidBefore, hitsBefore] = await scrape(service.url, INVALID, REDIS_HITS);
  const hit = await postPredict(service.url, { text: [text] });
  t.equal(hit.headers.get('x-cache'), 'hit', 'the rewritten value is a hit again');
  const [invalidAfter, hitsAfter] = await scrape(service.url, INVALID, REDIS_HITS);
  t.equal(invalidAfter, invalidBefore, 'a genuine value is not counted as invalid');
  t.equal(hitsAfter - hitsBefore, 1, 'and is a Redis hit');
});

t.test('inf_cache_redis_up follows Redis, and lookups skipped while it is down are counted.', async (t) => {
  const service = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0' });
  t.teardown(() => service.stop());
  const up = async () => (await scrape(service.url, 'inf_cache_redis_up'))[0];
  await waitFor(async () => (await up()) === 1, 5_000, 'inf_cache_redis_up 1');
  t.equal(await up(), 1, 'up while Redis answers');

  await redisServer.stop();
  // ioredis notices the closed connection at once; then lookups are skipped, not attempted.
  await waitFor(async () => (await up()) === 0, 5_000, 'inf_cache_redis_up 0');
  t.equal(await up(), 0, 'down once Redis is gone');
  const [skippedBefore] = await scrape(service.url, 'inf_cache_redis_skipped_total');
  for (let i = 0; i < 3; i++) {
    const response = await postPredict(service.url, { text: [`text scored while redis is down ${i}`] });
    t.equal(response.status, 200, `request ${i + 1} is served without Redis`);
  }
  const [skippedAfter] = await scrape(service.url, 'inf_cache_redis_skipped_total');
  t.equal(skippedAfter - skippedBefore, 3, 'each skipped lookup is counted');

  await redisServer.restart();
  await waitFor(async () => (await up()) === 1, 15_000, 'inf_cache_redis_up back to 1');
  t.equal(await up(), 1, 'up again once Redis is back');
});

t.test('Without Redis configured, there is no inf_cache_redis_up to alert on.', async (t) => {
  const service = await startService({});
  t.teardown(() => service.stop());
  const text = await exposition(service.url);
  t.notMatch(text, /^inf_cache_redis_up /m, 'no gauge');
  t.match(text, /^# TYPE inf_cache_redis_invalid_total counter$/m, 'the counters are exported (at 0)');
  t.match(text, /^# TYPE inf_cache_redis_skipped_total counter$/m);
});
