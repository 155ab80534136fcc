import { describe, expect, it } from 'vitest';
import { normalizePhone } from './phone.js';

describe('normalizePhone', () => {
  it.each([
    ['+1 (415) 555-2671', undefined, '+14155552671'],
    ['(415) 555-2671', 'US', '+14155552671'],
    ['8 (912) 345-67-89', 'RU', '+79123456789'],
    ['+7 912 345 67 89', 'US', '+79123456789'],
    ['0049 30 901820', 'RU', '+4930901820'],
    ['0532 123 45 67', 'TR', '+905321234567'],
    ['  +44 20 7946 0958  ', undefined, '+442079460958'],
  ])('reads %s (region %s) as %s', (input, region, expected) => {
    expect(normalizePhone(input, region)).toEqual({ ok: true, e164: expected, region: expect.any(String) });
  });

  it.each([
    ['', 'US', 'empty'],
    ['hello', 'US', 'not a phone number'],
    ['(415) 555-2671', undefined, 'no country code and no default region to read it in'],
    ['+1 415 555', 'US', 'not a valid number in US'],
    ['1', 'RU', 'too short to be a phone number'],
    ['123', 'RU', 'not a valid number in RU'],
  ])('rejects %j (region %s): %s', (input, region, reason) => {
    expect(normalizePhone(input, region)).toEqual({ ok: false, reason });
  });
});
