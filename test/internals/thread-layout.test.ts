// What the thread layout decides (src/inference/layout-policy.ts, thread-layout.ts), on a fake clock and a fake
// pool that records every session load: which layout runs for one waiting text and for a full queue, that a
// change never holds more sessions than threads and never takes a busy thread, and what the cost model is told.
import t from 'tap';
import { LayoutPolicy } from '../../dist/src/inference/layout-policy.js';
import { ThreadLayout, threadLayoutOptions, initialSession, type LayoutChange } from '../../dist/src/inference/thread-layout.js';
import type { CalibrationRun, SessionShape } from '../../dist/workers/protocol.js';

const DELAYS = { narrowAbove: 0.5, wideAfterMs: 2_000 };
const NARROW = { threads: 1, spin: false };
const WIDE = { threads: 2, spin: true };

t.test('policy: wide stays wide while texts find its thread free, and turns narrow once half of them find it busy', async (t) => {
  const policy = new LayoutPolicy(DELAYS, 0);
  // One client: each text arrives after the previous answer, to a free thread.
  for (let i = 0; i < 1_000; i++) {
    policy.arrived(false);
    t.equal(policy.observe('wide', i * 8, 1, 0), 'wide');
  }
  // Now and then a text finds it busy (arrivals at random, a quarter of the time busy).
  for (let i = 0; i < 400; i++) {
    policy.arrived(i % 4 === 0);
    t.equal(policy.observe('wide', 8_000 + i * 8, 1, 0), 'wide');
  }
  // Two clients: a text arrives while the other's runs.
  const turns: string[] = [];
  for (let i = 0; i < 10; i++) {
    policy.arrived(true);
    turns.push(policy.observe('wide', 12_000 + i * 5, 1, 1));
  }
  t.same(turns.indexOf('narrow'), 4, 'narrow at the fifth text in a row that found the thread busy');
});

t.test('policy: narrow turns wide after 2 s with one batch at most and nothing waiting', async (t) => {
  const policy = new LayoutPolicy(DELAYS, 0);
  t.equal(policy.observe('narrow', 1_999, 1, 0), 'narrow');
  t.equal(policy.observe('narrow', 2_000, 1, 0), 'wide', 'one batch at a time for 2 s');
  policy.reset(2_000);
  t.equal(policy.observe('narrow', 3_000, 2, 0), 'narrow', 'two batches at once');
  t.equal(policy.observe('narrow', 4_999, 0, 0), 'narrow', 'counted from the second batch');
  t.equal(policy.observe('narrow', 5_000, 1, 3), 'narrow', 'texts waiting');
  t.equal(policy.observe('narrow', 7_000, 0, 0), 'wide');
});

t.test('options: adaptive by default with two threads or more; INTRA_OP_THREADS fixes the layout', async (t) => {
  t.equal(threadLayoutOptions(2, undefined).fixed, undefined, 'two cores, nothing set: adaptive');
  t.same(threadLayoutOptions(1, undefined).fixed, NARROW, 'one core: one single-thread session');
  t.same(threadLayoutOptions(2, 1).fixed, NARROW, 'INTRA_OP_THREADS=1: always narrow');
  t.same(threadLayoutOptions(2, 2).fixed, { threads: 2, spin: false }, 'sessions side by side never spin');
  t.same(threadLayoutOptions(1, 2).fixed, { threads: 2, spin: true }, 'a session that runs alone spins');
  t.same(initialSession(threadLayoutOptions(2, undefined)), NARROW, 'adaptive starts narrow');
});

/** A pool whose loads take a turn, recording each; `failing` makes a slot's load reject. */
/** The one model the fake pool runs. */
const MODEL = 'm';
/** A start's timed runs, all of MODEL. */
const timedRuns = (runs: CalibrationRun[]) => new Map([[MODEL, runs]]);

function fakePool(sessions: (SessionShape | null)[], failing = new Set<number>()) {
  const loads: { slot: number; session: SessionShape | null; calibrate: boolean; held: number }[] = [];
  let pending = 0;
  const load = async (slot: number, session: SessionShape | null, calibrateModel: (key: string) => boolean) => {
    const calibrate = calibrateModel(MODEL);
    pending++;
    // What the threads hold while this one loads: its old session is released before the new one is made.
    const held = sessions.filter((s, i) => s !== null && i !== slot).length + (session ? 1 : 0);
    loads.push({ slot, session, calibrate, held });
    await new Promise((resolve) => setImmediate(resolve));
    pending--;
    if (failing.has(slot)) throw new Error('thread died');
    sessions[slot] = session;
    return { calibration: { [MODEL]: calibrate ? [{ rows: 1, cols: 8, ms: session!.threads === 2 ? 3 : 5 }] : [] }, numLabels: {} };
  };
  return { load, loads, pending: () => pending };
}

/** What each load asked for, in order. */
const loadsOf = (pool: ReturnType<typeof fakePool>) => pool.loads.map(({ slot, session, calibrate }) => ({ slot, session, calibrate }));
/** No load held more sessions than the pool has threads (2). */
const withinThreads = (pool: ReturnType<typeof fakePool>) => pool.loads.every((l) => l.held <= 2);

