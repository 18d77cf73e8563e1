// The queue and the dispatcher alone, with a scripted pool: the real model accepts every input we could find, so
// a batch that throws is simulated here; everything else is also covered over HTTP.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import type { InferenceQueue } from '../../dist/src/inference/queue.js';
import type { Admission } from '../../dist/src/inference/admission.js';
import type { BatchObserver, Dispatcher } from '../../dist/src/inference/dispatcher.js';
import { createScheduler } from '../../dist/src/inference/scheduler.js';
import { ThreadLayout } from '../../dist/src/inference/thread-layout.js';
import { CostModel } from '../../dist/src/inference/cost-model.js';
import type { BatchOutcome, Tokens } from '../../dist/workers/protocol.js';
import type { Scores } from '../../dist/src/inference/scores.js';

const observer: BatchObserver = { onBatch() {}, onQueueWait() {} };
const options = { concurrency: 1, maxBatchSize: 4, maxBatchTokens: 4096, maxQueueTokens: 10 * 8, maxQueueDelayMs: 1e9 };
type Options = typeof options;
const FAR = 1e12;

/**
 * The error a refused or failed text gets, matched on its `kind` (and Retry-After); tap compares any fields,
 * but its types allow only Error's own, hence the cast.
 */
const refusal = (kind: string, retryAfterS?: number): Error =>
  (retryAfterS === undefined ? { kind } : { kind, retryAfterS }) as unknown as Error;

/**
 * A queue, its admission and its dispatcher, wired as the service wires them; `cost` is the cost model's
 * coefficients (ms = a + b·rows·cols + c·rows·cols²).
 */
class Batcher {
  readonly queue: InferenceQueue;
  readonly admission: Admission;
  readonly dispatcher: Dispatcher;
  constructor(
    run: (rows: readonly (Int32Array | Tokens)[]) => Promise<BatchOutcome>,
    format: (logits: Float32Array, row: number) => Scores,
    o: Options,
    obs: BatchObserver,
    cost: [number, number, number] = [2, 0.1, 0.0004],
  ) {
    const model = CostModel.of(cost);
    ({
      queue: this.queue,
      admission: this.admission,
      dispatcher: this.dispatcher,
    } = createScheduler({ ...o, typicalBatchRows: 16 }, model, ThreadLayout.fixed(o.concurrency), run, format, obs));
  }
  submit(texts: string[], ids: Int32Array[], deadline = FAR) {
    return this.admission.enqueue(texts, ids, deadline);
  }
  get queueLength() {
    return this.queue.length;
  }
  get queueTokens() {
    return this.queue.tokens;
  }
  get full() {
    return this.admission.full;
  }
  get busyWorkers() {
    return this.dispatcher.busyWorkers;
  }
  get stats() {
    return this.dispatcher.stats;
  }
}
/** Token ids standing in for a text: 8 tokens unless the test says otherwise ("len:N" texts have N). */
const idsOf = (text: string): Int32Array => new Int32Array(/^len:(\d+)/.exec(text) ? Number(/^len:(\d+)/.exec(text)![1]) : 8);

