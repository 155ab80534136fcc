// A connector instance's request limiter: declared limits (pacing, reservoir,
// concurrency, daily quota), an adaptive rate for what the CRM does not
// document, and Retry-After honoured exactly - shared by every process
// through Redis when `redisUrl` is given, and still limiting when Redis is not.
//
// How a job flows: schedule() puts it in our queue; a couple at a time are
// handed to the pacer (bottleneck, local or shared), which starts each when
// pacing, concurrency and reservoir allow. At that moment the job runs unless
// a pause began meanwhile (then it goes back to the head of the queue without
// sending anything). Keeping the queue here, not in bottleneck, is what lets
// a job time out, fail fast on a spent quota, or move to a rebuilt pacer.
//
// Modes (pacer-supervisor.ts): `shared` (bottleneck on Redis), `local` (no
// Redis configured, or Redis lost: each process then takes 1/peers of the
// limits), `connecting` (at start, up to 2 s, jobs wait for Redis).
import { AsyncLocalStorage } from 'node:async_hooks';
import { createLogger } from '../../../core/logger.js';
import { CrmError } from '../errors.js';
import {
  allowedRate,
  defaultAdaptiveTuning,
  initialAdaptiveState,
  onRateLimitHeaders,
  onThrottle,
  onTick,
  type AdaptiveContext,
  type AdaptiveTuning,
} from './adaptive.js';
import { BacklogTracker } from './backlog.js';
import { DailyQuota } from './daily-quota.js';
import { normalizePriority, TicketQueue, type Ticket } from './job-queue.js';
import { SlotExpiredError, type Pacer, type PacerSettings } from './pacer.js';
import { PacerSupervisor } from './pacer-supervisor.js';
import { limiterRedisOptions, RedisLink } from './redis-link.js';
import { LocalControllerStore, RedisControllerStore, type ControllerStore } from './shared-state.js';
import type {
  DeclaredLimits,
  LimiterLogger,
  LimiterOptions,
  LimiterSnapshot,
  RateLimitHeaders,
  RequestLimiter,
  ThrottleSignal,
} from './types.js';

/**
 * Declared limits are paced this much under the declaration: a CRM counting
 * with a sliding window or a token bucket, and a little timer jitter, must
 * never see one request too many.
 */
const declaredHeadroom = 0.02;
/** "No rate limit" in a state that travels as JSON (where Infinity does not). */
const unlimitedPerSecond = 1e9;
/**
 * Jobs the pacer holds at once; the rest wait in our queue. A job that gives
 * up while the pacer holds it still takes its pacer slot (bottleneck cannot
 * cancel a job), so this also bounds what jobs giving up en masse can waste.
 */
const handoffLimit = 2;
const tickMs = 250;
const defaultMaxWaitMs = 60_000;
const defaultJobTimeoutMs = 130_000;

/** Which limiter started the request running in this async context, and when. */
const requestContext = new AsyncLocalStorage<{ limiter: RequestLimiter; startedAt: number }>();

export function createRequestLimiter(options: LimiterOptions): RequestLimiter {
  return new AdaptiveRequestLimiter(options);
}

class AdaptiveRequestLimiter implements RequestLimiter {
  private readonly key: string;
  private readonly limits: DeclaredLimits;
  private readonly adaptive: boolean;
  private readonly tuning: AdaptiveTuning;
  private readonly maxWaitMs: number;
  private readonly jobTimeoutMs: number;
  private readonly logger: LimiterLogger;
  private readonly logContext: { limiter: string };
  /** Highest rate the declaration allows (Infinity when none is declared). */
  private readonly declaredPerSecond: number;

  private readonly link: RedisLink | null;
  private readonly store: ControllerStore;
  private readonly quota: DailyQuota | null;
  private readonly queue = new TicketQueue();
  /** Tickets the current pacer holds a job for: not started yet, or given up while waiting there. */
  private readonly inPacer = new Set<Ticket>();
  private readonly backlog = new BacklogTracker();

