/**
 * Skips a dependency that keeps failing: after `threshold` failures in a row it opens for `openMs`, then
 * lets one call through (half-open); success closes it, failure opens it again for twice as long, up to
 * `maxOpenMs`. `onChange` fires once per state change, so a dead Redis logs one line, not one per request.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private currentOpenMs: number;
  private probing = false;
  private state: 'closed' | 'open' = 'closed';

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly maxOpenMs: number,
    private readonly onChange: (state: 'closed' | 'open') => void,
    private readonly now: () => number = Date.now,
  ) {
    this.currentOpenMs = openMs;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Whether a call may go through now. In half-open, only one at a time. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.probing || this.now() < this.openUntil) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.currentOpenMs = this.openMs;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.onChange('closed');
    }
  }

  failure(): void {
    this.failures++;
    if (this.state === 'open') {
      this.probing = false;
      this.currentOpenMs = Math.min(this.currentOpenMs * 2, this.maxOpenMs);
      this.openUntil = this.now() + this.currentOpenMs;
    } else if (this.failures >= this.threshold) {
      this.state = 'open';
      this.openUntil = this.now() + this.currentOpenMs;
      this.onChange('open');
    }
  }
}