/** A pool whose batches finish when the test says so; logits are [index in batch, 0] per text. */
function scriptedPool(fail: (texts: readonly string[]) => 'throw' | 'die' | undefined = () => undefined) {
  const calls: string[][] = [];
  const releases: (() => void)[] = [];
  const textOf = new Map<Int32Array, string>();
  const run = (batch: readonly (Int32Array | Tokens)[]): Promise<BatchOutcome> => {
    // The test submits token ids only (never Tokens with type ids): each row is an Int32Array it submitted.
    const rows = batch as readonly Int32Array[];
    const texts = rows.map((row) => textOf.get(row)!);
    calls.push(texts);
    return new Promise((resolve, reject) => {
      releases.push(() => {
        const failure = fail(texts);
        if (failure === 'die') return reject(new Error('Terminating worker thread'));
        if (failure === 'throw') return resolve({ error: 'tokenizer failed' });
        const logits = new Float32Array(texts.length * 2);
        texts.forEach((_, i) => (logits[i * 2] = i));
        resolve({ logits, numLabels: 2, paddedTokens: rows.length * Math.max(...rows.map((r) => r.length)), inferenceMs: 0 });
      });
    });
  };
  const releaseAll = async () => {
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  /** submit() that remembers which ids stand for which text, so calls read as texts. */
  const submit = (batcher: Batcher, texts: string[]) => {
    const ids = texts.map(idsOf);
    ids.forEach((row, i) => textOf.set(row, texts[i]));
    return batcher.submit(texts, ids);
  };
  return { run, calls, releaseAll, submit };
}
/** Each text's row as a string the tests can read; the dispatcher hands it on untouched, as it would a Scores. */
const format = (logits: Float32Array, row: number) => `row${row}:${logits[row * 2]}` as unknown as Scores & string;

t.test('a free worker takes the first text at once; texts queued meanwhile share the next batch', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, options, observer);
  const first = pool.submit(batcher, ['a']);
  t.same(pool.calls, [['a']], 'no waiting for more texts while the worker is idle');
  const second = pool.submit(batcher, ['b', 'c']);
  const third = pool.submit(batcher, ['d']);
  t.equal(batcher.queueLength, 3);
  await pool.releaseAll();
  t.same(pool.calls, [['a'], ['b', 'c', 'd']], 'one batch for the texts of two requests');
  t.same(await Promise.all([...first.results, ...second.results, ...third.results].map((p) => p.then((r) => r.prediction))), [
    'row0:0',
    'row0:0',
    'row1:1',
    'row2:2',
  ]);
  t.equal(batcher.stats.modelRuns, 2);
});

t.test('each thread takes its share of the queue, not all of it', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, { ...options, concurrency: 2, maxBatchSize: 32, maxQueueTokens: 8000 }, observer);
  pool.submit(
    batcher,
    Array.from({ length: 10 }, (_, i) => `t${i}`),
  );
  t.same(
    pool.calls.map((c) => c.length),
    [5, 5],
    'two batches of five run at once',
  );
  const second = pool.submit(
    batcher,
    Array.from({ length: 12 }, (_, i) => `u${i}`),
  );
  await pool.releaseAll();
  t.equal(pool.calls[2].length, 6, 'the first thread to free up takes half of the 12 waiting, not all of them');
  t.equal((await Promise.all(second.results)).length, 12, 'and every text is answered');

  const saturated = scriptedPool();
  const busy = new Batcher(saturated.run, format, { ...options, concurrency: 2, maxBatchSize: 32, maxQueueTokens: 8000 }, observer);
  saturated.submit(
    busy,
    Array.from({ length: 200 }, (_, i) => `v${i}`),
  );
  t.same(
    saturated.calls.map((c) => c.length),
    [32, 32],
    'under saturation the share is a full batch',
  );
  await saturated.releaseAll();
});

t.test('a batch stops at the size limit and at the padded-token budget, and groups similar lengths', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, { ...options, maxBatchSize: 3, maxBatchTokens: 600, maxQueueTokens: 4096 }, observer);
  pool.submit(batcher, ['busy']);
  const long = 'len:512';
  pool.submit(batcher, ['s1', long, 's2', 's3', 's4']);
  await pool.releaseAll();
  t.same(
    pool.calls.slice(1),
    [['s1', 's2', 's3'], [long], ['s4']],
    'three at most, short with short; the long text alone, since 2 x 512 tokens exceed the budget',
  );
});

t.test('the padded-token budget is exact: rows x longest never exceeds it, and a batch fills up to it', async (t) => {
  const pool = scriptedPool();
  const padded: number[] = [];
  const batcher = new Batcher(
    pool.run,
    format,
    { ...options, maxBatchSize: 64, maxBatchTokens: 1000, maxQueueTokens: 100_000 },
    { ...observer, onBatch: (_, tokens) => padded.push(tokens) },
  );
  pool.submit(batcher, ['busy']);
  // 10 texts of 100 tokens fill 1000 exactly; an 11th does not fit.
  pool.submit(
    batcher,
    Array.from({ length: 11 }, (_, i) => `len:100 #${i}`),
  );
  await pool.releaseAll();
  t.same(
    pool.calls
      .slice(1)
      .map((c) => c.length)
      .reduce((a, b) => a + b),
    11,
  );
  t.equal(pool.calls.length - 1, 2, 'two batches: 1000 tokens hold ten texts of 100, not eleven');
  t.ok(
    padded.every((p) => p <= 1000),
    `padded tokens per batch ${padded.join(', ')}`,
  );
});

