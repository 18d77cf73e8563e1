// /metrics after a known sequence of requests: each counter moved by exactly what happened.
import t from 'tap';
import { metric, postPredict, startService, waitFor } from './helper.js';

const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$/;
const COMMENT = /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

const service = await startService({ WORKERS: '1', MAX_QUEUE_TOKENS: '512', REQUEST_TIMEOUT_MS: '120000' });
t.teardown(() => service.stop());
const scrapeText = async () => {
  const res = await fetch(`${service.url}/metrics`);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
};

t.test('the exposition parses as Prometheus text and has every family the dashboard needs', async (t) => {
  const text = await scrapeText();
  const bad = text.split('\n').filter((line) => line !== '' && !SAMPLE.test(line) && !COMMENT.test(line));
  t.same(bad, [], 'every line is a sample, HELP or TYPE');
  for (const family of [
    'inf_http_requests_total',
    'inf_http_request_duration_seconds',
    'inf_queue_wait_seconds',
    'inf_tokenize_duration_seconds',
    'inf_inference_duration_seconds',
    'inf_batch_size',
    'inf_batch_padded_tokens',
    'inf_queue_texts',
    'inf_queue_predicted_wait_seconds',
    'inf_queue_tokens',
    'inf_workers',
    'inf_workers_busy',
    'inf_cache_memory_entries',
    'inf_cache_memory_bytes',
    'inf_cache_lookups_total',
    'inf_cache_redis_errors_total',
    'inf_request_failures_total',
    'inf_model_runs_total',
    'inf_inferred_texts_total',
    'nodejs_eventloop_lag_seconds',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
  ]) {
    t.match(text, new RegExp(`^# TYPE ${family} `, 'm'), family);
  }
  t.match(text, /^inf_queue_wait_seconds_bucket\{le="0\.0001"[,}]/m, 'sub-millisecond buckets');
  t.notMatch(text, /inf_api_key_refusals_total/, 'without API keys, no refusal counter (test/api-keys.test.ts has it with them)');
});

t.test('a known sequence of requests moves each counter by exactly its amount', async (t) => {
  const names = [
    'inf_http_requests_total{route="bulk-predict",status="200"}',
    'inf_cache_lookups_total{result="memory_hit"}',
    'inf_cache_lookups_total{result="miss"}',
    'inf_inferred_texts_total',
    'inf_request_failures_total{reason="overloaded"}',
  ];
  const read = (text: string, name: string) => metric(text, name, 0); // a labelled series appears on first use
  const before = await scrapeText();

  const uncached = await postPredict(service.url, { text: ['metrics one', 'metrics two', 'metrics one'] });
  const cached = await postPredict(service.url, { text: ['metrics two', 'metrics one'] });
  const invalid = await postPredict(service.url, { text: 'not a list' });
  // Five new texts of 152 tokens never fit a queue of 512 tokens: refused at once, whatever else is running.
  const overloaded = await postPredict(service.url, { text: ['o1', 'o2', 'o3', 'o4', 'o5'].map((o) => `${o} ${'word '.repeat(149)}`) });
  t.same([uncached.status, cached.status, invalid.status, overloaded.status], [200, 200, 422, 503]);

  const after = await scrapeText();
  const delta = (name: string) => read(after, name) - read(before, name);
  t.equal(delta(names[0]), 2, 'two 200s on bulk-predict');
  t.equal(delta('inf_http_requests_total{route="bulk-predict",status="422"}'), 1, 'one 422');
  t.equal(delta('inf_http_requests_total{route="bulk-predict",status="503"}'), 1, 'one 503');
  t.equal(delta('inf_http_request_duration_seconds_count{route="bulk-predict",status="200"}'), 2, 'two 200 durations');
  t.equal(delta(names[2]), 2 + 5, "two distinct texts missed, and the refused request's five (looked up before admission)");
  t.equal(delta(names[1]), 2, 'two texts hit memory on the repeat');
  t.equal(delta(names[3]), 2, 'two texts reached the model');
  t.equal(delta(names[4]), 1, 'one overload refusal');
  t.equal(delta('inf_request_failures_total{reason="timeout"}'), 0);
  t.equal(delta('inf_batch_size_sum'), 2, 'batch sizes add up to the texts run');
  t.ok(delta('inf_queue_wait_seconds_count') === 2, 'one queue wait per text run');
  t.equal(read(after, 'inf_queue_texts'), 0);
  t.equal(read(after, 'inf_queue_tokens'), 0);
  t.equal(read(after, 'inf_queue_predicted_wait_seconds'), 0, 'an idle queue predicts no wait');
  t.equal(read(after, 'inf_workers'), 1);
  t.equal(delta('inf_cache_memory_entries'), 2, 'the in-process tier holds the two texts scored');
  t.ok(delta('inf_cache_memory_bytes') > 0, 'and counts their bytes');
});

t.test('METRICS_ENABLED=false serves no metrics route and still predicts', async (t) => {
  const quiet = await startService({ METRICS_ENABLED: 'false' });
  t.teardown(() => quiet.stop());
  t.equal((await fetch(`${quiet.url}/metrics`)).status, 404);
  t.equal((await postPredict(quiet.url, { text: ['fine'] })).status, 200);
});

t.test('the metrics path is configurable', async (t) => {
  const other = await startService({ METRICS_PATH: '/internal/prometheus' });
  t.teardown(() => other.stop());
  await waitFor(async () => (await fetch(`${other.url}/internal/prometheus`)).status === 200, 5_000, 'metrics on the new path');
  t.equal((await fetch(`${other.url}/metrics`)).status, 404);
});
