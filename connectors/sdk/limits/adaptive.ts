// Learning an undocumented rate limit (AIMD with a remembered ceiling).
//
// Plain AIMD saws up and down through the limit and is throttled once per
// cycle. Instead, throttles are turned into an estimate of the limit, and the
// rate is then held a little under that estimate, with a rare probe above it
// so a raised limit is found again.
//
// The estimate: right after a throttle the CRM has no capacity left (its token
// bucket or window is empty). At the next throttle it is empty again, so what
// it let through in between is exactly what it refilled: successes divided by
// the time between two throttles is the limit itself (a little less if the
// bucket sat full for a while, which errs on the safe side). The rate at
// which the first throttle came says much less: a burst allowance inflates it.
//
// Everything here is a pure function of a plain, JSON-serializable state and
// the time passed in, so the state can live in Redis (shared by every process
// of a connector instance) and the algorithm can be simulated in virtual time.

export interface AdaptiveTuning {
  /** Rate to start from when nothing is declared. */
  initialPerSecond: number;
  /** Never slower than this, whatever the CRM says. */
  minPerSecond: number;
  /** How often the rate may rise. */
  increaseIntervalMs: number;
  /** Before the first throttle, the rate grows by this factor per interval (slow start). */
  discoveryFactor: number;
  /** On a throttle that teaches nothing better, the rate is multiplied by this. */
  decreaseFactor: number;
  /** Until a throttle gives a measurement, the rate then grows by this fraction of the estimate per interval. */
  additiveStep: number;
  /** Fraction of the learned limit kept free: the rate is held at limit * (1 - headroom). */
  headroom: number;
  /** Time after a throttle (or a probe that held) before probing above the learned limit again. */
  probeIntervalMs: number;
  /** The first probe runs at learned limit * (1 + probeStep); each probe that holds makes the next step 1.5 times larger. */
  probeStep: number;
  /** A probe that lasts this long without a throttle shows the limit was raised. */
  probeHoldMs: number;
  /** Pause after a throttle that came without Retry-After. */
  throttlePauseMs: number;
  /** A throttle for a request of unknown start time is taken as sent this long before it arrived. */
  assumedLatencyMs: number;
  /** A measurement spans at least this long and this many successes (else it is too noisy to trust). */
  minEstimateIntervalMs: number;
  minEstimateSuccesses: number;
}

export const defaultAdaptiveTuning: AdaptiveTuning = {
  initialPerSecond: 5,
  minPerSecond: 0.05,
  increaseIntervalMs: 1_000,
  discoveryFactor: 1.2,
  decreaseFactor: 0.85,
  additiveStep: 0.05,
  headroom: 0.05,
  probeIntervalMs: 60_000,
  probeStep: 0.05,
  probeHoldMs: 30_000,
  throttlePauseMs: 1_000,
  assumedLatencyMs: 500,
  minEstimateIntervalMs: 1_000,
  minEstimateSuccesses: 8,
};

/**
 * - discovery: no measurement yet; the rate grows until the CRM objects;
 * - hold: just under the measured limit;
 * - probe: a little above it, to find out whether the limit was raised.
 */
export type AdaptivePhase = 'discovery' | 'hold' | 'probe';

export interface AdaptiveState {
  /** Rate the controller allows (before header caps and the declared maximum). */
  ratePerSecond: number;
  /** Estimated limit of the CRM; null until the first throttle. */
  learnedPerSecond: number | null;
  phase: AdaptivePhase;
  phaseSince: number;
  /** Start of the current increase interval, and the shared success count then: the rate actually used is measured over it. */
  intervalStart: number;
  successesAtIntervalStart: number;
  /** Throttles that counted as new evidence (the latest last, a few kept), with the shared success count then. */
  throttles: ThrottlePoint[];
  /** Step of the next probe above the learned limit. */
  probeStep: number;
  nextProbeAt: number;
  /** No request may start before this (Retry-After, or an exhausted header window). */
  pausedUntil: number;
  /** The CRM's own rate-limit headers: spend what is left of its window evenly. */
  headerCap: { perSecond: number; until: number } | null;
}

export interface ThrottlePoint {
  at: number;
  successes: number;
}

const keptThrottlePoints = 6;
/** Share of the allowed rate that must have succeeded over an interval for the rate to rise. */
const usedShareToRise = 0.7;

