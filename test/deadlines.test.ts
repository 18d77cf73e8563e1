// Per-request deadlines answer 504 with the reference body; texts of requests that timed out or whose
// client left are dropped from the queue before they run.
import t from 'tap';
import { postPredict, scrape, startService, waitFor } from './helper.js';

t.test('a 1 ms deadline yields 504 with the reference body', async (t) => {
  const service = await startService({ WORKERS: '1', REQUEST_TIMEOUT_MS: '1' });
  t.teardown(() => service.stop());
  const res = await postPredict(service.url, { text: ['too slow for a millisecond, surely'] });
  t.equal(res.status, 504);
  t.same(res.body, { detail: 'Prediction timeout' });
  const [timeouts] = await scrape(service.url, 'inf_request_failures_total{reason="timeout"}');
  t.equal(timeouts, 1);
  // The text kept running after the 504; its result is cached, so the same text is now a hit (no deadline
  // applies to a request that needs no model).
  await waitFor(
    async () => (await postPredict(service.url, { text: ['too slow for a millisecond, surely'] })).status === 200,
    30_000,
    'the timed-out text cached',
  );
  const again = await postPredict(service.url, { text: ['too slow for a millisecond, surely'] });
  t.equal(again.headers.get('x-cache'), 'hit', 'a text scored for a request that timed out serves the next one');
  t.equal((await scrape(service.url, 'inf_inferred_texts_total'))[0], 1, 'it ran once');
});

t.test('clients that disconnect while queued leave no work behind', async (t) => {
  const service = await startService({ WORKERS: '1', REQUEST_TIMEOUT_MS: '120000', MAX_QUEUE_DELAY_MS: '120000' });
  t.teardown(() => service.stop());
  // Keeps the only worker busy: 32 texts at the 512-token cap run as 4 full batches (4096 padded tokens each).
  const long = Array.from({ length: 32 }, (_, i) => `${i} ${'a fairly long and winding sentence '.repeat(120)}`);
  const busy = postPredict(service.url, { text: long });
  await waitFor(async () => (await scrape(service.url, 'inf_workers_busy'))[0] === 1, 30_000, 'the worker busy');
  const controllers = Array.from({ length: 10 }, () => new AbortController());
  const abandoned = controllers.map((c, i) =>
    fetch(`${service.url}/project/bulk-predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: [`abandoned ${i} one`, `abandoned ${i} two`] }),
      signal: c.signal,
    }).catch(() => 'aborted'),
  );
  await waitFor(async () => (await scrape(service.url, 'inf_queue_texts'))[0] >= 20, 30_000, 'the abandoned texts queued');
  controllers.forEach((c) => c.abort());
  t.same(await Promise.all(abandoned), Array(10).fill('aborted'));
  await waitFor(async () => (await scrape(service.url, 'inf_queue_texts'))[0] === 0, 30_000, 'the queue emptied');
  t.pass('queue length returned to 0 while the worker was still busy');
  const res = await busy;
  t.equal(res.status, 200);
  const [texts, timeouts, aborted] = await scrape(
    service.url,
    'inf_inferred_texts_total',
    'inf_request_failures_total{reason="timeout"}',
    'inf_http_requests_total{route="bulk-predict",status="499"}',
  );
  t.equal(texts, 32, 'only the busy request ran: no abandoned text reached the model');
  t.equal(timeouts, 0, 'a client that left is not a timeout');
  t.equal(aborted, 10, 'each is counted as status 499');
});
