// Redis down, restarting or slow never fails or stalls a request; the cache comes back by itself.
import t from 'tap';
import { Redis } from 'ioredis';
import { postPredict, startRedis, startService, waitFor } from './helper.js';

const redisServer = await startRedis();
t.teardown(() => redisServer.stop());

// No in-process tier: every lookup goes to Redis, so its failures are on the request path.
const service = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0', CACHE_LOOKUP_TIMEOUT_MS: '30' });
t.teardown(() => service.stop());

const sentences = Array.from({ length: 12 }, (_, i) => `fail open sentence number ${i}, rather pleasant`);
const predict = async (text: string) => {
  const res = await postPredict(service.url, { text: [text] });
  return { status: res.status, prediction: JSON.stringify(res.body?.predictions?.[0]), cache: res.headers.get('x-cache') };
};

t.test('killing Redis during a stream of requests fails none of them, and hits resume when it is back', async (t) => {
  const truth = new Map<string, string>();
  for (const text of sentences) truth.set(text, (await predict(text)).prediction);

  const results: { status: number; prediction: string; text: string }[] = [];
  for (let i = 0; i < 60; i++) {
    if (i === 20) await redisServer.stop();
    const text = sentences[i % sentences.length];
    results.push({ ...(await predict(text)), text });
  }
  t.same(
    results.filter((r) => r.status !== 200),
    [],
    'every request got 200 while Redis was down',
  );
  t.same(
    results.filter((r) => r.prediction !== truth.get(r.text)),
    [],
    'and the same predictions',
  );
  t.equal(
    service
      .output()
      .split('\n')
      .filter((l) => l.includes('redis connection lost')).length,
    1,
    'the outage is logged once, not per request',
  );
  t.equal((await fetch(`${service.url}/project/health`)).status, 200, 'health stays 200: the cache is an optimisation');

  await redisServer.restart();
  await waitFor(
    async () => {
      await predict('comes back');
      return (await predict('comes back')).cache === 'hit';
    },
    30_000,
    'Redis hits after the restart',
  );
  t.pass('hits resume without restarting the service');
});

t.test('a Redis that stops answering (DEBUG SLEEP) does not hold requests beyond the lookup budget', async (t) => {
  await waitFor(async () => (await predict('warm again')).cache !== undefined, 10_000, 'service answering');
  const blocker = new Redis(redisServer.url);
  t.teardown(() => blocker.disconnect());
  let sleepEnded = false;
  const sleeping = blocker.call('DEBUG', 'SLEEP', '2').then(() => (sleepEnded = true));
  await new Promise((r) => setTimeout(r, 50));
  const answers = await Promise.all(sentences.slice(0, 5).map((text) => predict(`${text} during sleep`)));
  t.ok(
    answers.every((a) => a.status === 200),
    'all answered',
  );
  t.equal(sleepEnded, false, 'every answer came while Redis was still asleep');
  await sleeping;
  await waitFor(
    async () => {
      await predict('after sleep');
      return (await predict('after sleep')).cache === 'hit';
    },
    30_000,
    'hits after the sleep',
  );
});
