// The text-embeddings-inference routes around the requests: TEI_PREFIX, overload (TEI's 429 with Retry-After)
// and the loading phase (TEI's 503 unhealthy), each on its own service (test/tei-routes.test.ts has the rest).
import t from 'tap';
import { postPredict, scrape, startService } from './helper.js';

const tei = (url: string, body: unknown, path = '/predict') => postPredict(url, body, { path });

t.test('TEI_PREFIX moves the family; with it unset the routes are at the root', async (t) => {
  const prefixed = await startService({ TEI_PREFIX: '/tei' });
  t.teardown(() => prefixed.stop());
  t.equal((await tei(prefixed.url, { inputs: 'a' }, '/tei/predict')).status, 200);
  t.equal((await fetch(`${prefixed.url}/tei/health`)).status, 200);
  t.equal((await tei(prefixed.url, { inputs: 'a' }, '/predict')).status, 404, 'not at the root then');
});

t.test("overload on the TEI routes is TEI's 429 overloaded with Retry-After; the others are answered", async (t) => {
  const small = await startService({ MAX_QUEUE_TOKENS: '512', REQUEST_TIMEOUT_MS: '120000' });
  t.teardown(() => small.stop());
  const requests = Array.from({ length: 80 }, (_, r) =>
    Array.from({ length: 4 }, (_, k): [string, string] => [`overload ${r}.${k}: a fine day`, `and a ${k % 2 ? 'bad' : 'good'} night`]),
  );
  const results = await Promise.all(requests.map((inputs) => tei(small.url, { inputs, truncate: true })));
  const refused = results.filter((r) => r.status === 429);
  t.ok(refused.length > 0, `${refused.length} refused`);
  t.equal(refused.length + results.filter((r) => r.status === 200).length, results.length, 'nothing but 200 and 429');
  for (const res of refused) {
    t.same(res.body, { error: 'Server overloaded', error_type: 'overloaded' });
    t.match(res.headers.get('retry-after'), /^[1-9][0-9]*$/);
  }
  const [overloaded] = await scrape(small.url, 'inf_request_failures_total{reason="overloaded"}');
  t.equal(overloaded, refused.length, 'each refusal is counted');
});

t.test('while the model loads, the TEI routes answer 503 unhealthy in TEI shape', async (t) => {
  const starting = await startService({}, { waitHealthy: false });
  t.teardown(() => starting.stop());
  // Whether a 503 is seen depends on how fast the workers warm: every answer before the first 200 is checked.
  let seen = 0;
  for (;;) {
    const res = await fetch(`${starting.url}/health`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    if (res === undefined) continue;
    if (res.status === 200) break;
    seen++;
    t.equal(res.status, 503);
    t.same(await res.json(), { error: 'unhealthy', error_type: 'unhealthy' });
    const predict = await tei(starting.url, { inputs: 'a' });
    if (predict.status !== 200) t.same(predict.body, { error: 'Model is loading', error_type: 'unhealthy' });
  }
  t.pass(`${seen} answers before ready`);
});