t.test('admission counts tokens: a request whose new tokens would overflow the queue is refused whole with 503, at once', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, { ...options, maxQueueTokens: 24 }, observer);
  pool.submit(batcher, ['running']);
  pool.submit(batcher, ['q1', 'q2']);
  t.equal(batcher.queueTokens, 16);
  t.throws(() => pool.submit(batcher, ['q3', 'q4']), refusal('overloaded', 1));
  t.throws(() => pool.submit(batcher, ['len:9']), refusal('overloaded'), 'one text, but 9 tokens where 8 are left');
  t.equal(batcher.queueLength, 2, 'nothing of the refused requests was queued');
  t.notOk(batcher.full);
  pool.submit(batcher, ['q1', 'q3']); // q1 is already queued: only 8 new tokens
  t.equal(batcher.queueLength, 3);
  t.equal(batcher.queueTokens, 24);
  t.ok(batcher.full, 'full: the predictor refuses before tokenizing');
  await pool.releaseAll();
  t.equal(batcher.queueTokens, 0);
});

t.test('the same text from concurrent requests runs once (single flight)', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, options, observer);
  pool.submit(batcher, ['busy']);
  const a = pool.submit(batcher, ['same']);
  const b = pool.submit(batcher, ['same']);
  await pool.releaseAll();
  t.same(pool.calls, [['busy'], ['same']]);
  t.equal(await a.results[0].then((r) => r.prediction), await b.results[0].then((r) => r.prediction));
});

t.test('a cancelled request leaves the queue, unless another request waits for the same text', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, options, observer);
  pool.submit(batcher, ['busy']);
  const gone = pool.submit(batcher, ['mine', 'shared']);
  const stays = pool.submit(batcher, ['shared']);
  gone.cancel();
  gone.cancel();
  t.equal(batcher.queueLength, 1, 'only the shared text is still queued');
  await t.rejects(gone.results[0], refusal('timeout'));
  await pool.releaseAll();
  t.same(pool.calls, [['busy'], ['shared']], 'the withdrawn text never ran');
  t.equal((await stays.results[0]).prediction, 'row0:0');
  t.equal(batcher.queueLength, 0);
});

t.test('a batch that throws is split until only the bad text fails', async (t) => {
  const pool = scriptedPool((texts) => (texts.includes('poison') ? 'throw' : undefined));
  const batcher = new Batcher(pool.run, format, options, observer);
  pool.submit(batcher, ['busy']);
  const good = pool.submit(batcher, ['g1', 'g2', 'g3']);
  const bad = pool.submit(batcher, ['poison']);
  await pool.releaseAll();
  t.same(await Promise.all(good.results.map((p) => p.then((r) => (r.prediction as unknown as string).startsWith('row')))), [
    true,
    true,
    true,
  ]);
  await t.rejects(bad.results[0], refusal('failed'));
});

t.test('a batch whose thread dies fails its texts with 500 and the batcher keeps going', async (t) => {
  let died = false;
  const pool = scriptedPool((texts) => (texts.includes('doomed') && !died ? ((died = true), 'die') : undefined));
  const batcher = new Batcher(pool.run, format, options, observer);
  const doomed = pool.submit(batcher, ['doomed']);
  const later = pool.submit(batcher, ['later']);
  await pool.releaseAll();
  await t.rejects(doomed.results[0], refusal('failed'));
  t.equal((await later.results[0]).prediction, 'row0:0');
  t.equal(batcher.busyWorkers, 0);
});

