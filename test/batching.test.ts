// Concurrent requests share model runs, and batching does not change answers beyond the int8 tolerance.
import t from 'tap';
import { postPredict, scrape, startService } from './helper.js';
import { BATCH_TOLERANCE, maxScoreDiff } from './direct-model.js';

t.test('64 concurrent requests of distinct uncached texts take fewer model runs than requests', async (t) => {
  const service = await startService({ WORKERS: '1', REQUEST_TIMEOUT_MS: '120000', MAX_QUEUE_DELAY_MS: '120000' });
  t.teardown(() => service.stop());
  const texts = Array.from({ length: 64 }, (_, i) => `distinct review number ${i}: the plot was ${i % 2 ? 'dull' : 'wonderful'}`);
  const [runsBefore, textsBefore] = await scrape(service.url, 'inf_model_runs_total', 'inf_inferred_texts_total');
  const results = await Promise.all(texts.map((text) => postPredict(service.url, { text: [text] })));
  const [runsAfter, textsAfter] = await scrape(service.url, 'inf_model_runs_total', 'inf_inferred_texts_total');
  t.ok(
    results.every((r) => r.status === 200),
    'all 200',
  );
  t.equal(textsAfter - textsBefore, 64, 'every text ran once');
  t.ok(runsAfter - runsBefore < 64, `${runsAfter - runsBefore} model runs for 64 requests`);
  let worst = 0;
  for (const [i, res] of results.entries()) worst = Math.max(worst, await maxScoreDiff(texts[i], res.body.predictions[0]));
  t.ok(worst < BATCH_TOLERANCE, `every answer within ${BATCH_TOLERANCE} of its solo run (worst ${worst.toFixed(5)})`);
});

t.test('each request gets its own texts back in its own order when batches mix requests', async (t) => {
  const service = await startService({ WORKERS: '1', REQUEST_TIMEOUT_MS: '120000', MAX_QUEUE_DELAY_MS: '120000', MAX_BATCH_SIZE: '7' });
  t.teardown(() => service.stop());
  const requests = Array.from({ length: 12 }, (_, r) =>
    Array.from({ length: 5 }, (_, k) => `request ${r} text ${k} ${'very '.repeat(k * 3)}good`),
  );
  const results = await Promise.all(requests.map((text) => postPredict(service.url, { text })));
  for (const [r, res] of results.entries()) {
    t.equal(res.status, 200);
    for (const [k, prediction] of res.body.predictions.entries()) {
      const diff = await maxScoreDiff(requests[r][k], prediction);
      if (diff >= BATCH_TOLERANCE) t.fail(`request ${r} text ${k} differs by ${diff}`);
    }
  }
  t.pass('every prediction matches its own text');
});
