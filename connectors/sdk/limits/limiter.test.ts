// The limiter in one process (no Redis): declared limits, Retry-After, daily
// quota, waiting bounds, and the adaptive rate against an in-test CRM.
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError } from '../errors.js';
import { msUntilUtcMidnight } from './daily-quota.js';
import { createRequestLimiter } from './limiter.js';
import { collectingLogger, maxInWindow, startedRate, TokenBucket } from './test-support.js';
import type { LimiterOptions, RequestLimiter } from './types.js';

const open: RequestLimiter[] = [];

function limiter(options: Omit<LimiterOptions, 'key' | 'logger'> & { key?: string }): RequestLimiter {
  const created = createRequestLimiter({ key: `test-${Math.random().toString(36).slice(2)}`, logger: collectingLogger().logger, ...options });
  open.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('declared limits', () => {
  it('paces a declared rate evenly: never more than the limit in any window, >= 0.97 of it used', async () => {
    const limits = limiter({ limits: { requests: { count: 20, windowMs: 1000 } } });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 80 }, () => limits.schedule(async () => void starts.push(Date.now()))));

    // Any window, not just aligned ones: a CRM counting with a sliding window must not see 21.
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(20);
    const utilization = startedRate(starts) / 20;
    expect(utilization).toBeGreaterThanOrEqual(0.97);
    expect(utilization).toBeLessThanOrEqual(1);
  });

  it('lets a declared bucket go at once, then refills it at the declared rate without tripping a CRM with that bucket', async () => {
    const crm = new TokenBucket(10, 20);
    const limits = limiter({ limits: { requests: { count: 10, windowMs: 1000 }, burst: 20 } });
    const starts: number[] = [];
    let refused = 0;
    const began = Date.now();
    await Promise.all(
      Array.from({ length: 39 }, () =>
        limits.schedule(async () => {
          starts.push(Date.now() - began);
          if (!crm.take()) refused += 1;
        }),
      ),
    );
    expect(refused).toBe(0);
    // 19 at once (the bucket, a request under the declaration), not 10 per second from the start.
    const early = starts.filter((at) => at < 300).length;
    expect(early).toBeGreaterThanOrEqual(19);
    expect(early).toBeLessThanOrEqual(22);
    // The other 20 follow as the bucket refills, a request every 100 ms: about two seconds.
    expect(Math.max(...starts)).toBeGreaterThanOrEqual(1900);
    expect(Math.max(...starts)).toBeLessThan(2700);
  });

  it('refuses a bucket without the rate that refills it, or smaller than one window', () => {
    expect(() => limiter({ limits: { burst: 50 } })).toThrow(/burst needs limits.requests/);
    expect(() => limiter({ limits: { requests: { count: 10, windowMs: 1000 }, burst: 5 } })).toThrow(/at least limits.requests.count/);
  });

  it('keeps at most `concurrency` jobs in flight', async () => {
    // Not adaptive: with no rate declared, adaptive limiting would pace at its initial rate.
    const limits = limiter({ limits: { concurrency: 3 }, adaptive: false });
    let inFlight = 0;
    let highest = 0;
    await Promise.all(
      Array.from({ length: 15 }, () =>
        limits.schedule(async () => {
          inFlight += 1;
          highest = Math.max(highest, inFlight);
          await sleep(30);
          inFlight -= 1;
        }),
      ),
    );
    expect(highest).toBe(3);
  });

  it('fails fast once the daily quota is spent, throttled until midnight UTC', async () => {
    const limits = limiter({ limits: { dailyQuota: 5 } });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, index) => limits.schedule(async () => index)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected').map((result) => result.reason as unknown);
    expect(refused).toHaveLength(3);
    for (const error of refused) {
      expect(error).toBeInstanceOf(CrmError);
      expect((error as CrmError).kind).toBe('throttled');
      expect(Math.abs((error as CrmError).retryAfterMs! - msUntilUtcMidnight(Date.now()))).toBeLessThan(5_000);
    }

    const askedAt = Date.now();
    await expect(limits.schedule(async () => 'late')).rejects.toMatchObject({ kind: 'throttled', details: { code: 'DAILY_QUOTA' } });
    expect(Date.now() - askedAt).toBeLessThan(50);
    expect(limits.snapshot().dailyUsed).toBe(5);
  });

  it('rejects a job that waited maxWaitMs in the queue as throttled, and never runs it', async () => {
    const limits = limiter({ limits: { concurrency: 1 }, adaptive: false, maxWaitMs: 100 });
    const ran: string[] = [];
    const slow = limits.schedule(() => sleep(400));
    // Held by the pacer (two jobs at most), waiting for the slot: they run.
    const held = [limits.schedule(async () => void ran.push('held 1')), limits.schedule(async () => void ran.push('held 2'))];
    const queued = limits.schedule(async () => void ran.push('queued'));
    const askedAt = Date.now();
    await expect(queued).rejects.toMatchObject({ kind: 'throttled' });
    expect(Date.now() - askedAt).toBeLessThan(300);
    await Promise.all([slow, ...held]);
    await sleep(50);
    expect(ran).toEqual(['held 1', 'held 2']);
    expect(limits.snapshot().queued).toBe(0);
  });

  it('keeps the full rate under overload while waiting jobs give up', async () => {
    // Far more demand than the limit: every job waits its full maxWaitMs at
    // the head of the queue. Those already held by the pacer still run, so
    // no pacer slot is wasted on a job nobody waits for any more.
    const limits = limiter({ limits: { requests: { count: 20, windowMs: 1000 } }, maxWaitMs: 300 });
    const starts: number[] = [];
    let gaveUp = 0;
    const until = Date.now() + 3000;
    const client = async () => {
      while (Date.now() < until) {
        await limits.schedule(async () => void starts.push(Date.now())).catch((error: unknown) => {
          if (!(error instanceof CrmError) || error.kind !== 'throttled') throw error;
          gaveUp += 1;
        });
      }
    };
    await Promise.all(Array.from({ length: 50 }, client));
    expect(gaveUp).toBeGreaterThan(100);
    expect(starts.length / 3 / 20).toBeGreaterThanOrEqual(0.9);
  });

  it('passes errors thrown by jobs through unchanged', async () => {
    const limits = limiter({ limits: { requests: { count: 10, windowMs: 1000 } } });
    const failure = new CrmError('rejected', 'CRM refused (400): phone is invalid', { status: 400 });
    await expect(limits.schedule(() => Promise.reject(failure))).rejects.toBe(failure);
    const plain = new TypeError('bug in the connector');
    await expect(limits.schedule(() => Promise.reject(plain))).rejects.toBe(plain);
  });

  it('runs higher priorities first', async () => {
    const limits = limiter({ limits: { concurrency: 1 }, adaptive: false });
    const order: string[] = [];
    const first = limits.schedule(() => sleep(50));
    const jobs = [
      limits.schedule(async () => void order.push('low'), { priority: 9 }),
      limits.schedule(async () => void order.push('normal')),
      limits.schedule(async () => void order.push('urgent'), { priority: 0 }),
    ];
    await Promise.all([first, ...jobs]);
    // The first two were handed to the pacer (two at a time) before the others arrived.
    expect(order).toEqual(['low', 'urgent', 'normal']);
  });
});

