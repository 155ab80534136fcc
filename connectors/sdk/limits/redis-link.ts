// The limiter's connection to Redis, set up to fail fast: a limiter must
// never wait on Redis, it limits locally instead while Redis is away.
import { Redis, type RedisOptions } from 'ioredis';
import type { LimiterLogger } from './types.js';

/**
 * - no offline queue: a command issued while disconnected fails at once
 *   rather than waiting for a reconnect that may be minutes away;
 * - every command times out (a hung Redis looks like a dead one);
 * - reconnects forever in the background, at most every 2 s.
 */
export const redisClientOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2_000,
  connectTimeout: 2_000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
};

/**
 * Bottleneck's state in Redis is gone (FLUSHALL, a restart without
 * persistence, keys expired) or Redis forgot this client. Bottleneck 2.19.5
 * matches these messages exactly, and Redis 7 prefixes "ERR ", so its own
 * recovery never fires.
 */
export function isSharedStateLost(error: unknown): boolean {
  return error instanceof Error && /\b(SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)\b/.test(error.message);
}

/** Client options naming the connection after the limiter, so `CLIENT LIST` shows whose it is. */
export function limiterRedisOptions(key: string): RedisOptions {
  return { ...redisClientOptions, connectionName: `limiter:${key.replace(/[^\w:.-]/g, '_').slice(0, 100)}` };
}

export function describeRedisError(error: unknown): string {
  if (isSharedStateLost(error)) return `shared limiter state lost in Redis (${(error as Error).message})`;
  return error instanceof Error ? error.message : String(error);
}

/** A command client and a subscriber, reconnecting on their own. */
export class RedisLink {
  readonly client: Redis;
  readonly subscriber: Redis;
  private lastErrorLogAt = 0;
  private readonly readyListeners: (() => void)[] = [];

  constructor(
    readonly url: string,
    readonly options: RedisOptions,
    private readonly logger: LimiterLogger,
    private readonly context: object,
  ) {
    this.client = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    for (const connection of [this.client, this.subscriber]) {
      connection.on('error', (error: Error) => this.logConnectionError(error));
      connection.on('ready', () => {
        for (const listener of this.readyListeners) listener();
      });
    }
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Called each time a connection (re)becomes ready. */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async close(): Promise<void> {
    this.readyListeners.length = 0;
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  // ioredis reports every failed reconnect attempt; while Redis is down that
  // is several a second, so one line per ten seconds says enough.
  private logConnectionError(error: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < 10_000) return;
    this.lastErrorLogAt = now;
    this.logger.warn({ ...this.context, error: error.message }, 'Redis connection for shared rate limits failed; limiting locally until it is back');
  }
}
