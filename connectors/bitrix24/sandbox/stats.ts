// What the sandbox saw, for tests and the rate-limit benchmark: how many requests
// were admitted or throttled, when, and the busiest second, so utilization of the
// limit can be computed from the portal's side rather than trusted from the client.
import type { BucketLimit } from './bucket.js';

export interface SandboxStats {
  /** Every HTTP request that reached a webhook URL with valid credentials. */
  requests: number;
  /** Admitted by the leaky bucket (answered, successfully or with a method error). */
  accepted: number;
  /** Refused with 503 QUERY_LIMIT_EXCEEDED. */
  throttled: number;
  /** Calls carried inside admitted `batch` requests. */
  batchedCalls: number;
  /** Admitted requests per method ("batch", "crm.contact.add", ...). */
  byMethod: Record<string, number>;
  /** Per whole second since the first request: admitted and throttled requests. */
  timeline: { second: number; accepted: number; throttled: number }[];
  /** Most requests admitted within any sliding 1-second window. */
  maxAcceptedPerSecond: number;
  /** The limit in force, and whether the run hides it from the connector (undocumented mode). */
  limit: BucketLimit & { hidden: boolean };
  /** Handler crashes answered with 500 (a sandbox bug, not a simulated fault). */
  internalErrors: string[];
}

export class StatsRecorder {
  private startedAt: number | undefined;
  private acceptedAt: number[] = [];
  private throttledAt: number[] = [];
  private requests = 0;
  private batchedCalls = 0;
  private byMethod = new Map<string, number>();
  private internalErrors: string[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  request(): void {
    this.startedAt ??= this.now();
    this.requests += 1;
  }

  accepted(method: string, batchedCalls = 0): void {
    this.acceptedAt.push(this.now());
    this.byMethod.set(method, (this.byMethod.get(method) ?? 0) + 1);
    this.batchedCalls += batchedCalls;
  }

  throttled(): void {
    this.throttledAt.push(this.now());
  }

  internalError(message: string): void {
    this.internalErrors.push(message);
  }

  reset(): void {
    this.startedAt = undefined;
    this.acceptedAt = [];
    this.throttledAt = [];
    this.requests = 0;
    this.batchedCalls = 0;
    this.byMethod.clear();
    this.internalErrors = [];
  }

  snapshot(limit: BucketLimit, hidden: boolean): SandboxStats {
    return {
      requests: this.requests,
      accepted: this.acceptedAt.length,
      throttled: this.throttledAt.length,
      batchedCalls: this.batchedCalls,
      byMethod: Object.fromEntries(this.byMethod),
      timeline: this.timeline(),
      maxAcceptedPerSecond: maxInWindow(this.acceptedAt, 1000),
      limit: { ...limit, hidden },
      internalErrors: [...this.internalErrors],
    };
  }

  private timeline(): SandboxStats['timeline'] {
    if (this.startedAt === undefined) return [];
    const start = this.startedAt;
    const seconds: SandboxStats['timeline'] = [];
    const slot = (at: number) => {
      const second = Math.floor((at - start) / 1000);
      while (seconds.length <= second) seconds.push({ second: seconds.length, accepted: 0, throttled: 0 });
      return seconds[second] as SandboxStats['timeline'][number];
    };
    for (const at of this.acceptedAt) slot(at).accepted += 1;
    for (const at of this.throttledAt) slot(at).throttled += 1;
    return seconds;
  }
}

/** Largest number of timestamps (ascending) inside any window of `windowMs`. */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let first = 0;
  for (let last = 0; last < times.length; last += 1) {
    while ((times[last] as number) - (times[first] as number) >= windowMs) first += 1;
    best = Math.max(best, last - first + 1);
  }
  return best;
}
