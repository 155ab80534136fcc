// A limiter for contract tests: an even pace of `perSecond` jobs, recording when
// each job started, so the kit can prove a connector sends everything through it.
import type { LimiterSnapshot, RateLimitHeaders, RequestLimiter, ThrottleSignal } from '../sdk/limits/types.js';

export class RecordingLimiter implements RequestLimiter {
  readonly started: number[] = [];
  readonly perSecond: number;
  throttles = 0;
  private nextSlot = 0;
  private succeeded = 0;
  private queued = 0;

  constructor(options: { perSecond: number }) {
    this.perSecond = options.perSecond;
  }

  async schedule<T>(job: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / this.perSecond;
    this.queued += 1;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
    this.queued -= 1;
    // The planned slot, not the timer's late wake-up: the pace is what is being recorded.
    this.started.push(slot);
    return job();
  }

  onThrottled(signal: ThrottleSignal): void {
    this.throttles += 1;
    if (signal.retryAfterMs) this.nextSlot = Math.max(this.nextSlot, Date.now() + signal.retryAfterMs);
  }

  onRateLimitHeaders(_headers: RateLimitHeaders): void {}

  onSuccess(): void {
    this.succeeded += 1;
  }

  /** Most job starts in any sliding window of `windowMs`. */
  maxInAnyWindow(windowMs: number): number {
    const sorted = [...this.started].sort((a, b) => a - b);
    let best = 0;
    let from = 0;
    for (let to = 0; to < sorted.length; to += 1) {
      while ((sorted[to] as number) - (sorted[from] as number) >= windowMs) from += 1;
      best = Math.max(best, to - from + 1);
    }
    return best;
  }

  snapshot(): LimiterSnapshot {
    return { allowedPerSecond: this.perSecond, throttledResponses: this.throttles, succeeded: this.succeeded, queued: this.queued, shared: false };
  }

  async close(): Promise<void> {}
}
