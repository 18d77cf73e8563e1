/**
 * The rate at which new work is offered to the model threads (predicted thread-ms per ms), whether it is
 * admitted or refused, averaged with an exponential decay over `windowMs`. It tells a sustained overload
 * (clients offer more work than the threads can run, and refused clients come back) from a burst or a
 * closed loop of a few clients, which never offer more than the threads finish.
 */
export class DemandMeter {
  private rate = 0;
  private updatedAt: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.updatedAt = now;
  }

  /** Records `workMs` of predicted thread time offered at `now`. */
  offer(workMs: number, now: number): void {
    this.decayTo(now);
    this.rate += workMs / this.windowMs;
  }

  /** Offered thread-ms per ms at `now`. */
  ratePerMs(now: number): number {
    this.decayTo(now);
    return this.rate;
  }

  private decayTo(now: number): void {
    if (now <= this.updatedAt) return;
    this.rate *= Math.exp((this.updatedAt - now) / this.windowMs);
    this.updatedAt = now;
  }
}
