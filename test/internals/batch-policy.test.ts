// The batch policy alone: given exact lengths (oldest first), a cost model and the limits, which texts run next.
import t from 'tap';
import { chooseBatch } from '../../dist/src/inference/batch-policy.js';
import { CostModel } from '../../dist/src/inference/cost-model.js';

const limits = { maxRows: 32, maxBatchTokens: 4096, window: 128 };
/** Shaped like the stand-in's measurements: ~2 ms per run, ~0.1 ms per token, attention on top. */
const realistic = CostModel.of([2, 0.1, 0.0004]);
const cost = (rows: number, cols: number) => realistic.cost(rows, cols);
const paddedCost = (lengths: number[], batch: number[]) => cost(batch.length, Math.max(...batch.map((i) => lengths[i])));

t.test('texts of one length run together, up to maxRows', async (t) => {
  t.same(chooseBatch(Array(10).fill(16), cost, limits), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.same(chooseBatch(Array(40).fill(16), cost, limits).length, 32);
  t.same(chooseBatch(Array(40).fill(16), cost, { ...limits, maxRows: 5 }), [0, 1, 2, 3, 4], 'a share of the queue for each idle thread');
});

t.test('the oldest text is always in the batch, whatever its length', async (t) => {
  const lengths = [200, 16, 16, 16, 16, 16, 16, 16, 16];
  const batch = chooseBatch(lengths, cost, limits);
  t.ok(batch.includes(0));
  t.same(batch, [0], 'the long text runs alone rather than pad eight short ones to 200');
  t.ok(chooseBatch([16, 200, 16, 200], cost, limits).includes(0));
});

t.test('short and long texts are cut apart where padding costs more than running separately', async (t) => {
  const lengths = [20, 120, 22, 118, 21, 121, 19, 119];
  const batch = chooseBatch(lengths, cost, limits);
  t.same(batch, [0, 2, 4, 6], 'the short ones together; the long ones wait for the next batch');
  const together = cost(8, 121);
  const apart = cost(4, 22) + cost(4, 121);
  t.ok(apart < together, `apart ${apart.toFixed(1)} ms < together ${together.toFixed(1)} ms`);
});

t.test('when padding is free (a cost that depends only on rows), everything runs together', async (t) => {
  const flat = (rows: number) => 5 + rows;
  t.same(chooseBatch([20, 120, 22, 118], flat, limits), [0, 1, 2, 3]);
});

t.test('rows x longest never exceeds maxBatchTokens, and the batch is the least-cost partition', async (t) => {
  const random = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 200; trial++) {
    const next = random(trial + 1);
    const lengths = Array.from({ length: 1 + Math.floor(next() * 60) }, () => 3 + Math.floor(next() * 509));
    const budget = 512 + Math.floor(next() * 4096);
    const batch = chooseBatch(lengths, cost, { ...limits, maxBatchTokens: budget });
    const longest = Math.max(...batch.map((i) => lengths[i]));
    if (batch.length * longest > budget) t.fail(`trial ${trial}: ${batch.length} x ${longest} > ${budget}`);
    if (!batch.includes(0)) t.fail(`trial ${trial}: the oldest text is missing`);
    if (new Set(batch).size !== batch.length) t.fail(`trial ${trial}: a text twice`);
  }
  t.pass('200 random queues');
});

t.test('the window bounds how far the policy looks', async (t) => {
  const lengths = [100, ...Array(20).fill(16), 100];
  t.notOk(chooseBatch(lengths, cost, { ...limits, window: 10 }).includes(21));
  t.same(chooseBatch([], cost, limits), []);
});

t.test('the cost model: fitted to runs, tracks drift from measured runs', async (t) => {
  const truth = (rows: number, cols: number) => 3 + 0.05 * rows * cols + 0.0002 * rows * cols * cols;
  const shapes = [
    [1, 8],
    [1, 64],
    [8, 16],
    [8, 64],
    [32, 16],
    [4, 128],
  ];
  const model = CostModel.fit(shapes.map(([rows, cols]) => ({ rows, cols, ms: truth(rows, cols) })));
  for (const [rows, cols] of [
    [16, 32],
    [2, 256],
    [32, 48],
  ])
    t.ok(Math.abs(model.cost(rows, cols) / truth(rows, cols) - 1) < 0.01, `${rows}x${cols}`);
  for (let i = 0; i < 200; i++) model.observe(16, 32, 2 * truth(16, 32));
  t.ok(Math.abs(model.cost(8, 64) / (2 * truth(8, 64)) - 1) < 0.02, 'a machine twice as slow doubles every prediction');
  t.throws(() => CostModel.fit([{ rows: 1, cols: 8, ms: 3 }]), /cannot fit/);
  t.ok(paddedCost([16], [0]) > 0);
});
