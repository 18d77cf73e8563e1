// A bounded queue: a burst far above it gets fast 503s with Retry-After, the rest correct answers.
import t from 'tap';
import { postPredict, scrape, startService } from './helper.js';
import { BATCH_TOLERANCE, maxScoreDiff } from './direct-model.js';

t.test('a burst far above the queue limit gets some 503 + Retry-After, every other request a correct 200', async (t) => {
  const service = await startService({ WORKERS: '1', MAX_QUEUE_TOKENS: '512', REQUEST_TIMEOUT_MS: '120000' });
  t.teardown(() => service.stop());
  // 80 requests x 4 texts x ~14 tokens: ~4,500 tokens against a queue of 512.
  const requests = Array.from({ length: 80 }, (_, r) =>
    Array.from({ length: 4 }, (_, k) => `overload ${r}.${k}: a ${k % 2 ? 'bad' : 'fine'} day`),
  );
  const results = await Promise.all(requests.map((text) => postPredict(service.url, { text })));
  const refused = results.filter((r) => r.status === 503);
  const served = results.filter((r) => r.status === 200);
  t.ok(refused.length > 0, `${refused.length} refused`);
  t.ok(served.length > 0, `${served.length} served`);
  t.equal(refused.length + served.length, results.length, 'nothing else');
  for (const res of refused) {
    t.same(res.body, { detail: 'Server overloaded' });
    t.match(res.headers.get('retry-after'), /^[1-9][0-9]*$/, 'Retry-After: whole seconds until the queue is predicted to drain');
  }
  for (const [r, res] of results.entries()) {
    if (res.status !== 200) continue;
    for (const [k, prediction] of res.body.predictions.entries()) {
      const diff = await maxScoreDiff(requests[r][k], prediction);
      if (diff >= BATCH_TOLERANCE) t.fail(`request ${r} text ${k} off by ${diff}`);
    }
  }
  const [overloaded, queued] = await scrape(service.url, 'inf_request_failures_total{reason="overloaded"}', 'inf_queue_texts');
  t.equal(overloaded, refused.length, 'each refusal is counted');
  t.equal(queued, 0, 'the queue drained');
  t.equal((await fetch(`${service.url}/project/health`)).status, 200, 'healthy afterwards');
  t.equal((await postPredict(service.url, { text: ['after the burst'] })).status, 200);
});