  private readonly supervisor: PacerSupervisor;
  private appliedMinTimeMs = -1;
  /** Pacers built so far: only the first starts with a full bucket (see pacerSettings). */
  private pacersBuilt = 0;
  /** Start times of this process's latest requests (one per unit of weight), oldest first, for the window guard. */
  private readonly recentStarts: number[] = [];
  /** Pause known to this process before the shared state confirms it. */
  private localPausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  private readonly tickTimer: NodeJS.Timeout;
  private closed = false;
  private throttledResponses = 0;
  private succeeded = 0;

  constructor(options: LimiterOptions) {
    validateOptions(options);
    this.key = options.key;
    this.limits = options.limits;
    this.adaptive = options.adaptive ?? true;
    this.tuning = { ...defaultAdaptiveTuning, ...options.tuning };
    this.maxWaitMs = options.maxWaitMs ?? defaultMaxWaitMs;
    this.jobTimeoutMs = options.jobTimeoutMs ?? defaultJobTimeoutMs;
    this.logger = options.logger ?? createLogger('request-limiter', 'warn');
    this.logContext = { limiter: this.key };
    const { requests } = this.limits;
    this.declaredPerSecond = requests ? ((requests.count * 1000) / requests.windowMs) * (1 - declaredHeadroom) : Infinity;

    const initialRate = !this.adaptive
      ? Math.min(this.declaredPerSecond, unlimitedPerSecond)
      : Number.isFinite(this.declaredPerSecond)
        ? this.declaredPerSecond
        : this.tuning.initialPerSecond;
    const initial = initialAdaptiveState(this.adaptiveContext(Date.now()), initialRate);
    const keyPrefix = `limits:${this.key}`;

    this.link = options.redisUrl ? new RedisLink(options.redisUrl, limiterRedisOptions(this.key), this.logger, this.logContext) : null;
    this.quota = this.limits.dailyQuota ? new DailyQuota(this.limits.dailyQuota, this.link, keyPrefix, this.logger, this.logContext) : null;
    this.store = this.link ? new RedisControllerStore(this.link, keyPrefix, initial, this.logger, this.logContext) : new LocalControllerStore(initial);
    // After any reconnect: write back what changed locally, read what others did.
    this.link?.onReady(() => void this.store.resync());
    this.supervisor = new PacerSupervisor({
      key: this.key,
      limits: this.limits,
      link: this.link,
      jobTimeoutMs: this.jobTimeoutMs,
      logger: this.logger,
      logContext: this.logContext,
      settingsFor: (mode) => this.pacerSettings(mode, this.pacersBuilt++ === 0),
      resyncSharedState: () => this.store.resync(),
      peers: () => this.store.peers(),
      onSwitch: () => this.takeBackUnstarted(),
    });
    this.supervisor.start();
    this.store.onChange(() => this.applyState());
    this.tickTimer = setInterval(() => this.tick(), tickMs);
    this.tickTimer.unref();
  }

  schedule<T>(job: () => Promise<T>, options: { weight?: number; priority?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new CrmError('unavailable', `rate limiter for ${this.key} is closed`));
    const weight = options.weight ?? 1;
    const invalid = this.invalidWeight(weight);
    if (invalid) return Promise.reject(new RangeError(invalid));
    const now = Date.now();
    const exhaustedFor = this.quota?.exhaustedFor(now) ?? null;
    if (exhaustedFor !== null) return Promise.reject(this.quotaSpent(exhaustedFor));

    return new Promise<T>((resolve, reject) => {
      const ticket: Ticket = {
        weight,
        priority: normalizePriority(options.priority),
        enqueuedAt: now,
        state: 'queued',
        generation: -1,
        quotaReserved: 0,
        expiry: undefined,
        extended: false,
        execute: async () => {
          try {
            resolve(await job());
          } catch (error) {
            // The job's own error, unchanged: classifying it is the caller's business.
            reject(error);
          }
        },
        fail: reject,
      };
      ticket.expiry = setTimeout(() => this.giveUp(ticket), this.maxWaitMs);
      this.queue.push(ticket);
      this.noteBacklog();
      this.pump();
    });
  }

