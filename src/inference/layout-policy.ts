/**
 * The two layouts of an adaptive pool (src/inference/thread-layout.ts): `wide`, one session on every core, which
 * answers a lone text fastest; `narrow`, one single-thread session per core, which runs a full queue fastest.
 */
export type LayoutName = 'wide' | 'narrow';

export interface LayoutPolicyOptions {
  /** Wide turns narrow once more than this share of arriving texts (a moving mean) found its thread busy. */
  readonly narrowAbove: number;
  /** Narrow turns wide once this long has passed with at most one batch running and no text waiting, ms. */
  readonly wideAfterMs: number;
}

/** Weight of the newest arrival in the share that found the wide thread busy: about the last ten count. */
const ARRIVAL_WEIGHT = 0.1;

/**
 * When the layout should change, from what the dispatcher sees: whether each arrival found every thread busy,
 * and after each of its rounds the batches running and the texts still waiting. A pure function of those
 * observations and time, so tests can drive it.
 *
 * Wide → narrow: texts arrive while the wide thread runs. The share of arrivals that find it busy is its
 * utilisation (for arrivals at random); the wide session is ~1.8× as fast on one text as a single-thread one
 * but is one server against two, and waiting times cross near half-busy (M/M/1 at 4.7 ms against M/M/2 at
 * 8.3 ms). One client never finds it busy (it waits for its answer); two or more do, about always. Narrow → wide:
 * a long stretch in which one thread would have done, i.e. never a second batch and never a text waiting.
 * The delays differ because a change costs a session's load (~0.5 s of a core): a pool under load leaves wide
 * within about ten texts, and comes back only once the load has clearly gone.
 */
export class LayoutPolicy {
  /** Wide: moving mean of whether arrivals found its thread busy (1) or free (0). */
  private busyShare = 0;
  /** Narrow: the last moment two batches ran or a text waited. */
  private lastBusy: number;

  constructor(
    private readonly options: LayoutPolicyOptions,
    now: number,
  ) {
    this.lastBusy = now;
  }

  /** Texts arrived; `busy`: no thread that takes batches was free for them. */
  arrived(busy: boolean): void {
    this.busyShare += ARRIVAL_WEIGHT * ((busy ? 1 : 0) - this.busyShare);
  }

  /** The layout wanted, given one observation of the layout running now. */
  observe(current: LayoutName, now: number, running: number, waiting: number): LayoutName {
    if (current === 'wide') return this.busyShare > this.options.narrowAbove ? 'narrow' : 'wide';
    if (running > 1 || waiting > 0) this.lastBusy = now;
    return now - this.lastBusy >= this.options.wideAfterMs ? 'wide' : 'narrow';
  }

  /** Forgets what was seen (a change of layout starts its observations anew). */
  reset(now: number): void {
    this.busyShare = 0;
    this.lastBusy = now;
  }
}
