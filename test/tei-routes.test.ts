// The text-embeddings-inference routes over real HTTP against the real service (the stand-in model, and a real
// redis-server for the cache): every form of `inputs` as TEI reads it, batches mixing texts and pairs,
// raw_scores, truncate, TEI's error shapes and statuses, /info, /health, /rerank, TEI_PREFIX, the request
// metrics, and pairs in the cache (keys that cover both texts, never a single text's).
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { postPredict, scrape, startRedis, startService } from './helper.js';
import { directScores } from './direct-model.js';

type Item = { label: string; score: number };
const LABELS = ['NEGATIVE', 'POSITIVE'];
const tei = (url: string, body: unknown, path = '/predict', headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  postPredict(url, body, { path, headers });
const long = 'a truly wonderful film '.repeat(200);

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
const service = await startService({ REDIS_URL: redisServer.url, MAX_TEXTS: '4' });
t.teardown(async () => {
  await service.stop();
  redis.disconnect();
  await redisServer.stop();
});

const isPrediction = (t: Test, got: unknown, what: string): void => {
  t.ok(Array.isArray(got), `${what}: a list`);
  const items = got as Item[];
  t.same(items.map((p) => p.label).sort(), LABELS, `${what}: every label`);
  for (let i = 1; i < items.length; i++) t.ok(items[i - 1].score >= items[i].score, `${what}: by descending score`);
};

t.test('inputs as TEI reads them: a string, [text], ONE pair [text, text_pair], a batch of [text]/[text, pair]', async (t) => {
  const string = await tei(service.url, { inputs: 'I love this movie!' });
  t.equal(string.status, 200);
  isPrediction(t, string.body, 'a string');
  const expected = await directScores('I love this movie!');
  for (const { label, score } of string.body as Item[]) t.ok(Math.abs(score - expected[label]) < 1e-5, `${label} equals the direct run`);

  const one = await tei(service.url, { inputs: ['I love this movie!'] });
  t.same(one.body, string.body, '[text] is that one text, answered flat');

  const pair = await tei(service.url, { inputs: ['I love this movie!', 'it was terrible'] });
  t.equal(pair.status, 200);
  isPrediction(t, pair.body, 'a list of two strings: one pair, answered flat');
  t.not(JSON.stringify(pair.body), JSON.stringify(string.body), 'the pair is scored as a pair, not as its first text');

  const batch = await tei(service.url, {
    inputs: [['I love this movie!'], ['I love this movie!', 'it was terrible'], ['it was terrible']],
  });
  t.equal(batch.status, 200);
  t.equal(batch.body.length, 3, 'a batch answers a list per input');
  t.same(batch.body[0], string.body, 'batched text = the text alone');
  t.same(batch.body[1], pair.body, 'batched pair = the pair alone');
  isPrediction(t, batch.body[2], 'batch item 3');
  t.equal(batch.headers.get('x-cache'), 'partial', 'two of three were cached');

  const single = await tei(service.url, { inputs: [['it was terrible']] });
  t.equal(single.body.length, 1, 'a batch of one is still a batch');
  t.same(single.body[0], batch.body[2]);

  // Unknown fields are ignored, as serde ignores them; null flags are their defaults.
  t.equal((await tei(service.url, { inputs: 'x', raw_scores: null, extra: 1 })).status, 200);
});

t.test('raw_scores answers the logits (their softmax is the scores), cached apart from the scores', async (t) => {
  const text = 'raw scores for this text';
  const scores = await tei(service.url, { inputs: text });
  const raw = await tei(service.url, { inputs: text, raw_scores: true });
  t.equal(raw.status, 200);
  t.equal(raw.headers.get('x-cache'), 'miss', 'raw scores are not the cached scores');
  isPrediction(t, raw.body, 'raw');
  const logits = Object.fromEntries((raw.body as Item[]).map((p) => [p.label, p.score]));
  t.ok(
    Object.values(logits).some((l) => l < 0 || l > 1),
    'logits, not probabilities',
  );
  const max = Math.max(...Object.values(logits));
  const sum = Object.values(logits).reduce((s, l) => s + Math.exp(l - max), 0);
  for (const { label, score } of scores.body as Item[]) {
    t.ok(Math.abs(Math.exp(logits[label] - max) / sum - score) < 1e-6, `softmax of the raw ${label} is its score`);
  }
  const again = await tei(service.url, { inputs: text, raw_scores: true });
  t.equal(again.headers.get('x-cache'), 'hit');
  t.same(again.body, raw.body);
});

t.test('truncate: false (the default) refuses an input past the model limit with TEI 413; true cuts it', async (t) => {
  for (const inputs of [long, [long, 'short'], [['short'], ['short', long]]]) {
    const res = await tei(service.url, { inputs });
    t.equal(res.status, 413);
    t.match(res.body, { error: /^`inputs` must have less than 512 tokens\. Given: \d+$/, error_type: 'validation' });
    t.equal(Object.keys(res.body).length, 2, "TEI's error shape, nothing else");
  }
  const cut = await tei(service.url, { inputs: long, truncate: true });
  t.equal(cut.status, 200);
  t.same(cut.body, (await postPredict(service.url, { text: [long] })).body.predictions[0], 'cut as bulk-predict cuts');
  // Once cached (from the truncating request), the long text is still refused without truncate.
  t.equal((await tei(service.url, { inputs: long })).status, 413, 'a cached long text is refused all the same');
  t.equal((await tei(service.url, { inputs: 'fits the model', truncate: false })).status, 200);
});

t.test('truncate: false tokenizes a cached input once: then the in-process tier knows it fits', async (t) => {
  const tokenizations = async () => (await scrape(service.url, 'inf_tokenize_duration_seconds_count'))[0];
  const [a, b] = ['a first text that fits, for the mark', 'a second text that fits, for the mark'];
  t.equal((await tei(service.url, { inputs: [[a], [b]] })).status, 200);
  const before = await tokenizations();
  // Other bodies of the same cached inputs (so not the response memo): a lookup, no tokenization.
  const again = await tei(service.url, { inputs: [[b], [a]] });
  t.same([again.status, again.headers.get('x-cache')], [200, 'hit']);
  t.equal((await tei(service.url, { inputs: a })).headers.get('x-cache'), 'hit');
  t.equal(await tokenizations(), before, 'known to fit: not tokenized again');
  // Cached by bulk-predict, which cuts: not known to fit, so tokenized once to find out, then not again.
  const viaBulk = 'a text only bulk-predict has scored';
  await postPredict(service.url, { text: [viaBulk] });
  const beforeBulk = await tokenizations();
  t.equal((await tei(service.url, { inputs: viaBulk })).headers.get('x-cache'), 'hit');
  t.equal(await tokenizations(), beforeBulk + 1, 'tokenized whole once');
  t.equal((await tei(service.url, { inputs: [[viaBulk], [a]] })).status, 200);
  t.equal(await tokenizations(), beforeBulk + 1, 'and then known to fit');
  // The long text of the test above is cached (cut), and still never marked as fitting.
  for (let i = 0; i < 2; i++) t.equal((await tei(service.url, { inputs: long })).status, 413, 'a long cached text is refused every time');
});

t.test("errors are TEI's: {error, error_type} with TEI's status", async (t) => {
  const cases: [string, unknown, number, string][] = [
    ['three strings', { inputs: ['a', 'b', 'c'] }, 422, 'validation'],
    ['an empty list', { inputs: [] }, 422, 'validation'],
    ['a batch item of three', { inputs: [['a', 'b', 'c']] }, 422, 'validation'],
    ['a string then a list', { inputs: ['a', ['b']] }, 422, 'validation'],
    ['a number', { inputs: 3 }, 422, 'validation'],
    ['no inputs', { text: ['a'] }, 422, 'validation'],
    ['raw_scores not a boolean', { inputs: 'a', raw_scores: 'yes' }, 422, 'validation'],
    ['truncation_direction Left', { inputs: 'a', truncation_direction: 'Left' }, 422, 'validation'],
    ['an empty text', { inputs: '' }, 413, 'validation'],
    ['a pair of empty texts', { inputs: ['', ''] }, 413, 'validation'],
    ['a batch over MAX_TEXTS', { inputs: [['a'], ['b'], ['c'], ['d'], ['e']] }, 413, 'validation'],
  ];
  for (const [what, body, status, type] of cases) {
    const res = await tei(service.url, body);
    t.equal(res.status, status, `${what}: ${status}`);
    t.same(Object.keys(res.body ?? {}).sort(), ['error', 'error_type'], `${what}: TEI's shape`);
    t.equal(res.body?.error_type, type, `${what}: ${type}`);
  }
  t.match(
    (await tei(service.url, { inputs: [['a'], ['b'], ['c'], ['d'], ['e']] })).body.error,
    'batch size 5 > maximum allowed batch size 4',
  );
  t.equal((await tei(service.url, { inputs: ['', 'second only'] })).status, 200, 'a pair with one empty text is not empty');
  const notJson = await postPredict(service.url, '{"inputs": ', { raw: true, path: '/predict' });
  t.equal(notJson.status, 422);
  t.equal(notJson.body.error_type, 'validation');
  const media = await tei(service.url, { inputs: 'a' }, '/predict', { 'content-type': 'text/plain' });
  t.equal(media.status, 415);
  t.equal(media.body.error_type, 'validation');
  const large = await postPredict(service.url, JSON.stringify({ inputs: 'x'.repeat(1_100_000) }), { raw: true, path: '/predict' });
  t.equal(large.status, 413);
  t.same(Object.keys(large.body).sort(), ['error', 'error_type'], 'body too large in TEI shape');
  t.equal(large.body.error_type, 'validation');
  const rerank = await tei(service.url, { query: 'q', texts: ['a'] }, '/rerank');
  t.equal(rerank.status, 424, 'rerank on a two-label model');
  t.same(rerank.body, { error: 'model is not a re-ranker model', error_type: 'backend' });
  const noTexts = await tei(service.url, { query: 'q', texts: [] }, '/rerank');
  t.equal(noTexts.status, 400);
  t.same(noTexts.body, { error: '`texts` cannot be empty', error_type: 'empty' });
  t.equal((await tei(service.url, { query: 'q' }, '/rerank')).status, 422, 'rerank without texts');
  const wrongMethod = await fetch(`${service.url}/predict`);
  t.equal(wrongMethod.status, 405);
});

t.test('GET /info is TEI Info; GET /health is 200 with no body', async (t) => {
  const res = await fetch(`${service.url}/info`);
  t.equal(res.status, 200);
  const info: any = await res.json();
  t.match(info, {
    model_type: { classifier: { id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' }, label2id: { NEGATIVE: 0, POSITIVE: 1 } } },
    max_input_length: 512,
    max_client_batch_size: 4,
    max_batch_tokens: 4096,
    auto_truncate: false,
    tokenization_workers: 1,
    model_dtype: 'int8',
    version: /^\d+\.\d+\.\d+/,
  });
  for (const field of ['model_id', 'model_sha', 'max_concurrent_requests', 'max_batch_requests', 'sha', 'docker_label'])
    t.ok(field in info, field);
  const health = await fetch(`${service.url}/health`);
  t.equal(health.status, 200);
  t.equal(await health.text(), '');
  t.equal((await fetch(`${service.url}/project/health`)).status, 200, "the service's own health is where it was");
  t.equal((await fetch(`${service.url}/project/info`)).status, 200);
});

t.test('request ids and metrics: each TEI route counted under its own route label', async (t) => {
  const res = await postPredict(
    service.url,
    { inputs: 'metrics text' },
    { path: '/predict', headers: { 'content-type': 'application/json', 'x-request-id': 'tei-req-1' } },
  );
  t.equal(res.headers.get('x-request-id'), 'tei-req-1');
  t.ok(res.headers.get('x-total-time'), 'timing headers as bulk-predict');
  const refused = await tei(service.url, { inputs: '' });
  t.ok(refused.headers.get('x-request-id'), 'an error has a request id too');
  await tei(service.url, { query: 'q', texts: [] }, '/rerank');
  const [ok, bad, rerank] = await scrape(
    service.url,
    'inf_http_requests_total{route="tei-predict",status="200"}',
    'inf_http_requests_total{route="tei-predict",status="413"}',
    'inf_http_requests_total{route="tei-rerank",status="400"}',
  );
  t.ok(ok >= 1, `tei-predict 200: ${ok}`);
  t.ok(bad >= 1, `tei-predict 413: ${bad}`);
  t.ok(rerank >= 1, `tei-rerank 400: ${rerank}`);
});

t.test('a repeated pair is a cache hit from Redis under a key covering both texts; never a single text or another pair', async (t) => {
  // No in-process tier: every hit below is Redis's.
  const cached = await startService({ REDIS_URL: redisServer.url, CACHE_LRU_ENTRIES: '0', TEI_PREFIX: '/tei' });
  t.teardown(() => cached.stop());
  await redis.flushall();
  const pair: [string, string] = ['ab', 'c'];
  const first = await tei(cached.url, { inputs: pair }, '/tei/predict');
  t.equal(first.headers.get('x-cache'), 'miss');
  for (let i = 0; i < 100 && (await redis.dbsize()) < 1; i++) await new Promise((r) => setTimeout(r, 20));
  const keys = await redis.keys('*');
  t.equal(keys.length, 1, 'one key for the pair');
  const head = keys[0].slice(0, keys[0].indexOf('::pair::'));
  t.match(head, /^fastapi-cache-project::[0-9a-f]{16}$/, 'prefix and model id first');
  // The pair's encoding: where the first text ends, then both texts.
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  t.equal(keys[0], `${head}::pair::${sha('\0p2:abc')}`, 'the key covers both texts');
  t.same(JSON.parse((await redis.get(keys[0]))!), first.body, 'the value is the pair prediction');

  const second = await tei(cached.url, { inputs: pair }, '/tei/predict');
  t.equal(second.headers.get('x-cache'), 'hit', 'the repeated pair is a hit');
  t.same(second.body, first.body);
  const [redisHits] = await scrape(cached.url, 'inf_cache_lookups_total{result="redis_hit"}');
  t.equal(redisHits, 1, 'served by Redis');

  // Neighbours that a naive key would confuse: the other split, the concatenations, the key's text itself.
  const others: (string | [string, string])[] = [['a', 'bc'], 'abc', 'ab c', '\0p2:abc', ['c', 'ab']];
  for (const other of others) {
    const res = await tei(cached.url, { inputs: typeof other === 'string' ? [[other]] : [other] }, '/tei/predict');
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-cache'), 'miss', `${JSON.stringify(other)} is not the pair's entry`);
  }
  for (let i = 0; i < 100 && (await redis.dbsize()) < 1 + others.length; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(await redis.dbsize(), 1 + others.length, 'a key each');
  const single = await postPredict(cached.url, { text: ['abc'] });
  t.equal(single.headers.get('x-cache'), 'hit', "bulk-predict's single text shares the single text's key");
  t.ok(await redis.exists(`${head}::${sha('abc')}`), 'a single text keeps its key: <prefix>::<model>::sha256(text)');
});
