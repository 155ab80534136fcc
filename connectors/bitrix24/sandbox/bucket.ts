// Bitrix24's request-intensity limit, as its documentation describes it
// (https://apidocs.bitrix24.com/limits.html): a leaky bucket per portal. Every
// request adds one to a counter; the counter drains continuously at Y per second;
// a request that would take the counter past X is refused with 503
// QUERY_LIMIT_EXCEEDED. Standard plans: Y = 2, X = 50; Enterprise: Y = 5, X = 250.
// A `batch` call is one request, however many calls it carries.

export interface BucketLimit {
  /** Y: how fast the counter drains, requests per second. */
  ratePerSecond: number;
  /** X: the counter value beyond which requests are refused. */
  burst: number;
}

export const standardPlanLimit: BucketLimit = { ratePerSecond: 2, burst: 50 };

export class LeakyBucket {
  private level = 0;
  private updatedAt: number;

  constructor(
    private limit: BucketLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    assertLimit(limit);
    this.updatedAt = now();
  }

  get current(): BucketLimit {
    return { ...this.limit };
  }

  /**
   * True when the request is admitted (and counted). Refused requests do not add
   * to the counter: a client that backs off recovers at the drain rate.
   */
  tryTake(): boolean {
    this.drain();
    if (this.level + 1 > this.limit.burst) return false;
    this.level += 1;
    return true;
  }

  setLimit(limit: BucketLimit): void {
    assertLimit(limit);
    this.drain();
    this.limit = { ...limit };
  }

  reset(): void {
    this.level = 0;
    this.updatedAt = this.now();
  }

  private drain(): void {
    const now = this.now();
    this.level = Math.max(0, this.level - ((now - this.updatedAt) / 1000) * this.limit.ratePerSecond);
    this.updatedAt = now;
  }
}

function assertLimit(limit: BucketLimit): void {
  if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) {
    throw new RangeError(`a bucket needs ratePerSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`);
  }
}