  onThrottled(signal: ThrottleSignal): void {
    if (this.closed) return;
    this.throttledResponses += 1;
    const now = Date.now();
    const retryAfterMs = validDuration(signal.retryAfterMs);
    // Effective in this process at once; the shared state follows.
    this.localPausedUntil = Math.max(this.localPausedUntil, now + (retryAfterMs ?? this.tuning.throttlePauseMs));
    const context = requestContext.getStore();
    const sentAt = context?.limiter === this ? context.startedAt : undefined;
    void this.store.update(
      (state, successes) => {
        const adaptiveContext = this.adaptiveContext(Date.now(), successes);
        if (!this.adaptive) {
          const pausedUntil = adaptiveContext.now + (retryAfterMs ?? this.tuning.throttlePauseMs);
          return pausedUntil > state.pausedUntil ? { ...state, pausedUntil } : state;
        }
        return onThrottle(state, adaptiveContext, {
          retryAfterMs,
          sentAt,
          wasBacklogged: (from) => this.backlog.busyShare(from, adaptiveContext.now) >= 0.7,
        });
      },
      { freshSuccesses: true },
    );
    this.applyState();
  }

  onRateLimitHeaders(headers: RateLimitHeaders): void {
    if (this.closed || headers.remaining === undefined || headers.resetMs === undefined) return;
    const now = Date.now();
    const resetMs = validDuration(headers.resetMs);
    if (resetMs === undefined) return;
    if (headers.remaining <= 0) this.localPausedUntil = Math.max(this.localPausedUntil, now + resetMs);
    void this.store.update((state) => onRateLimitHeaders(state, { remaining: headers.remaining, resetMs }, Date.now()));
    this.applyState();
  }

  onSuccess(): void {
    if (this.closed) return;
    this.succeeded += 1;
    this.store.countSuccess();
  }

  snapshot(): LimiterSnapshot {
    const now = Date.now();
    const state = this.store.state;
    const pausedUntil = this.pausedUntil();
    return {
      allowedPerSecond: this.allowedPerSecond(now),
      throttledResponses: this.throttledResponses,
      succeeded: this.succeeded,
      queued: this.waitingCount(),
      shared: this.supervisor.mode === 'shared',
      learnedPerSecond: state.learnedPerSecond,
      phase: state.phase,
      pausedUntil: pausedUntil > now ? pausedUntil : 0,
      ...(this.quota ? { dailyUsed: this.quota.usedToday(now) } : {}),
      peers: this.store.peers(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.tickTimer, this.resumeTimer]) if (timer) clearTimeout(timer);
    const waiting = [...[...this.inPacer].filter((ticket) => ticket.state === 'handed'), ...this.queue.drain()];
    this.inPacer.clear();
    for (const ticket of waiting) this.settleUnsent(ticket, new CrmError('unavailable', `rate limiter for ${this.key} closed before the request was sent`));
    try {
      await this.supervisor.close();
      await this.store.close();
    } finally {
      await this.link?.close();
    }
  }

  // --- the queue -----------------------------------------------------------

  private pump(): void {
    const pacer = this.supervisor.pacer;
    if (this.closed || !pacer) return;
    const now = Date.now();
    const pausedUntil = this.pausedUntil();
    if (pausedUntil > now) {
      if (this.queue.size > 0) this.armResume(pausedUntil - now);
      return;
    }
    while (this.inPacer.size < handoffLimit) {
      const ticket = this.queue.shift();
      if (!ticket) break;
      this.handOff(ticket, pacer, this.supervisor.generation);
    }
  }