export interface AdaptiveContext {
  now: number;
  /** Successful requests ever counted for this key (by every process sharing it). */
  successes: number;
  /** Highest rate allowed (the declared limit, or Infinity). */
  maxPerSecond: number;
  tuning: AdaptiveTuning;
}

export function initialAdaptiveState(context: AdaptiveContext, initialPerSecond: number): AdaptiveState {
  const { now, maxPerSecond, tuning } = context;
  return {
    ratePerSecond: clamp(initialPerSecond, tuning.minPerSecond, maxPerSecond),
    learnedPerSecond: null,
    phase: 'discovery',
    phaseSince: now,
    intervalStart: now,
    successesAtIntervalStart: context.successes,
    throttles: [],
    probeStep: tuning.probeStep,
    nextProbeAt: now + tuning.probeIntervalMs,
    pausedUntil: 0,
    headerCap: null,
  };
}

/** The rate requests may start at right now. */
export function allowedRate(state: AdaptiveState, now: number, maxPerSecond: number): number {
  const cap = state.headerCap && state.headerCap.until > now ? state.headerCap.perSecond : Infinity;
  return Math.min(state.ratePerSecond, cap, maxPerSecond);
}

export interface ThrottleReport {
  /** Exact wait the CRM asked for. */
  retryAfterMs?: number | undefined;
  /** When the throttled request started, when known. */
  sentAt?: number | undefined;
  /** Whether requests were waiting for their turn most of the time since `from` (else throughput measures demand, not the limit). */
  wasBacklogged?: ((from: number) => boolean) | undefined;
}

/** The CRM said "too many requests". */
export function onThrottle(state: AdaptiveState, context: AdaptiveContext, report: ThrottleReport): AdaptiveState {
  const { now, successes, maxPerSecond, tuning } = context;
  const { retryAfterMs } = report;
  // Retry-After is honoured exactly, whatever else happens.
  const pausedUntil = Math.max(state.pausedUntil, now + (retryAfterMs ?? 0));
  const sentAt = report.sentAt ?? now - tuning.assumedLatencyMs;
  const last = state.throttles.at(-1);
  if (last && sentAt < last.at) {
    // The request went out before the last decrease: it was sent at the old
    // rate, which is already lowered. Only a longer Retry-After matters.
    return pausedUntil === state.pausedUntil ? state : { ...state, pausedUntil };
  }

  const rateAtThrottle = allowedRate(state, now, maxPerSecond);
  const measured = measureLimit(state.throttles, context, report.wasBacklogged);
  let learned: number;
  if (measured !== null) {
    learned = Math.min(rateAtThrottle, measured);
    // A throttled probe shows the limit is under the probe, not under the
    // estimate the probe started from; if the limit really dropped, holding
    // under the old estimate is throttled too and measures it.
    if (state.phase === 'probe' && state.learnedPerSecond !== null) learned = Math.max(learned, Math.min(state.learnedPerSecond, rateAtThrottle));
  } else {
    // The first throttle (a burst allowance inflates everything seen before
    // it), a gap too short to count, or we were mostly idle: a classic
    // multiplicative decrease, then additive increase until the next throttle
    // gives a measurement.
    learned = rateAtThrottle * tuning.decreaseFactor;
  }
  learned = Math.max(learned, tuning.minPerSecond);
  const paused = retryAfterMs === undefined ? Math.max(pausedUntil, now + tuning.throttlePauseMs) : pausedUntil;
  return {
    ...state,
    learnedPerSecond: learned,
    ratePerSecond: clamp(measured !== null ? learned * (1 - tuning.headroom) : learned, tuning.minPerSecond, maxPerSecond),
    phase: measured !== null ? 'hold' : 'discovery',
    phaseSince: now,
    intervalStart: now,
    successesAtIntervalStart: successes,
    throttles: [...state.throttles, { at: now, successes }].slice(-keptThrottlePoints),
    probeStep: tuning.probeStep,
    nextProbeAt: now + tuning.probeIntervalMs,
    pausedUntil: paused,
  };
}

/**
 * Successes per second since the most recent earlier throttle that leaves
 * enough to count. The CRM had no capacity left at either end, so what got
 * through in between is what it refilled: its limit, or a little less when
 * it sat full while we were slower than it.
 */
