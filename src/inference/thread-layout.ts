import type { Logger } from 'pino';
import type { CalibrationRun, LoadResult, SessionShape } from '../../workers/protocol.js';
import { LayoutPolicy, type LayoutName, type LayoutPolicyOptions } from './layout-policy.js';

export interface ThreadLayoutOptions extends LayoutPolicyOptions {
  /** The pool's model threads (the CPU limit's cores): the wide session's intra-op threads too. */
  readonly threads: number;
  /** Every thread's session when the layout is fixed (INTRA_OP_THREADS set); adaptive when undefined. */
  readonly fixed?: SessionShape;
}

/** What the pool runs now: the layout, how many threads take batches, and the timed runs its cost model fits. */
export interface LayoutChange {
  readonly layout: LayoutName | 'fixed';
  readonly concurrency: number;
  /** By model key: each model's cost model fits its own. */
  readonly calibration: ReadonlyMap<string, readonly CalibrationRun[]>;
}

/**
 * Makes a thread hold a session of this shape (null: none) of every model, timing the new ones of the models
 * `calibrate` names (ModelPool.load).
 */
export type LoadSession = (slot: number, session: SessionShape | null, calibrate: (key: string) => boolean) => Promise<LoadResult>;

const NARROW: SessionShape = { threads: 1, spin: false };
/** Wide turns narrow once half the arriving texts find its thread busy; narrow turns wide after 2 s without a queue. */
const DELAYS: LayoutPolicyOptions = { narrowAbove: 0.5, wideAfterMs: 2_000 };
/**
 * A wide session's single-text runs against one thread's timed ones for the same length: ~0.8 on an idle machine
 * (the timed runs are the fastest of three), with one run in ~20 at 1.3-2 (a page fault, a timer); 2.4 while
 * other processes kept both cores busy (a spinning thread waits for its partner, descheduled mid-operator). Each
 * run counts at most WIDE_RATIO_CAP in a moving mean; above WIDE_SLOWER the wide session is slower than a single
 * thread would be, and the pool goes narrow and stays so for WIDE_BACKOFF_MS.
 */
const WIDE_SLOWER = 1.25;
const WIDE_RATIO_CAP = 2;
const WIDE_RATIO_WEIGHT = 0.2;
/**
 * A wide session's first runs after a change are left out (the other threads are still releasing their
 * sessions: 3.4 to 10.3 ms for a sentence in the first five), its mean starts from what an idle machine gives
 * (WIDE_EXPECTED), and it is judged from its eighth run: it takes two or three runs at twice one thread's time to
 * turn it narrow, one slow run never does.
 */
const WIDE_RUNS_IGNORED = 5;
const WIDE_JUDGED_FROM = 8;
const WIDE_EXPECTED = 0.8;
const WIDE_BACKOFF_MS = 30_000;

/**
 * The pool's layout: adaptive when INTRA_OP_THREADS is unset and there are two threads or more; fixed otherwise,
 * a single thread's session spinning when it has several threads (it runs alone).
 */
export function threadLayoutOptions(threads: number, intraOpThreads: number | undefined): ThreadLayoutOptions {
  if (intraOpThreads !== undefined)
    return { threads, fixed: { threads: intraOpThreads, spin: threads === 1 && intraOpThreads > 1 }, ...DELAYS };
  return { threads, fixed: threads < 2 ? NARROW : undefined, ...DELAYS };
}

/** The session every thread loads at start: the fixed one, or the adaptive layout's first (narrow). */
export function initialSession(options: ThreadLayoutOptions): SessionShape {
  return options.fixed ?? NARROW;
}

/**
 * Which session each model thread holds and which threads take batches. Fixed (INTRA_OP_THREADS set): every
 * thread holds the same session, always. Adaptive (the default with two cores or more): `narrow` (one
 * single-thread session per thread) or `wide` (thread 0 holds one session with a thread per core, spinning
 * during its runs; the others hold none), as LayoutPolicy decides from the dispatcher's observations.
 *
 * A change never holds more sessions than the pool has threads (memory stays bounded as before) and never stops
 * serving: to go wide, thread 0 leaves service and loads the wide session while the others keep serving, then the
 * others release theirs; to go narrow, the others load theirs while the wide one serves, then thread 0 reloads.
 * The dispatcher asks for a free serving thread (acquire) and gives it back (release); each batch names the
 * session's shape, so a thread that piscina replaced after a crash re-creates the right one itself.
 */