  private handOff(ticket: Ticket, pacer: Pacer, generation: number): void {
    ticket.state = 'handed';
    ticket.generation = generation;
    this.inPacer.add(ticket);
    this.reserveQuota(ticket).then(
      (reserved) => {
        if (!reserved || !this.ownsHandedTicket(ticket, generation)) {
          this.releaseFromPacer(ticket, generation);
          return;
        }
        pacer.run(ticket.weight, () => this.start(ticket, generation)).catch((error: unknown) => this.onRunRejected(ticket, generation, pacer, error));
      },
      (error: unknown) => {
        // Counting the quota failed in a way DailyQuota does not handle (a bug):
        // the caller gets the error rather than a job that never runs.
        if (ticket.state === 'handed') this.settleUnsent(ticket, new CrmError('unavailable', `rate limiter for ${this.key} failed: ${String(error)}`, { cause: error }));
        this.releaseFromPacer(ticket, generation);
      },
    );
  }

  /** Bottleneck's turn for the ticket: run it, unless it moved on or a pause began. */
  private async start(ticket: Ticket, generation: number): Promise<void> {
    // Moved to another pacer, or settled meanwhile: its slot passes unused.
    if (!this.ownsHandedTicket(ticket, generation)) {
      this.releaseFromPacer(ticket, generation);
      return;
    }
    // Bottleneck spaces the *planned* starts; a timer that fired late lets
    // the next start follow closer, and a CRM counting a strict sliding
    // window could see one request too many. So a start also waits until this
    // process's last `count` starts fit in one window. Checked again after
    // each wait: the other ticket handed out may have started meanwhile.
    for (let early = this.windowGuardWait(ticket.weight); early > 0; early = this.windowGuardWait(ticket.weight)) {
      await delay(early);
      if (!this.ownsHandedTicket(ticket, generation)) {
        this.releaseFromPacer(ticket, generation);
        return;
      }
    }
    const now = Date.now();
    this.inPacer.delete(ticket);
    if (this.pausedUntil() > now) {
      // Nothing is sent during a pause: back to the head of the line.
      this.queue.pushFront(ticket);
      this.pump();
      return;
    }
    ticket.state = 'started';
    this.recordStart(ticket.weight, now);
    clearTimeout(ticket.expiry);
    this.noteBacklog();
    this.pump();
    await requestContext.run({ limiter: this, startedAt: now }, () => ticket.execute());
    ticket.state = 'settled';
  }

  private onRunRejected(ticket: Ticket, generation: number, pacer: Pacer, error: unknown): void {
    if (error instanceof SlotExpiredError) {
      this.logger.warn({ ...this.logContext, jobTimeoutMs: this.jobTimeoutMs }, 'a request held its shared rate-limit slot longer than jobTimeoutMs; slot released while it runs');
    } else if (this.ownsHandedTicket(ticket, generation)) {
      // The pacer dropped it without running it: it goes back in line, and a
      // pacer that drops jobs is replaced.
      this.inPacer.delete(ticket);
      this.queue.pushFront(ticket);
      this.supervisor.reportError(pacer, error);
      this.pump();
    } else {
      // The ticket gave up meanwhile, or the pacer was replaced (its jobs were
      // taken back): a replaced pacer dropping its jobs is how it ends.
      this.releaseFromPacer(ticket, generation);
    }
  }

  /** The current pacer no longer holds a job for the ticket: its slot is free for the next one. */
  private releaseFromPacer(ticket: Ticket, generation: number): void {
    if (generation === this.supervisor.generation && this.inPacer.delete(ticket)) this.pump();
  }

  /** Jobs not started yet: in our queue, or held by the pacer. */
  private waitingCount(): number {
    let held = 0;
    for (const ticket of this.inPacer) if (ticket.state === 'handed') held += 1;
    return this.queue.size + held;
  }

