// The adaptive controller in virtual time: minutes of traffic against CRMs
// with hidden limits, simulated in milliseconds.
import { describe, expect, it } from 'vitest';
import {
  allowedRate,
  defaultAdaptiveTuning,
  initialAdaptiveState,
  onRateLimitHeaders,
  onThrottle,
  onTick,
  type AdaptiveContext,
  type AdaptiveState,
} from './adaptive.js';

type HiddenLimit =
  | { kind: 'token-bucket'; perSecond: number; burst: number }
  | { kind: 'fixed-window'; perSecond: number };

interface Outcome {
  /** Accepted requests over what the limit allows in the whole run. */
  utilization: number;
  throttleTimesMs: number[];
  final: AdaptiveState;
}

/**
 * A client sending as fast as the controller allows (always backlogged),
 * requests answered after `latencyMs`. A throttle carries the time the request
 * was sent and a Retry-After: 1 s from the bucket (HTTP's whole seconds), the
 * time left in the window from a fixed window, none when `retryAfter` is false.
 */
function simulate(limit: HiddenLimit, seconds: number, options: { retryAfter?: boolean } = {}): Outcome {
  const latencyMs = 50;
  const tuning = defaultAdaptiveTuning;
  const context = (now: number, successes: number): AdaptiveContext => ({ now, successes, maxPerSecond: Infinity, tuning });
  let successes = 0;
  let state = initialAdaptiveState(context(0, 0), tuning.initialPerSecond);
  let tokens = limit.kind === 'token-bucket' ? limit.burst : 0;
  let windowStart = 0;
  let windowCount = 0;
  const inFlight: { answerAt: number; sentAt: number; accepted: boolean; retryAfterMs: number }[] = [];
  const throttleTimesMs: number[] = [];
  let nextSendAt = 0;
  for (let now = 0; now <= seconds * 1000; now += 1) {
    if (limit.kind === 'token-bucket') tokens = Math.min(limit.burst, tokens + limit.perSecond / 1000);
    while (inFlight.length > 0 && inFlight[0]!.answerAt <= now) {
      const answer = inFlight.shift()!;
      if (answer.accepted) {
        successes += 1;
      } else {
        throttleTimesMs.push(now);
        const retryAfterMs = options.retryAfter === false ? undefined : answer.retryAfterMs;
        state = onThrottle(state, context(now, successes), { retryAfterMs, sentAt: answer.sentAt });
      }
    }
    if (now % 250 === 0) state = onTick(state, context(now, successes), true);
    if (now >= state.pausedUntil && now >= nextSendAt) {
      nextSendAt = now + 1000 / allowedRate(state, now, Infinity);
      let accepted: boolean;
      if (limit.kind === 'token-bucket') {
        accepted = tokens >= 1;
        if (accepted) tokens -= 1;
      } else {
        if (now - windowStart >= 1000) {
          windowStart = now - (now % 1000);
          windowCount = 0;
        }
        accepted = windowCount < limit.perSecond;
        if (accepted) windowCount += 1;
      }
      const retryAfterMs = limit.kind === 'token-bucket' ? 1000 : windowStart + 1000 - now;
      inFlight.push({ answerAt: now + latencyMs, sentAt: now, accepted, retryAfterMs });
    }
  }
  return { utilization: successes / (limit.perSecond * seconds), throttleTimesMs, final: state };
}

function throttlesPerMinuteAfter(outcome: Outcome, fromMs: number, seconds: number): number {
  return outcome.throttleTimesMs.filter((at) => at >= fromMs).length / ((seconds * 1000 - fromMs) / 60_000);
}