const silent = { debug() {}, info() {}, warn() {}, error() {} } as never;
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

t.test('one waiting text at a time: narrow turns wide; thread 0 loads the wide session while thread 1 serves', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions);
  const layout = new ThreadLayout(threadLayoutOptions(2, undefined), pool.load, silent, () => now);
  const changes: LayoutChange[] = [];
  layout.onChange = (change) => changes.push(change);
  t.same(layout.started(timedRuns([{ rows: 1, cols: 8, ms: 5 }])), {
    layout: 'narrow',
    concurrency: 2,
    calibration: timedRuns([{ rows: 1, cols: 8, ms: 5 }]),
  });

  // A lone client: one batch at a time.
  for (; now < 2_000; now += 10) {
    const thread = layout.acquire()!;
    t.equal(thread.slot, 0);
    layout.observe(0);
    layout.release(thread.slot);
    layout.observe(0);
  }
  t.equal(layout.layout, 'narrow', 'not before 2 s');
  const running = layout.acquire()!; // a batch on thread 0 when the change starts
  layout.observe(0);
  await settle();
  t.same(pool.loads, [], 'thread 0 is not reloaded under a running batch');
  t.equal(layout.acquire()?.slot, 1, 'thread 1 serves meanwhile');
  layout.release(1);
  layout.release(running.slot);
  await settle();
  t.same(
    loadsOf(pool),
    [
      { slot: 0, session: WIDE, calibrate: true },
      { slot: 1, session: null, calibrate: false },
    ],
    'thread 0 loads the wide session (timed: the first wide one), then thread 1 releases its own',
  );
  t.ok(withinThreads(pool), 'never more sessions than threads');
  t.equal(layout.layout, 'wide');
  t.same(sessions, [WIDE, null]);
  t.equal(layout.concurrency, 1, 'one thread takes batches');
  const wide = layout.acquire()!;
  t.same(wide, { slot: 0, session: WIDE }, 'a batch runs on the wide session');
  t.equal(layout.acquire(), undefined, 'and no other');
  layout.release(0);
  t.same(
    changes,
    [{ layout: 'wide', concurrency: 1, calibration: timedRuns([{ rows: 1, cols: 8, ms: 3 }]) }],
    "the cost model is fitted to the wide session's runs",
  );
  t.equal(layout.changes, 1);
});

t.test('a full queue: wide turns narrow; thread 1 loads while the wide session serves, then thread 0 reloads', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions);
  const layout = new ThreadLayout(threadLayoutOptions(2, undefined), pool.load, silent, () => now);
  const changes: LayoutChange[] = [];
  layout.onChange = (change) => changes.push(change);
  layout.started(timedRuns([{ rows: 1, cols: 8, ms: 5 }]));
  now = 2_000;
  layout.observe(0);
  await settle();
  t.equal(layout.layout, 'wide');
  pool.loads.length = 0;
  changes.length = 0;

  // Two clients: each text arrives while the other's batch runs.
  const held = layout.acquire()!;
  let arrivals = 0;
  while (pool.pending() === 0 && arrivals < 20) {
    layout.arrived(true);
    layout.observe(1);
    arrivals++;
  }
  t.equal(arrivals, 7, 'changing once more than half of the arrivals (a moving mean) found the wide thread busy');
  layout.release(held.slot);
  t.same(layout.acquire(), { slot: 0, session: WIDE }, 'the wide session serves while thread 1 loads');
  await settle();
  t.same(
    pool.loads.map(({ slot, session }) => ({ slot, session })),
    [{ slot: 1, session: NARROW }],
  );
  t.equal(layout.acquire()?.slot, 1, 'thread 1 serves once loaded');
  t.equal(layout.acquire(), undefined, 'thread 0 left service');
  layout.release(1);
  layout.release(0);
  await settle();
  t.same(
    loadsOf(pool),
    [
      { slot: 1, session: NARROW, calibrate: false },
      { slot: 0, session: NARROW, calibrate: false },
    ],
    'narrow was timed at start: not again',
  );
  t.ok(withinThreads(pool), 'never more sessions than threads');
  t.same(sessions, [NARROW, NARROW]);
  t.equal(layout.concurrency, 2);
  t.same(
    changes.map((c) => [c.layout, c.concurrency, c.calibration.get(MODEL)?.[0]?.ms]),
    [
      ['narrow', 1, 5],
      ['narrow', 2, 5],
    ],
    "the cost model is fitted to the narrow sessions' runs again, and the queue drains on one thread, then two",
  );
});

t.test('a load that fails is logged and the change completes: the next batch names the session, and the thread makes it', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions, new Set([0]));
  const errors: string[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (_: unknown, msg: string) => errors.push(msg) } as never;
  const layout = new ThreadLayout(threadLayoutOptions(2, undefined), pool.load, logger, () => now);
  layout.started(timedRuns([{ rows: 1, cols: 8, ms: 5 }]));
  now = 2_000;
  layout.observe(0);
  await settle();
  t.same(errors, ['model thread could not load its session']);
  t.equal(layout.layout, 'wide');
  t.same(layout.acquire(), { slot: 0, session: WIDE });
});