  private ownsHandedTicket(ticket: Ticket, generation: number): boolean {
    return ticket.state === 'handed' && ticket.generation === generation && generation === this.supervisor.generation;
  }

  /** The ticket waited maxWaitMs without starting. */
  private giveUp(ticket: Ticket): void {
    if (ticket.state !== 'queued' && ticket.state !== 'handed') return;
    if (ticket.state === 'handed' && !ticket.extended) {
      // Under overload the head of a FIFO queue is always about to expire:
      // giving up on what the pacer already holds would waste every pacer
      // slot on a job nobody waits for, and nothing would get through. The
      // pacer gets to it within a few slots; only a pacer that does not
      // (a stuck one) makes it give up after all.
      ticket.extended = true;
      ticket.expiry = setTimeout(() => this.giveUp(ticket), Math.max(2_000, 4 * this.appliedMinTimeMs));
      return;
    }
    // Held by the pacer: it keeps the slot until the pacer gets to it (see handoffLimit).
    this.queue.forget(ticket);
    const pausedFor = this.pausedUntil() - Date.now();
    const rate = this.allowedPerSecond(Date.now());
    const retryAfterMs = Math.max(pausedFor, Number.isFinite(rate) ? Math.ceil(((this.queue.size + 1) * 1000) / rate) : 0, 1000);
    this.settleUnsent(ticket, new CrmError('throttled', `request waited ${this.maxWaitMs} ms for its turn under the rate limits of ${this.key}`, { retryAfterMs }));
    this.pump();
  }

  private settleUnsent(ticket: Ticket, error: CrmError): void {
    clearTimeout(ticket.expiry);
    ticket.state = 'settled';
    if (ticket.quotaReserved > 0 && this.quota) {
      const units = ticket.quotaReserved;
      ticket.quotaReserved = 0;
      void this.quota.release(units, Date.now());
    }
    ticket.fail(error);
    this.noteBacklog();
  }

  private async reserveQuota(ticket: Ticket): Promise<boolean> {
    if (!this.quota || ticket.quotaReserved > 0) return true;
    const reserved = await this.quota.reserve(ticket.weight, Date.now());
    if (reserved) {
      ticket.quotaReserved = ticket.weight;
      if (ticket.state === 'settled') void this.quota.release(ticket.weight, Date.now());
      return true;
    }
    // Spent for today: this job and everything behind it fail now, not at midnight.
    const error = this.quotaSpent(this.quota.exhaustedFor(Date.now()) ?? 0);
    if (ticket.state === 'handed') this.settleUnsent(ticket, error);
    for (const waiting of this.queue.drain()) this.settleUnsent(waiting, error);
    return false;
  }

  private quotaSpent(retryAfterMs: number): CrmError {
    return new CrmError('throttled', `daily quota of ${this.limits.dailyQuota} requests for ${this.key} is spent until midnight UTC`, {
      retryAfterMs,
      code: 'DAILY_QUOTA',
    });
  }

  private noteBacklog(): void {
    this.backlog.update(this.waitingCount(), Date.now());
  }

  // --- rate and pause ------------------------------------------------------

  /** How long a start of `weight` must wait for the declared window (this process's share of it) to have room. */
  private windowGuardWait(weight: number): number {
    // A bucket is the pacer's reservoir, refilled a request at a time: nothing to guard.
    if (this.bucketSize() !== null) return 0;
    const window = this.pacerWindow();
    if (!window) return 0;
    const index = this.recentStarts.length - (window.count - weight) - 1;
    if (index < 0) return 0;
    // +1: a CRM counting the window inclusively must not see count + 1 either.
    return this.recentStarts[index]! + window.windowMs + 1 - Date.now();
  }

