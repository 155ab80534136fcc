// Requests per calendar day (UTC), counted across processes in Redis when
// shared. A request reserves its units when it is about to be sent; one that
// never goes out gives them back. Once the day's quota is spent, new jobs fail
// at once (throttled until midnight UTC) instead of queueing for hours.
import type { RedisLink } from './redis-link.js';
import type { LimiterLogger } from './types.js';

// Reserves `weight` units if they fit. Also carries what this process counted
// while Redis was away (`unsynced`), and never lets the count fall below what
// this process last saw (`floor`): after Redis loses its data the day's count
// is restored rather than restarted from zero.
const reserveScript = `
local count = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[2])) + tonumber(ARGV[3])
local weight = tonumber(ARGV[1])
local reserved = 0
if count + weight <= tonumber(ARGV[4]) then
  count = count + weight
  reserved = 1
end
redis.call('SET', KEYS[1], count)
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return {reserved, count}
`;

export class DailyQuota {
  private day = '';
  /** Highest count of today this process knows of (its own and, when shared, everyone's). */
  private used = 0;
  /** Counted locally while Redis was away, not yet added to the shared count. */
  private unsynced = 0;

  constructor(
    readonly quota: number,
    private readonly link: RedisLink | null,
    private readonly keyPrefix: string,
    private readonly logger: LimiterLogger,
    private readonly context: object,
  ) {}

  usedToday(now: number): number {
    this.rollOver(now);
    return this.used;
  }

  /** Milliseconds until the quota renews when today's is spent, else null. */
  exhaustedFor(now: number): number | null {
    this.rollOver(now);
    return this.used >= this.quota ? msUntilUtcMidnight(now) : null;
  }

  async reserve(weight: number, now: number): Promise<boolean> {
    this.rollOver(now);
    if (this.link?.ready) {
      try {
        const [reserved, count] = (await this.link.client.eval(
          reserveScript,
          1,
          `${this.keyPrefix}:daily:${this.day}`,
          String(weight),
          String(this.used - this.unsynced),
          String(this.unsynced),
          String(this.quota),
          // Kept a day past its own, for anyone reading yesterday's count.
          String(utcMidnightAfter(now) + 24 * 60 * 60 * 1000),
        )) as [number, number];
        this.unsynced = 0;
        this.used = Number(count);
        return reserved === 1;
      } catch (error) {
        this.logger.warn({ ...this.context, error: error instanceof Error ? error.message : String(error) }, 'daily quota not counted in Redis; counting locally');
      }
    }
    if (this.used + weight > this.quota) return false;
    this.used += weight;
    if (this.link) this.unsynced += weight;
    return true;
  }

  /** A reserved request was never sent. */
  async release(weight: number, now: number): Promise<void> {
    if (this.rollOver(now)) return;
    this.used = Math.max(0, this.used - weight);
    if (this.link?.ready) {
      try {
        await this.link.client.decrby(`${this.keyPrefix}:daily:${this.day}`, weight);
        return;
      } catch (error) {
        this.logger.warn({ ...this.context, error: error instanceof Error ? error.message : String(error) }, 'daily quota not given back in Redis; correcting locally');
      }
    }
    if (this.link) this.unsynced -= weight;
  }

  /** True when a new day began (and the count restarted). */
  private rollOver(now: number): boolean {
    const day = new Date(now).toISOString().slice(0, 10);
    if (day === this.day) return false;
    this.day = day;
    this.used = 0;
    this.unsynced = 0;
    return true;
  }
}

export function utcMidnightAfter(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
}

export function msUntilUtcMidnight(now: number): number {
  return utcMidnightAfter(now) - now;
}
