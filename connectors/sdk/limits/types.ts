// The contract of a connector instance's request limiter. Connectors never see
// it directly: the SDK's HTTP and SQL clients run every request through it.
import type { AdaptivePhase, AdaptiveTuning } from './adaptive.js';

export type { AdaptivePhase, AdaptiveTuning };

export interface DeclaredLimits {
  /** At most `count` requests per fixed window of `windowMs` (a reservoir refilled each window). */
  requests?: { count: number; windowMs: number } | undefined;
  /**
   * A bucket on top of `requests` (token / leaky bucket, e.g. Bitrix24: 2 per second,
   * 50 at once): up to `burst` requests may go back to back, and the bucket refills
   * at `requests.count` per `requests.windowMs`. Without it, `requests` is paced evenly.
   */
  burst?: number | undefined;
  /** Requests in flight at once. */
  concurrency?: number | undefined;
  /** Requests per calendar day (UTC). */
  dailyQuota?: number | undefined;
}

export interface LimiterOptions {
  /** Stable id of the connector instance; limiters with the same key share limits (through Redis when given). */
  key: string;
  limits: DeclaredLimits;
  /**
   * Learn an undocumented limit: back off on throttling, probe upward again
   * while requests succeed (AIMD). On by default; with declared limits the
   * learned rate never exceeds the declared one.
   */
  adaptive?: boolean;
  /** ioredis-compatible URL; limits are then shared by every process using the same key. */
  redisUrl?: string | undefined;
  /** Longest a job may wait for its turn before it fails as throttled (no job waits forever). */
  maxWaitMs?: number;
  /**
   * Longest a started job may hold its slot in the shared (Redis) limits. A
   * process that dies mid-request frees its slots after this. Default 130 s
   * (a little above the longest HTTP timeout a provider may set).
   */
  jobTimeoutMs?: number | undefined;
  /** Fine-tuning of the adaptive limiting (the defaults are meant for production). */
  tuning?: Partial<AdaptiveTuning> | undefined;
  /** Where degraded modes (Redis unreachable, shared state lost) are reported. Default: a pino logger at `warn`. */
  logger?: LimiterLogger | undefined;
}

/** The subset of a pino logger the limiter writes to. */
export interface LimiterLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface ThrottleSignal {
  /** Exact wait the CRM asked for (Retry-After), when it did. */
  retryAfterMs?: number | undefined;
}

export interface RateLimitHeaders {
  limit?: number | undefined;
  remaining?: number | undefined;
  resetMs?: number | undefined;
}

export interface LimiterSnapshot {
  /** Requests per second the limiter currently allows (learned or declared). */
  allowedPerSecond: number;
  throttledResponses: number;
  succeeded: number;
  queued: number;
  /** Whether limits are shared through Redis right now (false while degraded to local). */
  shared: boolean;
  /** The CRM's limit as learned so far (requests per second); null until the CRM first throttled. */
  learnedPerSecond?: number | null | undefined;
  /** What the adaptive limiting is doing: discovering the limit, holding under it, or probing above it. */
  phase?: AdaptivePhase | undefined;
  /** Epoch ms before which no request starts (Retry-After, exhausted window); 0 when not paused. */
  pausedUntil?: number | undefined;
  /** Requests counted against today's quota (UTC), when a daily quota is declared. */
  dailyUsed?: number | undefined;
  /** Processes sharing this key (last seen through Redis); 1 when not shared. */
  peers?: number | undefined;
}

export interface RequestLimiter {
  /**
   * Runs `job` when the limits allow it. Rejects with CrmError('throttled') after `maxWaitMs` in the queue.
   * `weight`: how many requests the job counts as (reservoir, concurrency, daily quota; default 1).
   * `priority`: 0 (first) to 9 (last), default 5.
   */
  schedule<T>(job: () => Promise<T>, options?: { weight?: number; priority?: number }): Promise<T>;
  /** The CRM answered "too many requests". Pauses everyone sharing the key for `retryAfterMs` exactly when given. */
  onThrottled(signal: ThrottleSignal): void;
  /** The CRM announced its window; used to stay under it before it says no. */
  onRateLimitHeaders(headers: RateLimitHeaders): void;
  onSuccess(): void;
  snapshot(): LimiterSnapshot;
  close(): Promise<void>;
}