  private recordStart(weight: number, now: number): void {
    const window = this.pacerWindow();
    if (!window) return;
    for (let unit = 0; unit < weight; unit += 1) this.recentStarts.push(now);
    // Kept for the declared window, not only the one enforced now: a local share (Redis lost) is
    // smaller, and the shared window that follows must still see the starts made under it.
    const keep = Math.max(window.count, this.limits.requests?.count ?? 0);
    if (this.recentStarts.length > keep) this.recentStarts.splice(0, this.recentStarts.length - keep);
  }

  /** The window this process enforces: the declared one, or its share of it while limiting locally without Redis. */
  private pacerWindow(): { count: number; windowMs: number } | null {
    return this.pacerSettings(this.supervisor.mode === 'local' ? 'local' : 'shared').window;
  }

  private pausedUntil(): number {
    return Math.max(this.localPausedUntil, this.store.state.pausedUntil);
  }

  private armResume(delayMs: number): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    // pump() checks the clock again: a timer may fire a millisecond early.
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.pump();
    }, delayMs + 1);
    // Waiting jobs keep the process alive through their own maxWait timers.
    this.resumeTimer.unref();
  }

  /** Requests per second this process's pacer allows right now. */
  private allowedPerSecond(now: number): number {
    const rate = allowedRate(this.store.state, now, this.declaredPerSecond);
    if (rate >= unlimitedPerSecond) return Infinity;
    // Local: this process's share. Just back to shared: the others may still
    // be limiting locally (they notice Redis is back up to a few seconds
    // later), so the shared pacer keeps to one share until they are all back.
    const { mode, sharedGraceUntil } = this.supervisor;
    return mode === 'local' || now < sharedGraceUntil ? rate / this.localShareDivisor() : rate;
  }

  /** Processes were sharing the limits through Redis: each takes its share while Redis is away. */
  private localShareDivisor(): number {
    return this.link ? this.store.peers() : 1;
  }

  private applyState(): void {
    if (this.closed) return;
    const minTimeMs = this.minTimeMs(this.allowedPerSecond(Date.now()));
    const pacer = this.supervisor.pacer;
    if (pacer && Math.abs(minTimeMs - this.appliedMinTimeMs) > Math.max(0.01, this.appliedMinTimeMs * 0.005)) {
      this.appliedMinTimeMs = minTimeMs;
      pacer.setMinTime(minTimeMs).catch((error: unknown) => this.supervisor.reportError(pacer, error));
    }
    this.pump();
  }

  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.adaptive) {
      const busy = this.backlog.busyShare(now - this.tuning.increaseIntervalMs, now) >= 0.5;
      void this.store.update((state, successes) => onTick(state, this.adaptiveContext(Date.now(), successes), busy));
    }
    // Header caps expire with time, not with an event.
    this.applyState();
  }

  private adaptiveContext(now: number, successes = 0): AdaptiveContext {
    return { now, successes, maxPerSecond: this.declaredPerSecond, tuning: this.tuning };
  }

  // --- pacers ---------------------------------------------------------------

  /**
   * Local: this process's share of the declared limits (all of them without
   * Redis). Shared: the full limits, held once in Redis for every process.
   */
  private pacerSettings(mode: 'local' | 'shared', first = false): PacerSettings {
    const share = mode === 'local' ? this.localShareDivisor() : 1;
    const { requests, concurrency } = this.limits;
    const bucketSize = this.bucketSize();
    const common = { minTimeMs: this.minTimeMs(this.allowedPerSecond(Date.now())), maxConcurrent: concurrency ? Math.max(1, Math.floor(concurrency / share)) : null };
    if (requests && bucketSize !== null) {
      // Refilled a request at a time: refilled a window's worth at once, at a phase of
      // its own, the bucket could run up to a window ahead of a CRM's draining one.
      // A pacer that replaces another (Redis lost or back) starts empty: the bucket it
      // replaces may have just been spent.
      const size = Math.max(1, Math.floor(bucketSize / share));
      // Refilled 2% under the declared rate, as the rate is paced: a refill exactly at the CRM's
      // drain keeps the bucket level with the CRM's, and the timing jitter of a busy machine
      // then tips a request over now and then (the declared bench saw 2 in 11 minutes).
      const perRequestMs = Math.ceil((requests.windowMs * share) / (requests.count * (1 - declaredHeadroom)));
      return { ...common, window: { count: 1, windowMs: perRequestMs }, bucket: { size, initial: first ? size : 0 } };
    }
    return {
      ...common,
      window: requests ? { count: Math.max(1, Math.floor(requests.count / share)), windowMs: requests.windowMs } : null,
      bucket: null,
    };
  }

  /**
   * The declared bucket, a request under the declaration: refilled a request at a
   * time, it may still be up to one request ahead of the CRM's. Never below one window.
   */
  private bucketSize(): number | null {
    const { requests, burst } = this.limits;
    if (!requests || burst === undefined) return null;
    return Math.max(requests.count, Math.floor(burst * (1 - declaredHeadroom)));
  }

  /**
   * Least time between starts. With a declared bucket at the declared rate the
   * bucket alone paces (its burst would be lost to even spacing); below it, the
   * learned rate is paced as usual and the bucket still caps the bursts.
   */
  private minTimeMs(rate: number): number {
    if (!Number.isFinite(rate)) return 0;
    if (this.bucketSize() !== null && rate >= this.declaredPerSecond) return 0;
    return 1000 / rate;
  }

  /** A new pacer: jobs the previous one had not started come back to the head of the line, in their order. */
  private takeBackUnstarted(): void {
    this.appliedMinTimeMs = -1;
    const unstarted = [...this.inPacer].filter((ticket) => ticket.state === 'handed').reverse();
    this.inPacer.clear();
    for (const ticket of unstarted) this.queue.pushFront(ticket);
    this.applyState();
  }

  private invalidWeight(weight: number): string | null {
    const { requests, concurrency, dailyQuota } = this.limits;
    if (!Number.isInteger(weight) || weight < 1) return `weight must be a positive integer, got ${weight}`;
    if (concurrency !== undefined && weight > concurrency) return `weight ${weight} exceeds the concurrency limit of ${concurrency}`;
    const most = this.bucketSize() ?? requests?.count;
    if (most !== undefined && weight > most) return `weight ${weight} exceeds the ${most} requests allowed at once`;
    if (dailyQuota !== undefined && weight > dailyQuota) return `weight ${weight} exceeds the daily quota of ${dailyQuota}`;
    return null;
  }
}

