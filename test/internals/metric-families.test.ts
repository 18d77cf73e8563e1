// The hot-path metric families render valid Prometheus text with cumulative buckets.
import t from 'tap';
import { CounterFamily, HistogramFamily } from '../../dist/src/observability/metric-families.js';

t.test('a counter family renders one sample per child, labels escaped', async (t) => {
  const family = new CounterFamily('x_total', 'Things.', ['route', 'status']);
  const child = family.child('a"b\\c', '200');
  child.inc();
  child.inc(2);
  t.equal(family.child('a"b\\c', '200'), child, 'the same child for the same labels');
  family.child('other', '500');
  t.equal(
    family.render(),
    '# HELP x_total Things.\n# TYPE x_total counter\nx_total{route="a\\"b\\\\c",status="200"} 3\nx_total{route="other",status="500"} 0\n',
  );
});

t.test('a histogram family renders cumulative buckets, +Inf, sum and count', async (t) => {
  const family = new HistogramFamily('d_seconds', 'Durations.', [0.1, 1], ['route']);
  const child = family.child('r');
  for (const v of [0.05, 0.1, 0.5, 3]) child.observe(v);
  t.equal(
    family.render(),
    [
      '# HELP d_seconds Durations.',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.1",route="r"} 2',
      'd_seconds_bucket{le="1",route="r"} 3',
      'd_seconds_bucket{le="+Inf",route="r"} 4',
      'd_seconds_sum{route="r"} 3.65',
      'd_seconds_count{route="r"} 4',
      '',
    ].join('\n'),
  );
  const plain = new HistogramFamily('n', 'N.', [1]);
  plain.child().observe(1);
  t.match(plain.render(), /^n_bucket\{le="1"\} 1$/m);
  t.match(plain.render(), /^n_count 1$/m);
});
