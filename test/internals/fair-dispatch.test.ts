// Two models' lanes on one pool's threads, with scripted batches: a flood on one model takes no more than its
// share of the threads from a model with texts waiting, and an unloaded model leaves nothing queued behind.
import t from 'tap';
import { Scheduler } from '../../dist/src/inference/scheduler.js';
import { ThreadLayout } from '../../dist/src/inference/thread-layout.js';
import { CostModel } from '../../dist/src/inference/cost-model.js';
import type { BatchObserver } from '../../dist/src/inference/dispatcher.js';
import type { BatchOutcome } from '../../dist/workers/protocol.js';
import type { Scores } from '../../dist/src/inference/scores.js';

const observer: BatchObserver = { onBatch() {}, onQueueWait() {} };
const options = { maxBatchSize: 4, maxBatchTokens: 4096, maxQueueTokens: 100_000, maxQueueDelayMs: 1e9, typicalBatchRows: 4 };
const score = (): Scores => ({}) as Scores;
const FAR = 1e12;

/**
 * Two threads; a batch ends when the test says (`hold`), else after twice the cost model's prediction for it, so
 * that both models' cost models drift alike (each follows its measured run times); `started` is the order
 * batches started in.
 */
const COST: [number, number, number] = [2, 0.1, 0];
const runMs = (rows: number) => 2 * (COST[0] + COST[1] * rows * 8);
function twoModels(hold = false) {
  const started: { model: string; rows: number; finish: () => void }[] = [];
  const scheduler = new Scheduler(ThreadLayout.fixed(2));
  const lane = (model: string) =>
    scheduler.add(
      model,
      options,
      CostModel.of(COST),
      (rows) =>
        new Promise<BatchOutcome>((resolve) => {
          const finish = () =>
            resolve({ logits: new Float32Array(rows.length), numLabels: 1, paddedTokens: rows.length * 8, inferenceMs: 1 });
          started.push({ model, rows: rows.length, finish });
          if (!hold) setTimeout(finish, runMs(rows.length));
        }),
      score,
      observer,
    );
  return { scheduler, flood: lane('flood'), steady: lane('steady'), started };
}

/** Resolves when every text of the ticket has its result. */
const answered = (ticket: { results: readonly Promise<unknown>[] }) => Promise.all(ticket.results);
const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const ids = (n: number) => Array.from({ length: n }, () => new Int32Array(8));
/** How many of these batches each model ran. */
const shares = (batches: readonly { model: string }[]) => ({
  flood: batches.filter((b) => b.model === 'flood').length,
  steady: batches.filter((b) => b.model === 'steady').length,
});

t.test('a text of a quiet model runs on the next thread that frees up, ahead of a flood queued before it', async (t) => {
  const { flood, steady, started } = twoModels(true);
  const flooded = answered(flood.admission.enqueue(texts('f', 40), ids(40), FAR));
  t.same(
    started.map((b) => b.model),
    ['flood', 'flood'],
    'the flood holds both threads',
  );
  const quiet = answered(steady.admission.enqueue(['s'], ids(1), FAR));
  t.equal(started.length, 2, 'no thread is free: the quiet text waits');
  started[0]!.finish();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(started[2]?.model, 'steady', 'the first thread to free up runs the quiet model');
  started[2]!.finish();
  await quiet;
  // Then the flood has every thread: finish its batches until it is done.
  for (let i = 1; i < started.length; i++) {
    if (i !== 2) started[i]!.finish();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await flooded;
  t.ok(
    started.slice(3).every((b) => b.model === 'flood'),
    'nothing else ran',
  );
});

t.test('two backlogged models share the threads batch for batch', async (t) => {
  const { flood, steady, started } = twoModels();
  await Promise.all([
    answered(flood.admission.enqueue(texts('a', 48), ids(48), FAR)),
    answered(steady.admission.enqueue(texts('b', 48), ids(48), FAR)),
  ]);
  const { flood: f, steady: s } = shares(started.slice(0, 16));
  t.ok(Math.min(f, s) >= 6, `of the first 16 batches, flood ${f} and steady ${s}`);
});

t.test('a model that was idle banks no time: it gets its share, not a burst ahead of the other', async (t) => {
  const { flood, steady, started } = twoModels();
  // The steady model runs alone for a while (20 batches of thread time), then goes quiet; the flood comes.
  for (let round = 0; round < 20; round++) await answered(steady.admission.enqueue([`s${round}`], ids(1), FAR));
  const from = started.length;
  await Promise.all([
    answered(flood.admission.enqueue(texts('a', 48), ids(48), FAR)),
    answered(steady.admission.enqueue(texts('b', 48), ids(48), FAR)),
  ]);
  const { flood: f, steady: s } = shares(started.slice(from, from + 16));
  t.ok(Math.min(f, s) >= 6, `of the first 16 batches after, flood ${f} and steady ${s}`);
});

t.test('a lane is idle once its texts are answered; a removed lane gets no thread', async (t) => {
  const { scheduler, flood, steady, started } = twoModels(true);
  const done = answered(steady.admission.enqueue(texts('s', 6), ids(6), FAR));
  let idle = false;
  const whenIdle = scheduler.dispatcher.whenLaneIdle('steady').then(() => (idle = true));
  started[0]!.finish();
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(idle, 'texts still running');
  for (let i = 1; i < started.length; i++) {
    started[i]!.finish();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  await whenIdle;
  t.ok(idle);
  scheduler.remove('steady');
  const before = started.length;
  const f = answered(flood.admission.enqueue(texts('f', 2), ids(2), FAR));
  const after = started.slice(before);
  t.same(
    after.map((batch) => batch.model),
    ['flood', 'flood'],
    "the remaining model's texts take the threads",
  );
  for (const batch of after) batch.finish();
  await f;
});
