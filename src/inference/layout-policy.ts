/**
 * The two layouts of an adaptive pool (src/inference/thread-layout.ts): `wide`, one session on every core, which
 * answers a lone text fastest; `narrow`, one single-thread session per core, which runs a full queue fastest.
 */
export type LayoutName = 'wide' | 'narrow';

export interface LayoutPolicyOptions {
  /** Wide turns narrow once its thread has run batches without a moment's break for this long, ms. */
  readonly narrowAfterMs: number;
  /** Narrow turns wide once this long has passed with at most one batch running and no text waiting, ms. */
  readonly wideAfterMs: number;
}

/**
 * When the layout should change, from what the dispatcher sees after each of its rounds: the batches running and
 * the texts still waiting. A pure function of those observations and time, so tests can drive it.
 *
 * Wide → narrow: the wide thread never idles, i.e. a text is always waiting when a batch ends (two clients or
 * more, or a request of many texts). One session on two cores runs batches at ~0.7x of two one-thread sessions
 * (16 texts: 187 against 273 sentences/s, docs/performance.md), so a busy pool is narrow. Narrow → wide: a
 * long stretch in which one thread would have done, i.e. never a second batch and never a text waiting.
 * The two delays differ because a change costs a session's load (~0.5 s of a core): a pool under load leaves wide
 * within a few batches, and comes back only once the load has clearly gone.
 */
export class LayoutPolicy {
  /** Wide: when its thread last started being busy without a break (undefined while idle). */
  private busySince: number | undefined;
  /** Narrow: the last moment two batches ran or a text waited. */
  private lastBusy: number;

  constructor(
    private readonly options: LayoutPolicyOptions,
    now: number,
  ) {
    this.lastBusy = now;
  }

  /** The layout wanted, given one observation of the layout running now. */
  observe(current: LayoutName, now: number, running: number, waiting: number): LayoutName {
    if (current === 'wide') {
      if (running === 0) {
        this.busySince = undefined;
        return 'wide';
      }
      this.busySince ??= now;
      return now - this.busySince >= this.options.narrowAfterMs ? 'narrow' : 'wide';
    }
    if (running > 1 || waiting > 0) this.lastBusy = now;
    return now - this.lastBusy >= this.options.wideAfterMs ? 'wide' : 'narrow';
  }

  /** Forgets what was seen (a change of layout starts its observations anew). */
  reset(now: number): void {
    this.busySince = undefined;
    this.lastBusy = now;
  }
}
