// Every route family gives a text answered from the cache the same bytes as when the model answered it: from
// the in-process tier (the stored JSON read back into numbers where the family needs numbers) and from Redis
// through another instance (checked, then the same). The families build their JSON from typed scores, so this
// pins that reading a cached value and scoring anew give the same numbers, formatted the same.
import t from 'tap';
import { postPredict, startRedis, startService } from './helper.js';
import { PAIR_FIXTURE_MODELS } from './fixture-models.js';

interface Case {
  readonly name: string;
  readonly path: string;
  readonly body: (texts: string[]) => unknown;
}

const OIP_INFER = '/v2/models/distilbert-sst2-standin/infer';
const CASES: readonly Case[] = [
  { name: 'bulk-predict', path: '/project/bulk-predict', body: (texts) => ({ text: texts }) },
  { name: 'TEI /predict, one input', path: '/predict', body: (texts) => ({ inputs: texts[0] }) },
  { name: 'TEI /predict, a batch', path: '/predict', body: (texts) => ({ inputs: texts.map((text) => [text]) }) },
  { name: 'TEI /predict, raw_scores', path: '/predict', body: (texts) => ({ inputs: texts.map((text) => [text]), raw_scores: true }) },
  { name: 'HF POST /', path: '/', body: (texts) => ({ inputs: texts }) },
  { name: 'HF POST /, top_k 1', path: '/', body: (texts) => ({ inputs: texts, parameters: { top_k: 1 } }) },
  {
    name: 'OIP infer',
    path: OIP_INFER,
    body: (texts) => ({ id: 'r', inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] }),
  },
];
const textsOf = (c: Case) => [`${c.name}: a delightful, moving film`, `${c.name}: dull and far too long`];

/** The request twice with other bytes (so the response memo, keyed by bytes, does not answer the second). */
async function newThenCached(url: string, path: string, body: unknown) {
  const first = await postPredict(url, JSON.stringify(body), { path, raw: true });
  const second = await postPredict(url, JSON.stringify(body, null, 1), { path, raw: true });
  return { first, second };
}

const redis = await startRedis();
t.teardown(() => redis.stop());

t.test('the standard model: every family, from memory and from Redis', async (t) => {
  const service = await startService({ REDIS_URL: redis.url });
  const fresh: string[] = [];
  for (const c of CASES) {
    const { first, second } = await newThenCached(service.url, c.path, c.body(textsOf(c)));
    t.same([first.status, first.headers.get('x-cache')], [200, 'miss'], `${c.name}: scored by the model`);
    t.equal(second.headers.get('x-cache'), 'hit', `${c.name}: then cached`);
    t.equal(second.text, first.text, `${c.name}: the same bytes from memory`);
    fresh.push(first.text);
  }
  await service.stop();
  // A new instance: an empty in-process tier, so every value comes from Redis.
  const other = await startService({ REDIS_URL: redis.url });
  t.teardown(() => other.stop());
  for (const [i, c] of CASES.entries()) {
    const res = await postPredict(other.url, c.body(textsOf(c)), { path: c.path });
    t.equal(res.headers.get('x-cache'), 'hit', `${c.name}: from Redis`);
    t.equal(res.text, fresh[i], `${c.name}: the same bytes from Redis`);
  }
});

t.test('TEI /rerank on a cross-encoder: raw logits and their sigmoids, from memory', async (t) => {
  const service = await startService({ MODEL_DIR: PAIR_FIXTURE_MODELS.crossEncoder.dir, WORKERS: '1', REDIS_URL: redis.url });
  t.teardown(() => service.stop());
  const texts = ['it is fun', 'the worst film ever', 'a good movie'];
  for (const raw of [true, false]) {
    const query = raw ? 'a good movie (raw)' : 'a good movie';
    const { first, second } = await newThenCached(service.url, '/rerank', { query, texts, raw_scores: raw, return_text: true });
    t.same([first.status, first.headers.get('x-cache')], [200, 'miss'], first.text);
    t.equal(second.headers.get('x-cache'), 'hit');
    t.equal(second.text, first.text, `${raw ? 'raw ' : ''}scores: the same bytes from memory`);
  }
});