t.test('stop() waits for the change under way, and no change starts after it', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions);
  const layout = new ThreadLayout(threadLayoutOptions(2, undefined), pool.load, silent, () => now);
  layout.started(timedRuns([]));
  now = 2_000;
  layout.observe(0);
  t.same(pool.loads, [], 'the change has started, its loads not yet');
  await layout.stop();
  t.equal(pool.loads.length, 2, 'both loads of the change ran before stop() resolved');
  t.equal(pool.pending(), 0);
  now = 10_000;
  layout.acquire();
  layout.observe(5);
  now = 20_000;
  layout.observe(5);
  await settle();
  t.equal(layout.changes, 1, 'no change after stop');
});

t.test('a wide session slower than one thread (other processes on the cores) turns narrow, for 30 s', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions);
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (_: unknown, msg: string) => warnings.push(msg) } as never;
  const layout = new ThreadLayout(threadLayoutOptions(2, undefined), pool.load, logger, () => now);
  // One thread, timed on one text of 8 and of 64 tokens: 1 ms a run plus 0.01 ms a token.
  layout.started(timedRuns([8, 64].map((cols) => ({ rows: 1, cols, ms: 1 + 0.01 * cols }))));
  now = 2_000;
  layout.observe(0);
  await settle();
  t.equal(layout.layout, 'wide');
  const oneThreadMs = 1 + 0.01 * 32;
  for (let i = 0; i < 5; i++) layout.ran(MODEL, WIDE, 1, 32, 5 * oneThreadMs);
  await settle();
  t.equal(layout.layout, 'wide', 'the first five runs after the change are left out, however slow');
  for (let i = 0; i < 20; i++) layout.ran(MODEL, WIDE, 1, 32, 0.7 * oneThreadMs);
  t.equal(layout.layout, 'wide', 'faster than one thread: stays');
  for (let i = 0; i < 20; i++) layout.ran(MODEL, WIDE, 8, 32, 20 * oneThreadMs);
  await settle();
  t.equal(layout.layout, 'wide', 'batches of several texts are not judged (no single-text timing to judge them by)');
  t.same(warnings, []);
  layout.ran(MODEL, WIDE, 1, 32, 10 * oneThreadMs);
  layout.ran(MODEL, WIDE, 1, 32, 10 * oneThreadMs);
  await settle();
  t.equal(layout.layout, 'wide', 'two slow runs in a row are not enough, however slow');
  layout.ran(MODEL, WIDE, 1, 32, 2.4 * oneThreadMs);
  await settle();
  t.equal(layout.layout, 'narrow', 'slower than one thread on the moving mean: narrow');
  t.same(warnings, ['the wide session runs slower than one thread; going narrow']);
  now += 20_000;
  layout.observe(0);
  await settle();
  t.equal(layout.layout, 'narrow', 'not wide again within 30 s, idle as it may be');
  now += 10_000;
  layout.observe(0);
  await settle();
  t.equal(layout.layout, 'wide', 'tried again after 30 s');
});

t.test('a fixed layout never changes', async (t) => {
  let now = 0;
  const sessions: (SessionShape | null)[] = [NARROW, NARROW];
  const pool = fakePool(sessions);
  const layout = new ThreadLayout(threadLayoutOptions(2, 1), pool.load, silent, () => now);
  layout.started(timedRuns([]));
  for (; now < 10_000; now += 100) layout.observe(0);
  await settle();
  t.same(pool.loads, []);
  t.equal(layout.layout, 'fixed');
  t.same([layout.acquire()?.slot, layout.acquire()?.slot, layout.acquire()], [0, 1, undefined]);
});

t.test('onEveryThread takes a busy thread as its batch ends, before the dispatcher can give that thread another', async (t) => {
  const layout = ThreadLayout.fixed(2);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const batch = layout.acquire()!;
  const worked: number[] = [];
  let finish: (() => void) | undefined;
  const every = layout.onEveryThread(async (slot) => {
    worked.push(slot);
    await new Promise<void>((resolve) => (finish = resolve));
  });
  await turn();
  t.same(worked, [], 'it waits for the batch on thread 0');
  // As the dispatcher does when a batch ends: release the thread, and in the same turn look for a free one.
  layout.release(batch.slot);
  const next = layout.acquire();
  t.equal(next?.slot, 1, 'thread 0 went to onEveryThread; the next batch goes to thread 1');
  await turn();
  t.same(worked, [0]);
  t.equal(layout.acquire(), undefined, 'no thread is free');
  finish!();
  await turn();
  t.same(worked, [0], 'thread 1 still runs its batch');
  layout.release(next!.slot);
  t.equal(layout.acquire()?.slot, 0, 'thread 0 serves again; thread 1 went to onEveryThread');
  await turn();
  t.same(worked, [0, 1]);
  finish!();
  await every;
  t.equal(layout.running, 1, "only thread 0's batch runs");
});
