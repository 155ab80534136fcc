import { describe, expect, it } from 'vitest';
import { billableSeconds, billingIncrementSchema, costMicros, formatMicros, priceSchema } from './billing.js';

const inc = (text: string) => billingIncrementSchema.parse(text);

describe('billing increments', () => {
  it('60/60 charges every started minute', () => {
    expect(billableSeconds(1, inc('60/60'))).toBe(60);
    expect(billableSeconds(60_000, inc('60/60'))).toBe(60);
    expect(billableSeconds(60_001, inc('60/60'))).toBe(120);
    expect(billableSeconds(125_000, inc('60/60'))).toBe(180);
  });

  it('1/1 charges every started second', () => {
    expect(billableSeconds(1, inc('1/1'))).toBe(1);
    expect(billableSeconds(61_200, inc('1/1'))).toBe(62);
    expect(billableSeconds(61_000, inc('1/1'))).toBe(61);
  });

  it('30/6 charges the first 30 s, then every started 6 s', () => {
    expect(billableSeconds(5_000, inc('30/6'))).toBe(30);
    expect(billableSeconds(30_000, inc('30/6'))).toBe(30);
    expect(billableSeconds(30_500, inc('30/6'))).toBe(36);
    expect(billableSeconds(37_000, inc('30/6'))).toBe(42);
  });

  it('an unanswered call bills nothing', () => {
    expect(billableSeconds(0, inc('60/60'))).toBe(0);
  });

  it('prices are exact to the micro-unit', () => {
    const price = priceSchema.parse('0.0125');
    expect(price).toBe(12_500);
    expect(formatMicros(costMicros(36, price))).toBe('0.007500');
    expect(formatMicros(costMicros(60, priceSchema.parse(0.1)))).toBe('0.100000');
  });

  it('rejects malformed increments and prices with the reason', () => {
    expect(billingIncrementSchema.safeParse('60').error?.issues[0]?.message).toMatch(/first>\/<next/);
    expect(billingIncrementSchema.safeParse('0/6').error?.issues[0]?.message).toMatch(/at least 1 second/);
    expect(priceSchema.safeParse('-1').success).toBe(false);
    expect(priceSchema.safeParse('0.0000001').success).toBe(false);
  });
});
