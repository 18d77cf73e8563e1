export type LifecycleState = 'starting' | 'ready' | 'draining';

/** Readiness and in-flight requests: what health reports and what a graceful shutdown waits for. */
export class Lifecycle {
  private current: LifecycleState = 'starting';
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private stateListeners: ((state: LifecycleState) => void)[] = [];

  get state(): LifecycleState {
    return this.current;
  }

  set state(next: LifecycleState) {
    if (next === this.current) return;
    this.current = next;
    for (const listener of this.stateListeners) listener(next);
  }

  /** Runs `listener` on every change of state (gRPC's health Watch streams are told at once). */
  onStateChange(listener: (state: LifecycleState) => void): void {
    this.stateListeners.push(listener);
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestFinished(): void {
    if (--this.inFlight === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves true when no request is in flight, or false when `timeoutMs` passes first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
