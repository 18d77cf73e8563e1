// The metrics-scrape helper on a fixed exposition: samples by name and labels whatever their order, the absent
// ones, the declared families, and the differences between two scrapes.
import t from 'tap';
import { delta, familiesOf, metric, parseMetrics, sampleIn, samplesOf } from '../metrics-scrape.js';

const EXPOSITION = `# HELP inf_http_requests_total Requests.
# TYPE inf_http_requests_total counter
inf_http_requests_total{route="bulk-predict",status="200"} 7
inf_http_requests_total{status="422",route="bulk-predict"} 2
# TYPE inf_queue_texts gauge
inf_queue_texts 0
# TYPE inf_batch_size histogram
inf_batch_size_bucket{le="+Inf"} 3
inf_batch_size_sum 12.5
inf_batch_size_count 3
# TYPE inf_api_key_refusals_total counter
`;

t.test('a sample is found by its name and labels, in any order', async (t) => {
  t.equal(metric(EXPOSITION, 'inf_http_requests_total{route="bulk-predict",status="200"}'), 7);
  t.equal(metric(EXPOSITION, 'inf_http_requests_total{status="200",route="bulk-predict"}'), 7, 'labels reordered');
  t.equal(metric(EXPOSITION, 'inf_http_requests_total{route="bulk-predict",status="422"}'), 2, 'written in another order');
  t.equal(metric(EXPOSITION, 'inf_queue_texts'), 0, 'no labels');
  t.equal(metric(EXPOSITION, 'inf_batch_size_sum'), 12.5);
  t.equal(metric(EXPOSITION, 'inf_batch_size_bucket{le="+Inf"}'), 3);
});

t.test('an absent sample throws, unless the caller gives its value for absent', async (t) => {
  t.throws(() => metric(EXPOSITION, 'inf_api_key_refusals_total{reason="missing"}'), /no sample inf_api_key_refusals_total/);
  t.equal(metric(EXPOSITION, 'inf_api_key_refusals_total{reason="missing"}', 0), 0);
  t.throws(() => metric(EXPOSITION, 'not a name'), /not a sample name/);
});

t.test('the families declared and the samples written are both read', async (t) => {
  t.same(
    [...familiesOf(EXPOSITION)],
    [
      ['inf_http_requests_total', 'counter'],
      ['inf_queue_texts', 'gauge'],
      ['inf_batch_size', 'histogram'],
      ['inf_api_key_refusals_total', 'counter'],
    ],
  );
  t.same(samplesOf(EXPOSITION)[1], { name: 'inf_http_requests_total', labels: { status: '422', route: 'bulk-predict' }, value: 2 });
  t.equal(samplesOf(EXPOSITION).length, 6);
});

t.test('delta: after minus before, a sample absent before counting as 0', async (t) => {
  const before = parseMetrics('inf_queue_texts 4\n');
  const after = parseMetrics(EXPOSITION);
  t.equal(delta(before, after, 'inf_queue_texts'), -4);
  t.equal(delta(before, after, 'inf_http_requests_total{status="200",route="bulk-predict"}'), 7);
  t.equal(sampleIn(after, 'inf_batch_size_count'), 3);
});

t.test("a sample named with some of its series' labels is their sum, as PromQL's sum() of that selector", async (t) => {
  const byModel = parseMetrics(
    [
      'inf_cache_lookups_total{result="miss",model="a"} 2',
      'inf_cache_lookups_total{result="miss",model="b"} 3',
      'inf_cache_lookups_total{result="memory_hit",model="a"} 5',
      'inf_cache_lookups_total_other{result="miss"} 100',
      'inf_queue_texts{model="a"} 1',
      'inf_queue_texts{model="b"} 4',
    ].join('\n'),
  );
  t.equal(sampleIn(byModel, 'inf_cache_lookups_total{result="miss"}'), 5, "every model's misses");
  t.equal(sampleIn(byModel, 'inf_cache_lookups_total{result="miss",model="b"}'), 3, 'one series by all its labels');
  t.equal(sampleIn(byModel, 'inf_cache_lookups_total'), 10, 'no labels: the whole family');
  t.equal(sampleIn(byModel, 'inf_queue_texts'), 5);
  t.equal(sampleIn(byModel, 'inf_cache_lookups_total{result="redis_hit"}', 0), 0, 'none matches: the fallback');
  t.throws(() => sampleIn(byModel, 'inf_cache_lookups_total{result="redis_hit"}'), /no sample/);
});
