// The response memo over real HTTP: a body whose every text is cached is answered from the memo with the
// very bytes parsing would give; anything else (other bytes, invalid, too large) goes through parsing.
import t from 'tap';
import { logRecords, sampleIn, scrape, scrapeMetrics, startService } from './helper.js';
import { exchange } from './raw-http.js';

const memoized = await startService({ MAX_TEXTS: '3', RESPONSE_MEMO_MAX_BODY_BYTES: '120', LOG_LEVEL: 'debug' });
const plain = await startService({ RESPONSE_MEMO_ENTRIES: '0' });
t.teardown(() => Promise.all([memoized.stop(), plain.stop()]));

const BODY = '{"text":["I love you!","I hate you!","I love you!"]}';

async function post(url: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/project/bulk-predict`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const COUNTERS = {
  memoHits: 'inf_response_memo_hits_total',
  ok: 'inf_http_requests_total{route="bulk-predict",status="200"}',
  unprocessable: 'inf_http_requests_total{route="bulk-predict",status="422"}',
  memoryHits: 'inf_cache_lookups_total{result="memory_hit"}',
};
async function counters(): Promise<Record<keyof typeof COUNTERS, number>> {
  const samples = await scrapeMetrics(memoized.url);
  return Object.fromEntries(Object.entries(COUNTERS).map(([k, sample]) => [k, sampleIn(samples, sample, 0)])) as Record<
    keyof typeof COUNTERS,
    number
  >;
}

t.test('a memoized answer is byte-identical to the unmemoized one, with the same headers, and is counted', async (t) => {
  const miss = await post(memoized.url, BODY);
  t.equal(miss.headers.get('x-cache'), 'miss');
  const before = await counters();
  const cached = await post(memoized.url, BODY);
  t.equal(cached.headers.get('x-cache'), 'hit', 'every text cached: this answer enters the memo');
  const afterCached = await counters();
  t.equal(afterCached.memoHits, before.memoHits, 'not yet from the memo');

  const fromMemo = await post(memoized.url, BODY, { 'x-request-id': 'memo-client-1' });
  const fromMemoAgain = await post(memoized.url, BODY);
  const after = await counters();
  t.equal(after.memoHits - afterCached.memoHits, 2, 'both answered from the memo');
  t.equal(fromMemo.status, 200);
  t.ok(fromMemo.bytes.equals(cached.bytes), 'same bytes as the answer built from the cache');
  t.ok(fromMemoAgain.bytes.equals(cached.bytes));
  const predictions = JSON.parse(fromMemo.bytes.toString()).predictions;
  t.equal(predictions.length, 3, 'one list per text, repeats included');
  t.same(predictions[2], predictions[0]);

  // The service without a memo answers the same body with the same bytes.
  await post(plain.url, BODY);
  const unmemoized = await post(plain.url, BODY);
  t.equal(unmemoized.headers.get('x-cache'), 'hit');
  t.ok(fromMemo.bytes.equals(unmemoized.bytes), 'same bytes as a service without the memo');

  const names = (h: Headers) => [...h.keys()].filter((n) => n !== 'date').sort();
  t.same(names(fromMemo.headers), names(cached.headers), 'the same header names');
  t.equal(fromMemo.headers.get('content-type'), 'application/json');
  t.equal(fromMemo.headers.get('x-request-id'), 'memo-client-1', 'a client id is echoed');
  t.match(
    fromMemoAgain.headers.get('x-request-id'),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    'else one is made',
  );
  t.not(fromMemoAgain.headers.get('x-request-id'), cached.headers.get('x-request-id'), 'ids differ per request');
  t.equal(fromMemo.headers.get('x-cache'), 'hit');
  t.equal(fromMemo.headers.get('x-queue-time'), '0.000');
  t.equal(fromMemo.headers.get('x-inference-time'), '0.000');
  t.ok(Number(fromMemo.headers.get('x-total-time')) >= 0, 'x-total-time is a number of ms');

  t.equal(after.ok - afterCached.ok, 2, 'every memo answer counts as a request');
  t.equal(after.memoryHits - afterCached.memoryHits, 4, 'and its 2 distinct texts as in-memory hits, as the cache counts them');
  t.equal(afterCached.memoryHits - before.memoryHits, 2, '(the cache counted 2 for the same body)');
  const logged = logRecords(memoized.output());
  t.ok(
    logged.some((l) => l.msg === 'request' && l.reqId === 'memo-client-1' && l.status === 200),
    'a memo answer has its debug request line',
  );
});

t.test('other bytes, invalid bodies and bodies over the size bound never come from the memo', async (t) => {
  await post(memoized.url, BODY);
  await post(memoized.url, BODY);
  const start = await counters();

  const reordered = await post(memoized.url, '{"text":["I hate you!","I love you!","I love you!"]}');
  t.equal(reordered.headers.get('x-cache'), 'hit');
  const original = JSON.parse((await post(memoized.url, BODY)).bytes.toString()).predictions;
  t.same(JSON.parse(reordered.bytes.toString()).predictions, [original[1], original[0], original[0]], 'answered in its own order');
  const afterReorder = await counters();
  t.equal(afterReorder.memoHits - start.memoHits, 1, 'only the original body came from the memo');

  for (const invalid of [
    '{"text":["I love you!","I hate you!","I love you!","I hate you!"]}', // one text more than MAX_TEXTS
    '{"text":["I love you!",1]}',
    '{"text":["I love you!"',
  ]) {
    for (let i = 0; i < 3; i++) t.equal((await post(memoized.url, invalid)).status, 422, `${invalid} refused each time`);
  }
  const notUtf8 = Buffer.concat([Buffer.from('{"text":["I love you!'), Buffer.from([0xff]), Buffer.from('"]}')]);
  for (let i = 0; i < 3; i++) t.equal((await post(memoized.url, notUtf8)).status, 400, 'bytes that are not UTF-8 refused each time');

  // Valid JSON of cached texts, padded past RESPONSE_MEMO_MAX_BODY_BYTES (120) with whitespace.
  const large = BODY + ' '.repeat(121 - BODY.length);
  t.ok(Buffer.byteLength(large) > 120);
  for (let i = 0; i < 3; i++) {
    const res = await post(memoized.url, large);
    t.equal(res.headers.get('x-cache'), 'hit', 'answered from the cache');
    t.ok(res.bytes.equals((await post(plain.url, BODY)).bytes), 'with the same predictions');
  }
  const end = await counters();
  t.equal(end.memoHits, afterReorder.memoHits, 'none of them from the memo');
  t.equal(end.unprocessable - start.unprocessable, 9, 'every refusal counted');
});

t.test('a body that arrives in several chunks is joined before the memo looks it up', async (t) => {
  await post(memoized.url, BODY);
  const expected = await post(memoized.url, BODY);
  const before = await counters();
  const answer = expected.bytes.toString('latin1');
  const { text: received } = await exchange(
    memoized.port,
    [
      `POST /project/bulk-predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY.slice(0, 20)}`,
      BODY.slice(20),
    ],
    5000,
    (text) => text.endsWith(answer),
  );
  if (!received.endsWith(answer)) throw new Error(`no full answer: ${received}`);
  t.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(received, /\r\nx-cache: hit\r\n/);
  t.equal((await counters()).memoHits - before.memoHits, 1, 'answered from the memo');
});

t.test('every route family memoizes under its own key: the same body on another route gets that route’s answer', async (t) => {
  const send = async (path: string, body: string) => {
    const res = await fetch(`${memoized.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: res.status, cache: res.headers.get('x-cache'), text: await res.text() };
  };
  const memoHits = async () => (await scrape(memoized.url, COUNTERS.memoHits))[0]!;
  // Two strings: two texts for HF's POST /, one pair (text, text_pair) for TEI's /predict.
  const inputs = '{"inputs":["I love you!","I hate you!"]}';
  const oip = '{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["I love you!","I hate you!"]}]}';
  const cases: [string, string][] = [
    ['/', inputs],
    ['/predict', inputs],
    ['/predict', '{"inputs":[["I love you!"],["I hate you!"]],"raw_scores":true}'],
    ['/v2/models/distilbert-sst2-standin/infer', oip],
  ];
  for (const [path, body] of cases) {
    await send(path, body);
    const cached = await send(path, body);
    t.equal(cached.cache, 'hit', `${path} ${body}: every input cached`);
    const before = await memoHits();
    const fromMemo = await send(path, body);
    t.equal((await memoHits()) - before, 1, `${path} ${body}: answered from the memo`);
    t.same([fromMemo.status, fromMemo.cache, fromMemo.text], [200, 'hit', cached.text], 'with the same bytes');
  }
  const hf = JSON.parse((await send('/', inputs)).text);
  const tei = JSON.parse((await send('/predict', inputs)).text);
  t.equal(hf.length, 2, "HF's answer: a list per text");
  t.type(tei[0].label, 'string', "TEI's answer to the same bytes: one pair's flat list, not HF's memoized answer");

  const before = await memoHits();
  const unknown = await send('/v2/models/another-model/infer', oip);
  t.equal(unknown.status, 404, "a memoized body on another model's path is that path's 404");
  t.equal(await memoHits(), before, 'not answered from the memo');
});
