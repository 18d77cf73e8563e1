import t from 'tap';
import { DemandMeter } from '../../dist/src/inference/demand-meter.js';

t.test('offered work per ms, decaying over the window', async (t) => {
  const meter = new DemandMeter(1000, 0);
  t.equal(meter.ratePerMs(0), 0);
  meter.offer(500, 0);
  meter.offer(1500, 0);
  t.equal(meter.ratePerMs(0), 2, '2000 ms of work over a 1000 ms window: 2 thread-ms per ms');
  t.ok(Math.abs(meter.ratePerMs(1000) - 2 / Math.E) < 1e-12, 'one window later, 1/e of it');
  t.ok(meter.ratePerMs(20_000) < 1e-8, 'gone after the offers stop');
  t.equal(meter.ratePerMs(10), meter.ratePerMs(20_000), 'a clock read out of order changes nothing');
});

t.test('a steady stream of offers settles at its rate', async (t) => {
  const meter = new DemandMeter(1000, 0);
  // 30 ms of work every 10 ms, for 20 windows.
  for (let now = 0; now <= 20_000; now += 10) meter.offer(30, now);
  const rate = meter.ratePerMs(20_000);
  t.ok(rate > 2.9 && rate < 3.1, `~3 thread-ms per ms (${rate})`);
});