function validateOptions(options: LimiterOptions): void {
  const { key, limits } = options;
  const positiveInteger = (value: number | undefined, name: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new RangeError(`limits.${name} must be a positive integer, got ${value}`);
  };
  if (!key) throw new RangeError('limiter key must not be empty');
  positiveInteger(limits.requests?.count, 'requests.count');
  positiveInteger(limits.requests?.windowMs, 'requests.windowMs');
  positiveInteger(limits.concurrency, 'concurrency');
  positiveInteger(limits.dailyQuota, 'dailyQuota');
  positiveInteger(limits.burst, 'burst');
  if (limits.burst !== undefined && !limits.requests) throw new RangeError('limits.burst needs limits.requests (the rate that refills the bucket)');
  if (limits.burst !== undefined && limits.requests && limits.burst < limits.requests.count) {
    throw new RangeError(`limits.burst (${limits.burst}) must be at least limits.requests.count (${limits.requests.count})`);
  }
  if (options.maxWaitMs !== undefined && !(options.maxWaitMs > 0)) throw new RangeError(`maxWaitMs must be positive, got ${options.maxWaitMs}`);
  if (options.jobTimeoutMs !== undefined && !(options.jobTimeoutMs > 0)) throw new RangeError(`jobTimeoutMs must be positive, got ${options.jobTimeoutMs}`);
}

function validDuration(ms: number | undefined): number | undefined {
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