t.test(
  'admission by predicted wait: refused at once when the work ahead passes MAX_QUEUE_DELAY_MS, or the request would finish past its deadline',
  async (t) => {
    const pool = scriptedPool();
    // Each 8-token text costs 100 ms (12.5 ms per token, no fixed or attention term); one thread.
    const batcher = new Batcher(pool.run, format, { ...options, maxQueueTokens: 100_000, maxQueueDelayMs: 1000 }, observer, [0, 12.5, 0]);
    pool.submit(batcher, ['running']); // ~100 ms running
    pool.submit(batcher, ['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'q8']); // 100 ms ahead: admitted
    pool.submit(batcher, ['q9', 'q10', 'q11']); // ~900 ms ahead: admitted, its own 300 ms do not count
    t.throws(() => pool.submit(batcher, ['q12']), refusal('overloaded', 2), '~1200 ms ahead > MAX_QUEUE_DELAY_MS 1000; Retry-After 2 s');
    pool.submit(batcher, ['q1']); // already queued: no new work, always admitted
    await pool.releaseAll();
    t.equal(batcher.queueLength, 0);
    t.notOk(batcher.full);

    const patient = new Batcher(pool.run, format, { ...options, maxQueueTokens: 100_000, maxQueueDelayMs: 1e9 }, observer, [0, 12.5, 0]);
    pool.submit(patient, ['busy']);
    pool.submit(patient, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']);
    t.throws(
      () => patient.submit(['p9'], [new Int32Array(8)], performance.now() + 500),
      refusal('overloaded'),
      'finishes at ~1000 ms, past a 500 ms deadline',
    );
    t.equal(patient.submit(['p9'], [new Int32Array(8)], performance.now() + 5000).results.length, 1, 'a 5 s deadline is met');
    await pool.releaseAll();
  },
);

t.test('once the oldest text has waited MAX_QUEUE_DELAY_MS, its request runs before newer texts that would batch better', async (t) => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const order = async (maxQueueDelayMs: number) => {
    const pool = scriptedPool();
    const batcher = new Batcher(pool.run, format, { ...options, maxQueueTokens: 4096, maxQueueDelayMs }, observer);
    pool.submit(batcher, ['busy']);
    pool.submit(batcher, ['len:8:a1', 'len:40:a2']);
    await sleep(2);
    pool.submit(batcher, ['len:8:b1', 'len:8:b2', 'len:8:b3']);
    await sleep(30);
    await pool.releaseAll();
    return pool.calls.slice(1);
  };
  t.same(
    await order(1e9),
    [['len:8:a1', 'len:8:b1', 'len:8:b2', 'len:8:b3'], ['len:40:a2']],
    'within its budget, the oldest text takes newer texts of its length along and the long one waits',
  );
  t.same(
    await order(20),
    [['len:8:a1'], ['len:40:a2'], ['len:8:b1', 'len:8:b2', 'len:8:b3']],
    'past it (30 ms > 20 ms), the oldest request finishes first',
  );
});

t.test('with nothing queued or running, a request is admitted even if it alone is predicted past its deadline', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, { ...options, maxQueueTokens: 100_000, maxQueueDelayMs: 10 }, observer, [0, 12.5, 0]);
  // 8 x 8 tokens x 12.5 ms = 800 ms > 10 ms, but waiting would not make it faster: it runs, and may time out.
  const ticket = batcher.submit(
    ['i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8'],
    Array.from({ length: 8 }, () => new Int32Array(8)),
    performance.now() + 5,
  );
  t.equal(ticket.results.length, 8);
  t.throws(() => batcher.submit(['later'], [new Int32Array(8)]), refusal('overloaded'), 'the next one waits behind it: refused');
  await pool.releaseAll();
});

t.test('reserve(): admission before tokenization, at the mean length seen, counted until released', async (t) => {
  const pool = scriptedPool();
  const batcher = new Batcher(pool.run, format, { ...options, maxQueueTokens: 100_000, maxQueueDelayMs: 1000 }, observer, [0, 12.5, 0]);
  pool.submit(batcher, ['running']); // ~100 ms ahead
  // The mean length starts at 32 tokens (moving slowly toward what is queued): 3 texts ~ 1200 ms.
  const held = batcher.admission.reserve(3, FAR);
  t.throws(() => batcher.admission.reserve(1, FAR), refusal('overloaded'), 'the reserved texts count as work ahead');
  t.throws(() => pool.submit(batcher, ['r1']), refusal('overloaded'), 'for exact submissions too');
  held.release();
  held.release();
  t.ok(batcher.admission.reserve(1, FAR), 'released: room again');
  await pool.releaseAll();
});