export class ThreadLayout {
  private name: LayoutName | 'fixed';
  /** The session each thread holds (null: none). */
  private readonly held: (SessionShape | null)[];
  private readonly serving = new Set<number>();
  private readonly busy = new Set<number>();
  private readonly freeWaiters = new Map<number, () => void>();
  /** onEveryThread's claim of a busy thread: handed the thread as its batch ends, still marked busy (claim()). */
  private readonly claimWaiters = new Map<number, () => void>();
  /** Each layout's timed warm-up runs, by model key. */
  private readonly calibrations = new Map<LayoutName | 'fixed', Map<string, readonly CalibrationRun[]>>();
  private readonly policy: LayoutPolicy;
  private changing: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * One thread's time for one text of n tokens (the narrow warm-up's single-text runs), to judge the wide session
   * by; of the first model of the start (the default model), whose runs alone are judged.
   */
  private oneThread: ((tokens: number) => number) | undefined;
  private judgedModel: string | undefined;
  /** Moving mean of the wide session's single-text run time over oneThread's, and the runs it has seen. */
  private wideRatio = WIDE_EXPECTED;
  private wideRuns = 0;
  /** Wide is not tried again before this time, after it was found slower than one thread. */
  private wideBlockedUntil = -Infinity;
  /** Changes of layout so far (tests and logs). */
  changes = 0;
  /** Told of every change of what runs (the service re-fits the cost model and the queue's concurrency). */
  onChange: (change: LayoutChange) => void = () => {};
  /** Told when a thread that onEveryThread held is free again (the dispatcher may give it a batch). */
  onFreed: () => void = () => {};

  constructor(
    private readonly options: ThreadLayoutOptions,
    private readonly load: LoadSession,
    /** Only an adaptive layout logs (its changes). */
    private readonly logger: Logger | undefined,
    private readonly now: () => number,
  ) {
    this.name = options.fixed ? 'fixed' : 'narrow';
    this.held = Array.from({ length: options.threads }, () => initialSession(options));
    for (let slot = 0; slot < options.threads; slot++) this.serving.add(slot);
    this.policy = new LayoutPolicy(options, now());
  }

  /** A layout that never changes: `threads` threads, each with a session of `shape` (tests, and INTRA_OP_THREADS). */
  static fixed(threads: number, shape: SessionShape = NARROW): ThreadLayout {
    const neverLoads: LoadSession = () => Promise.reject(new Error('a fixed layout loads no session'));
    return new ThreadLayout({ threads, fixed: shape, narrowAbove: 1, wideAfterMs: 0 }, neverLoads, undefined, () => 0);
  }

  get layout(): LayoutName | 'fixed' {
    return this.name;
  }

  /** Threads that take batches now. */
  get concurrency(): number {
    return this.serving.size;
  }

  /** Batches running now, on any thread (one that left service finishes its own). */
  get running(): number {
    return this.busy.size;
  }

  /** True when every thread that takes batches is running one. */
  get full(): boolean {
    for (const slot of this.serving) if (!this.busy.has(slot)) return false;
    return true;
  }

  /** The sessions held now (for the memory bound's tests): their shapes, null for a thread holding none. */
  get sessions(): readonly (SessionShape | null)[] {
    return this.held;
  }

  /** The warm-up runs of the first layout by model key, once every thread is warm: what the cost models fit. */
  started(calibration: ReadonlyMap<string, readonly CalibrationRun[]>): LayoutChange {
    this.calibrations.set(this.name, new Map(calibration));
    this.judgedModel = calibration.keys().next().value;
    if (this.name === 'narrow' && this.judgedModel !== undefined) this.oneThread = singleTextCost(calibration.get(this.judgedModel)!);
    // Counted from now: a pool that stays idle goes wide (one session: less memory) as one that serves lone texts.
    this.policy.reset(this.now());
    this.observe(0);
    return { layout: this.name, concurrency: this.serving.size, calibration };
  }

  /** A serving thread with no batch, marked busy, and the session a batch on it runs on; undefined if none. */
  acquire(): { slot: number; session: SessionShape } | undefined {
    for (const slot of this.serving) {
      if (!this.busy.has(slot)) {
        this.busy.add(slot);
        return { slot, session: this.held[slot]! };
      }
    }
    return undefined;
  }

  /** The batch on `slot` ended. */
  release(slot: number): void {
    const claimer = this.claimWaiters.get(slot);
    if (claimer) {
      this.claimWaiters.delete(slot);
      claimer();
      return;
    }
    this.busy.delete(slot);
    const waiter = this.freeWaiters.get(slot);
    this.freeWaiters.delete(slot);
    waiter?.();
  }

  /**
   * A batch of `rows` texts padded to `cols` ran in `inferenceMs` (the worker's own time) on a session of this
   * shape. A wide session found slower than one thread (WIDE_SLOWER) turns the pool narrow for WIDE_BACKOFF_MS.
   */
  ran(model: string, session: SessionShape, rows: number, cols: number, inferenceMs: number): void {
    if (this.name !== 'wide' || !session.spin || rows !== 1 || this.oneThread === undefined || this.changing || this.stopped) return;
    if (model !== this.judgedModel) return;
    const ratio = inferenceMs / this.oneThread(cols);
    this.logger?.debug({ tokens: cols, ms: inferenceMs, oneThreadMs: this.oneThread(cols), mean: this.wideRatio }, 'wide run');
    const run = ++this.wideRuns;
    if (run <= WIDE_RUNS_IGNORED) return;
    this.wideRatio += WIDE_RATIO_WEIGHT * (Math.min(ratio, WIDE_RATIO_CAP) - this.wideRatio);
    if (run < WIDE_JUDGED_FROM || this.wideRatio <= WIDE_SLOWER) return;
    this.logger?.warn({ ratio: Number(this.wideRatio.toFixed(2)) }, 'the wide session runs slower than one thread; going narrow');
    this.wideBlockedUntil = this.now() + WIDE_BACKOFF_MS;
    this.change('narrow');
  }

  /** Texts were queued; `busy`: every serving thread was running a batch (the dispatcher could start none). */
  arrived(busy: boolean): void {
    if (this.name === 'wide') this.policy.arrived(busy);
  }

  /** After each of the dispatcher's rounds: `waiting` texts were left in the queue. May start a change. */
  observe(waiting: number): void {
    if (this.name === 'fixed' || this.changing || this.stopped) return;
    const now = this.now();
    const wanted = this.policy.observe(this.name, now, this.busy.size, waiting);
    clearTimeout(this.idleTimer);
    if (wanted === 'wide' && now < this.wideBlockedUntil) return;
    if (wanted !== this.name) {
      this.change(wanted);
      return;
    }
    // An idle narrow pool sees no more rounds: look again once it would have been idle long enough.
    if (this.name === 'narrow' && this.busy.size === 0 && waiting === 0) {
      this.idleTimer = setTimeout(() => this.observe(0), this.options.wideAfterMs);
      this.idleTimer.unref();
    }
  }

  /**
   * Runs `work` on every thread in turn, each while it runs no batch (marked busy meanwhile, so the dispatcher
   * gives it none; the others keep serving), with no change of layout under way or started until it ends; `work`
   * gets the session shape the thread holds (null: none). Stops at the first failure and rethrows it. What loads
   * and unloads a model: its sessions follow the layout like every other model's.
   */
  async onEveryThread<T>(work: (slot: number, session: SessionShape | null) => Promise<T>): Promise<T[]> {
    while (this.changing) await this.changing;
    let done!: () => void;
    this.changing = new Promise((resolve) => (done = resolve));
    try {
      const results: T[] = [];
      for (const slot of this.held.keys()) {
        await this.claim(slot);
        try {
          results.push(await work(slot, this.held[slot]!));
        } finally {
          this.release(slot);
          this.onFreed();
        }
      }
      return results;
    } finally {
      this.changing = undefined;
      done();
    }
  }

  /** Whether `model`'s sessions of the layout that runs now have been timed. */
  isTimed(model: string): boolean {
    return this.calibrations.get(this.name)?.has(model) ?? false;
  }

  /** `model`'s timed warm-up runs under the layout that runs now (a model loaded live). */
  timed(model: string, runs: readonly CalibrationRun[]): void {
    if (runs.length === 0) return;
    this.timedRunsOf(this.name).set(model, runs);
  }

  /** The model left the repository: its calibrations go too. */
  forget(model: string): void {
    for (const runs of this.calibrations.values()) runs.delete(model);
  }

  /** No more changes; resolves once the one under way (a session's load, native code) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    await this.changing;
  }

  private change(to: LayoutName): void {
    const from = this.name;
    const started = this.now();
    this.wideRatio = WIDE_EXPECTED;
    this.wideRuns = 0;
    this.changing = (to === 'wide' ? this.toWide() : this.toNarrow())
      .then(() => this.logger?.info({ from, to, ms: Math.round(this.now() - started) }, 'thread layout changed'))
      .catch((err: unknown) => this.logger?.error({ err, from, to }, 'thread layout change failed'))
      .finally(() => {
        this.changes++;
        this.changing = undefined;
        this.policy.reset(this.now());
      });
  }

  private async toWide(): Promise<void> {
    const wide: SessionShape = { threads: this.options.threads, spin: true };
    const others = [...this.held.keys()].filter((slot) => slot !== 0);
    // Thread 0 leaves service and loads the wide session while the others keep serving.
    await this.leave(0);
    const calibration = await this.hold(0, wide, 'wide');
    this.serving.clear();
    this.serving.add(0);
    this.name = 'wide';
    this.report(calibration);
    // The others release theirs once their batches end: the wide session runs alone.
    await Promise.all(others.map(async (slot) => this.whenFree(slot).then(() => this.hold(slot, null, 'wide'))));
  }

  private async toNarrow(): Promise<void> {
    const others = [...this.held.keys()].filter((slot) => slot !== 0);
    // The others load theirs while the wide session serves.
    const loaded = await Promise.all(others.map((slot) => this.hold(slot, NARROW, 'narrow')));
    // Thread 0 leaves service for its own narrow session while the others serve.
    this.name = 'narrow';
    this.serving.clear();
    for (const slot of others) this.serving.add(slot);
    this.report(loaded[0]!);
    await this.whenFree(0);
    await this.hold(0, NARROW, 'narrow');
    this.serving.add(0);
    this.report(loaded[0]!);
  }

  /** Takes `slot` out of service and waits for its batch to end. */
  private async leave(slot: number): Promise<void> {
    this.serving.delete(slot);
    await this.whenFree(slot);
  }

  /**
   * Marks `slot` busy for the caller, at once if it runs no batch, else as its batch ends. A thread that stays in
   * service must pass straight from its batch to the caller: the dispatcher gives a freed thread its next batch in
   * the same turn as release(), before a waiter woken then could mark it busy, and the two would then run on one
   * thread while the layout counted one (piscina's queue of one per thread then refuses a third task).
   */
  private claim(slot: number): Promise<void> {
    if (!this.busy.has(slot)) {
      this.busy.add(slot);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.claimWaiters.set(slot, resolve));
  }

  private whenFree(slot: number): Promise<void> {
    return this.busy.has(slot) ? new Promise((resolve) => this.freeWaiters.set(slot, resolve)) : Promise.resolve();
  }

  /**
   * Loads `shape` on `slot`, timed if `layout` has no calibration yet (each layout is timed once: its first
   * load). A failed load is logged and the thread counted as holding the shape anyway: its next batch names the
   * shape, and the thread creates it then.
   */
  private async hold(
    slot: number,
    shape: SessionShape | null,
    layout: LayoutName,
  ): Promise<ReadonlyMap<string, readonly CalibrationRun[]>> {
    const timed = this.timedRunsOf(layout);
    this.held[slot] = shape;
    try {
      const { calibration } = await this.load(slot, shape, (key) => shape !== null && !timed.has(key));
      for (const [key, runs] of Object.entries(calibration)) if (runs.length > 0) timed.set(key, runs);
    } catch (err) {
      this.logger?.error({ err, slot, threads: shape?.threads ?? 0 }, 'model thread could not load its session');
    }
    return timed;
  }

  /** The timed runs of `layout`'s sessions by model key, kept in `calibrations` (an empty entry at first). */
  private timedRunsOf(layout: LayoutName | 'fixed'): Map<string, readonly CalibrationRun[]> {
    let timed = this.calibrations.get(layout);
    if (!timed) {
      timed = new Map();
      this.calibrations.set(layout, timed);
    }
    return timed;
  }

  private report(calibration: ReadonlyMap<string, readonly CalibrationRun[]>): void {
    this.onChange({ layout: this.name, concurrency: this.serving.size, calibration });
  }
}

/**
 * One text's time by its tokens, the line through the timed single-text runs of two lengths (the c·n² term is
 * negligible at one row); undefined without two. Not the cost model's fit: fitted to every shape by least squares,
 * it put one 25-token text at 4.8 ms where one thread takes ~8, and a healthy wide session at 1.14x of it.
 */
function singleTextCost(calibration: readonly CalibrationRun[]): ((tokens: number) => number) | undefined {
  const single = calibration.filter((run) => run.rows === 1).sort((x, y) => x.cols - y.cols);
  const [short, long] = [single[0], single.at(-1)];
  if (!short || !long || long.cols === short.cols) return undefined;
  const perToken = Math.max(0, (long.ms - short.ms) / (long.cols - short.cols));
  return (tokens) => short.ms + perToken * (tokens - short.cols);
}
