// Which pacer a limiter uses, and the way between them: shared through Redis
// when it works, local when it does not, shared again as soon as Redis allows.
//
// - connecting: at start, up to `connectTimeoutMs`; no pacer yet, jobs wait.
// - shared: bottleneck on Redis. Any error from it (state lost to FLUSHALL or
//   a restart, an unknown client, a dropped connection, a timeout) means it
//   can no longer be trusted to run or even reject queued jobs: it is
//   replaced by a local pacer at once, and a fresh shared one is built in the
//   background (backing off when it keeps breaking).
// - local: no Redis configured, or Redis lost. The owner then limits to this
//   process's share of the limits (1 / peers last seen).
// Every switch bumps `generation`: jobs handed to an older pacer are taken
// back by the owner and never run by it.
import { createHash } from 'node:crypto';
import { createLocalPacer, createSharedPacer, type Pacer, type PacerSettings } from './pacer.js';
import { describeRedisError, type RedisLink } from './redis-link.js';
import type { DeclaredLimits, LimiterLogger } from './types.js';

export type SharingMode = 'connecting' | 'local' | 'shared';

const connectTimeoutMs = 2_000;
/** Longest the other processes may take to notice Redis is back (ioredis reconnects every 2 s at most) and switch to shared. */
const restoreGraceMs = 3_000;
const maxRestoreDelayMs = 30_000;

export interface PacerSupervisorOptions {
  key: string;
  limits: DeclaredLimits;
  link: RedisLink | null;
  jobTimeoutMs: number;
  logger: LimiterLogger;
  logContext: object;
  /** Pacer settings for the mode about to be used. */
  settingsFor(mode: 'local' | 'shared'): PacerSettings;
  /** Brings the shared adaptive state up to date before the shared pacer is used. */
  resyncSharedState(): Promise<void>;
  peers(): number;
  /** The pacer changed: take back the jobs the old one had not started, apply the current rate. */
  onSwitch(): void;
}

export class PacerSupervisor {
  mode: SharingMode;
  pacer: Pacer | null = null;
  generation = 0;
  /** Until then, just back to shared, the owner keeps to its local share (see restoreGraceMs). */
  sharedGraceUntil = 0;
  private connectTimer: NodeJS.Timeout | null = null;
  private restoreTimer: NodeJS.Timeout | null = null;
  private restoring = false;
  private restoreDelayMs = 250;
  private sharedSince = 0;
  private closed = false;

  constructor(private readonly options: PacerSupervisorOptions) {
    this.mode = options.link ? 'connecting' : 'local';
  }

  /** Separate from the constructor: the owner's onSwitch may only run once the owner holds this supervisor. */
  start(): void {
    const { link } = this.options;
    if (link) {
      link.onReady(() => this.restoreShared());
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        if (this.mode === 'connecting') this.degrade(`Redis at ${redactUrl(link.url)} not reachable within ${connectTimeoutMs} ms`);
      }, connectTimeoutMs);
    } else {
      this.switchTo(this.newLocalPacer());
    }
  }

  /** An error from `pacer` (bottleneck or its Redis connection). */
  reportError(pacer: Pacer, error: unknown): void {
    if (this.closed || pacer !== this.pacer) return;
    if (!pacer.shared) {
      // A local pacer has no Redis to lose; an error there is a bug worth seeing.
      this.options.logger.warn({ ...this.options.logContext, error: describeRedisError(error) }, 'local rate limiter reported an error');
      return;
    }
    this.degrade(describeRedisError(error));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of [this.connectTimer, this.restoreTimer]) if (timer) clearTimeout(timer);
    const pacer = this.pacer;
    this.pacer = null;
    await pacer?.close();
  }

  private switchTo(next: Pacer): void {
    const previous = this.pacer;
    this.pacer = next;
    this.generation += 1;
    if (previous) {
      previous.close().catch((error: unknown) => {
        this.options.logger.info({ ...this.options.logContext, error: describeRedisError(error) }, 'replaced rate limiter did not close cleanly');
      });
    }
    this.options.onSwitch();
  }

  /** Shared limits are unusable: limit locally now, and rebuild the shared limiter as soon as Redis allows. */
  private degrade(reason: string): void {
    if (this.closed || this.mode === 'local') return;
    this.options.logger.warn(
      { ...this.options.logContext, reason, peers: this.options.peers() },
      "rate limits not shared through Redis; limiting locally to this process's share",
    );
    // Shared state that keeps breaking soon after a rebuild is rebuilt less eagerly.
    this.restoreDelayMs = Date.now() - this.sharedSince < 30_000 ? Math.min(this.restoreDelayMs * 2, maxRestoreDelayMs) : 250;
    this.mode = 'local';
    this.switchTo(this.newLocalPacer());
    this.scheduleRestore();
  }

  private newLocalPacer(): Pacer {
    const pacer: Pacer = createLocalPacer(this.options.settingsFor('local'), (error) => this.reportError(pacer, error));
    return pacer;
  }

  private scheduleRestore(): void {
    if (this.closed || this.restoreTimer) return;
    this.restoreTimer = setTimeout(() => {
      this.restoreTimer = null;
      this.restoreShared();
    }, this.restoreDelayMs);
    this.restoreTimer.unref();
  }

  private restoreShared(): void {
    const link = this.options.link;
    if (!link || this.closed || this.mode === 'shared' || this.restoring) return;
    if (!link.ready) {
      // The link's own 'ready' calls back here; while local, also poll.
      if (this.mode === 'local') this.scheduleRestore();
      return;
    }
    this.restoring = true;
    void this.buildSharedPacer(link).finally(() => {
      this.restoring = false;
    });
  }

  private async buildSharedPacer(link: RedisLink): Promise<void> {
    const { key, limits, jobTimeoutMs, logger, logContext } = this.options;
    // The first process to create bottleneck's shared state sets its limits;
    // the declared limits are part of the id, so a changed declaration gets a
    // fresh state rather than silently keeping the old one.
    const { requests, concurrency, burst } = limits;
    const settingsHash = createHash('sha256').update(JSON.stringify({ requests, concurrency, burst })).digest('hex').slice(0, 12);
    const pacer: Pacer = createSharedPacer(
      this.options.settingsFor('shared'),
      { id: `limits:${key}:${settingsHash}`, redisUrl: link.url, redisOptions: link.options, jobTimeoutMs },
      (error) => this.reportError(pacer, error),
    );
    try {
      await withTimeout(pacer.ready(), connectTimeoutMs, 'shared rate limiter not ready');
      await this.options.resyncSharedState();
      if (this.closed) throw new Error('limiter closed while connecting');
    } catch (error) {
      pacer.close().catch((closeError: unknown) => {
        logger.info({ ...logContext, error: describeRedisError(closeError) }, 'unfinished shared rate limiter did not close cleanly');
      });
      if (!this.closed) {
        logger.warn({ ...logContext, error: describeRedisError(error), retryInMs: this.restoreDelayMs }, 'could not set up shared rate limits in Redis; retrying');
        if (this.mode === 'connecting') this.degrade(describeRedisError(error));
        else this.scheduleRestore();
        this.restoreDelayMs = Math.min(this.restoreDelayMs * 2, maxRestoreDelayMs);
      }
      return;
    }
    const wasDegraded = this.mode === 'local';
    this.mode = 'shared';
    this.sharedSince = Date.now();
    if (wasDegraded) this.sharedGraceUntil = this.sharedSince + restoreGraceMs;
    if (this.connectTimer) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
    this.switchTo(pacer);
    if (wasDegraded) logger.info({ ...logContext }, 'rate limits shared through Redis again');
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
