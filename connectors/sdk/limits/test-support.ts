// Helpers for the limiter's tests: a stand-in CRM limit, window counting,
// a logger that keeps what it was told.
import type { LimiterLogger } from './types.js';

/** A CRM's limit: `perSecond` sustained, `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Most starts within any window of `windowMs` (sliding, not aligned). */
export function maxInWindow(starts: number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to += 1) {
    while (sorted[to]! - sorted[from]! >= windowMs) from += 1;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

/** Starts per second between the first and the last start. */
export function startedRate(starts: number[]): number {
  const sorted = [...starts].sort((a, b) => a - b);
  return ((sorted.length - 1) * 1000) / (sorted.at(-1)! - sorted[0]!);
}

export function collectingLogger(): { logger: LimiterLogger; lines: { level: string; message: string; details: object }[] } {
  const lines: { level: string; message: string; details: object }[] = [];
  return {
    lines,
    logger: {
      warn: (details, message) => lines.push({ level: 'warn', message, details }),
      info: (details, message) => lines.push({ level: 'info', message, details }),
    },
  };
}
