/**
 * Carrier billing: a price per minute and a billing increment such as "60/60" (whole minutes),
 * "1/1" (per second) or "30/6" (the first 30 s are charged, then every started 6 s).
 *
 * Money is kept in integer micro-units (1e-6 of the currency) so sums of many short calls do not
 * drift the way floats would; the database stores the same value as DECIMAL(14, 6).
 */
import { z } from 'zod';

export interface BillingIncrement {
  /** Seconds charged as soon as a call is answered (the minimum). */
  firstSeconds: number;
  /** After the first block, every started block of this many seconds is charged. */
  nextSeconds: number;
}

export const billingIncrementSchema = z
  .string()
  .regex(/^\d{1,4}\/\d{1,4}$/, 'expected "<first>/<next>" in seconds, e.g. "60/60", "1/1", "30/6"')
  .transform((text, ctx): BillingIncrement => {
    const [first, next] = text.split('/').map(Number) as [number, number];
    if (first < 1 || next < 1) {
      ctx.addIssue({ code: 'custom', message: 'both parts of the billing increment must be at least 1 second' });
      return z.NEVER;
    }
    return { firstSeconds: first, nextSeconds: next };
  });

export function formatBillingIncrement(increment: BillingIncrement): string {
  return `${increment.firstSeconds}/${increment.nextSeconds}`;
}

/** A price such as "0.0125" (per minute) as integer micro-units; at most 6 decimals, never a float on the way. */
export const priceSchema = z
  .union([z.string(), z.number()])
  .transform((value) => (typeof value === 'number' ? String(value) : value.trim()))
  .pipe(z.string().regex(/^\d{1,4}(\.\d{1,6})?$/, 'expected a non-negative price below 10000 with at most 6 decimals, e.g. "0.0125"'))
  .transform(parseMicros);

function parseMicros(text: string): number {
  const [whole, fraction = ''] = text.split('.') as [string, string?];
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, '0'));
}

export function formatMicros(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  const fraction = String(micros % 1_000_000).padStart(6, '0');
  return `${whole}.${fraction}`;
}

/**
 * Seconds the carrier charges for a call that lasted `durationMs` after answer. A started second
 * counts as a whole one (carriers round up); an unanswered call (0 ms) is free.
 */
export function billableSeconds(durationMs: number, increment: BillingIncrement): number {
  if (durationMs <= 0) return 0;
  const seconds = Math.ceil(durationMs / 1000);
  if (seconds <= increment.firstSeconds) return increment.firstSeconds;
  const rest = seconds - increment.firstSeconds;
  return increment.firstSeconds + Math.ceil(rest / increment.nextSeconds) * increment.nextSeconds;
}

/** Cost in micro-units of `seconds` at `pricePerMinuteMicros`, rounded half up to the micro-unit. */
export function costMicros(seconds: number, pricePerMinuteMicros: number): number {
  return Math.round((seconds * pricePerMinuteMicros) / 60);
}