describe('throttling', () => {
  it('honours Retry-After exactly: no job starts before it ends, the next starts right then', async () => {
    const limits = limiter({ limits: {}, tuning: { initialPerSecond: 20 } });
    const starts: number[] = [];
    let pausedAt = 0;
    await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        limits.schedule(async () => {
          starts.push(Date.now());
          if (index === 5) {
            pausedAt = Date.now();
            limits.onThrottled({ retryAfterMs: 700 });
          }
        }),
      ),
    );
    const after = starts.filter((at) => at > pausedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after)).toBeGreaterThanOrEqual(pausedAt + 700);
    expect(Math.min(...after)).toBeLessThan(pausedAt + 700 + 60);
    expect(limits.snapshot().throttledResponses).toBe(1);
  });

  it('pauses until the window resets when rate-limit headers say nothing is left', async () => {
    const limits = limiter({ limits: {} });
    await limits.schedule(async () => limits.onRateLimitHeaders({ limit: 100, remaining: 0, resetMs: 400 }));
    const askedAt = Date.now();
    const startedAt = await limits.schedule(async () => Date.now());
    expect(startedAt - askedAt).toBeGreaterThanOrEqual(380);
  });

  it('learns a hidden token bucket: throttled while discovering, then holds just under it', async () => {
    // 20 per second with a burst of 20; the limiter knows nothing of it.
    const crm = new TokenBucket(20, 20);
    const limits = limiter({ limits: {}, tuning: { initialPerSecond: 10 } });
    const started = Date.now();
    const answers: { at: number; accepted: boolean }[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        await limits.schedule(async () => {
          await sleep(10);
          const accepted = crm.take();
          answers.push({ at: Date.now() - started, accepted });
          if (accepted) limits.onSuccess();
          else limits.onThrottled({ retryAfterMs: 1000 });
        });
      }
    };
    const clients = Array.from({ length: 20 }, client);
    await sleep(20_000);
    stop = true;
    await Promise.all(clients);

    const throttles = answers.filter((answer) => !answer.accepted).map((answer) => answer.at);
    expect(throttles.length).toBeGreaterThan(0);
    // Converged: the last 8 s without a throttle, at >= 0.9 of the hidden limit.
    expect(throttles.filter((at) => at >= 12_000)).toEqual([]);
    const lastSeconds = answers.filter((answer) => answer.at >= 12_000 && answer.accepted).length / 8;
    expect(lastSeconds / 20).toBeGreaterThanOrEqual(0.9);
    const snapshot = limits.snapshot();
    expect(snapshot.learnedPerSecond).toBeGreaterThan(18);
    expect(snapshot.learnedPerSecond).toBeLessThan(22);
    expect(snapshot.phase).toBe('hold');
  }, 30_000);
});