function measureLimit(points: ThrottlePoint[], context: AdaptiveContext, wasBacklogged: ThrottleReport['wasBacklogged']): number | null {
  const { now, successes, tuning } = context;
  for (let index = points.length - 1; index >= 0; index -= 1) {
    const point = points[index]!;
    const elapsedMs = now - point.at;
    const counted = successes - point.successes;
    if (elapsedMs < tuning.minEstimateIntervalMs || counted < tuning.minEstimateSuccesses) continue;
    if (wasBacklogged && !wasBacklogged(point.at)) return null;
    return (counted * 1000) / elapsedMs;
  }
  return null;
}

/**
 * Called at least once per increase interval. `backlogged`: requests were
 * waiting for their turn. Returns the same object when nothing changes.
 */
export function onTick(state: AdaptiveState, context: AdaptiveContext, backlogged: boolean): AdaptiveState {
  const { now, successes, maxPerSecond, tuning } = context;
  const elapsedMs = now - state.intervalStart;
  if (!backlogged || elapsedMs < tuning.increaseIntervalMs || now < state.pausedUntil) return state;
  // The CRM's headers are holding us back: it knows better than any probe.
  if (state.headerCap && state.headerCap.until > now && state.headerCap.perSecond < state.ratePerSecond) return state;
  if (state.ratePerSecond >= maxPerSecond) return state;

  const stepped = { ...state, intervalStart: now, successesAtIntervalStart: successes };
  // Only a rate that is used may rise. Requests can wait for something else
  // (a concurrency cap, a slow or failing CRM, jobs that gave up waiting):
  // raising the rate then proves nothing and would run away unchecked.
  const usedPerSecond = ((successes - state.successesAtIntervalStart) * 1000) / elapsedMs;
  if (usedPerSecond < allowedRate(state, now, maxPerSecond) * usedShareToRise) return stepped;

  const learned = state.learnedPerSecond;
  if (state.phase === 'discovery' || learned === null) {
    const rate = learned === null ? state.ratePerSecond * tuning.discoveryFactor : state.ratePerSecond + learned * tuning.additiveStep;
    return { ...stepped, ratePerSecond: Math.min(maxPerSecond, rate) };
  }

  if (state.phase === 'probe') {
    if (now - state.phaseSince < tuning.probeHoldMs) return stepped;
    // The probe held: the limit is at least this high. Keep climbing, in
    // growing steps so a much raised limit is reached in a few probes.
    const probeStep = state.probeStep * 1.5;
    return {
      ...stepped,
      learnedPerSecond: state.ratePerSecond,
      ratePerSecond: Math.min(maxPerSecond, state.ratePerSecond * (1 + probeStep)),
      phaseSince: now,
      probeStep,
    };
  }

  const target = learned * (1 - tuning.headroom);
  if (state.ratePerSecond < target) {
    // Back to just under the learned limit quickly but not in one jump: a
    // limit that dropped shows itself on the way up.
    const rate = Math.min(target, state.ratePerSecond + Math.max(learned * 0.02, (target - state.ratePerSecond) * 0.3));
    return { ...stepped, ratePerSecond: Math.min(maxPerSecond, rate) };
  }
  if (now >= state.nextProbeAt) {
    return { ...stepped, phase: 'probe', phaseSince: now, ratePerSecond: Math.min(maxPerSecond, learned * (1 + state.probeStep)) };
  }
  return state;
}

export interface HeaderReading {
  remaining?: number | undefined;
  resetMs?: number | undefined;
}

/**
 * The CRM announced what is left of its window. Spends the rest evenly until
 * the reset, and pauses until the reset when nothing is left. Returns the same
 * object when the reading changes nothing worth sharing.
 */
export function onRateLimitHeaders(state: AdaptiveState, reading: HeaderReading, now: number): AdaptiveState {
  const { remaining, resetMs } = reading;
  if (remaining === undefined || resetMs === undefined || !Number.isFinite(remaining) || !Number.isFinite(resetMs) || resetMs <= 0) {
    return state;
  }
  const until = now + resetMs;
  if (remaining <= 0) {
    return until > state.pausedUntil ? { ...state, pausedUntil: until, headerCap: null } : state;
  }
  const perSecond = (remaining * 1000) / resetMs;
  const current = state.headerCap && state.headerCap.until > now ? state.headerCap : null;
  if (perSecond >= state.ratePerSecond) return current ? { ...state, headerCap: null } : state;
  // Small changes are not worth a shared write per response.
  if (current && Math.abs(current.perSecond - perSecond) <= current.perSecond * 0.1 && Math.abs(current.until - until) <= resetMs * 0.1) {
    return state;
  }
  return { ...state, headerCap: { perSecond, until } };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}