describe('adaptive rate against a hidden limit (virtual time)', () => {
  it('holds >= 0.90 of a 10/s burst-20 token bucket with at most one throttle a minute after the first 15 s', () => {
    const seconds = 600;
    const outcome = simulate({ kind: 'token-bucket', perSecond: 10, burst: 20 }, seconds);
    expect(outcome.utilization).toBeGreaterThanOrEqual(0.9);
    expect(throttlesPerMinuteAfter(outcome, 15_000, seconds)).toBeLessThanOrEqual(1);
    expect(outcome.final.learnedPerSecond).toBeGreaterThan(9);
    expect(outcome.final.learnedPerSecond).toBeLessThan(11);
  });

  it('learns a fixed window and a slow bucket with a large burst (2/s, burst 50) without a throttle storm', () => {
    const fixed = simulate({ kind: 'fixed-window', perSecond: 10 }, 300);
    expect(fixed.utilization).toBeGreaterThanOrEqual(0.9);
    expect(throttlesPerMinuteAfter(fixed, 15_000, 300)).toBeLessThanOrEqual(1);

    // Bitrix24: 2 per second, a bucket of 50, QUERY_LIMIT_EXCEEDED without Retry-After.
    const bitrixLike = simulate({ kind: 'token-bucket', perSecond: 2, burst: 50 }, 300, { retryAfter: false });
    expect(bitrixLike.utilization).toBeGreaterThanOrEqual(0.9);
    expect(throttlesPerMinuteAfter(bitrixLike, 30_000, 300)).toBeLessThanOrEqual(1);
  });

  it('counts a throttle for a request sent before the last decrease only for its Retry-After', () => {
    const tuning = defaultAdaptiveTuning;
    const context = (now: number): AdaptiveContext => ({ now, successes: 0, maxPerSecond: Infinity, tuning });
    const first = onThrottle(initialAdaptiveState(context(0), 20), context(1000), { retryAfterMs: 500, sentAt: 990 });
    expect(first.ratePerSecond).toBeCloseTo(20 * tuning.decreaseFactor);
    expect(first.pausedUntil).toBe(1500);

    const stale = onThrottle(first, context(1010), { retryAfterMs: 2000, sentAt: 995 });
    expect(stale.ratePerSecond).toBe(first.ratePerSecond);
    expect(stale.pausedUntil).toBe(3010);
  });

  it('finds a raised limit again by probing', () => {
    const tuning = defaultAdaptiveTuning;
    let state: AdaptiveState = { ...initialAdaptiveState({ now: 0, successes: 0, maxPerSecond: Infinity, tuning }, 9.5), learnedPerSecond: 10, phase: 'hold' };
    // The CRM now allows more and never throttles: every request allowed succeeds, and the rate climbs past the old limit.
    let successes = 0;
    for (let now = 0; now <= 10 * 60_000; now += 250) {
      successes += allowedRate(state, now, Infinity) / 4;
      state = onTick(state, { now, successes, maxPerSecond: Infinity, tuning }, true);
    }
    expect(state.learnedPerSecond).toBeGreaterThan(15);
  });

  it('does not raise a rate that is not used, however long requests wait', () => {
    const tuning = defaultAdaptiveTuning;
    let state = initialAdaptiveState({ now: 0, successes: 0, maxPerSecond: Infinity, tuning }, 5);
    // Requests wait on something else (a concurrency cap, a slow CRM): 1 per second gets through.
    for (let now = 0; now <= 5 * 60_000; now += 250) state = onTick(state, { now, successes: Math.floor(now / 1000), maxPerSecond: Infinity, tuning }, true);
    expect(state.ratePerSecond).toBe(5);
  });

  it('spends what the CRM says is left of its window evenly, and pauses when nothing is left', () => {
    const tuning = defaultAdaptiveTuning;
    const state = initialAdaptiveState({ now: 0, successes: 0, maxPerSecond: Infinity, tuning }, 20);
    const capped = onRateLimitHeaders(state, { remaining: 5, resetMs: 1000 }, 0);
    expect(allowedRate(capped, 500, Infinity)).toBe(5);
    expect(allowedRate(capped, 1000, Infinity)).toBe(20);

    const spent = onRateLimitHeaders(state, { remaining: 0, resetMs: 700 }, 100);
    expect(spent.pausedUntil).toBe(800);
    expect(onRateLimitHeaders(state, { remaining: 50, resetMs: 1000 }, 0)).toBe(state);
  });
});
