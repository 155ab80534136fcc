// Phone numbers enter from web forms, CRMs and carriers in every format; the hub
// keys contacts by E.164 only. National formats are read in the project's region.
import { isSupportedCountry, parsePhoneNumberWithError, ParseError, type CountryCode } from 'libphonenumber-js/max';

export type PhoneResult =
  | { ok: true; e164: string; region: string | undefined }
  | { ok: false; reason: string };

const reasons: Record<string, string> = {
  INVALID_COUNTRY: 'no country code and no default region to read it in',
  NOT_A_NUMBER: 'not a phone number',
  TOO_SHORT: 'too short to be a phone number',
  TOO_LONG: 'too long to be a phone number',
  INVALID_LENGTH: 'wrong number of digits',
};

/** Results kept for numbers seen lately: the same phones come back on every CRM read and webhook. */
const recentlyNormalized = new Map<string, PhoneResult>();
const MAX_REMEMBERED = 10_000;

export function normalizePhone(input: string, defaultRegion?: string): PhoneResult {
  const key = `${defaultRegion ?? ''}|${input}`;
  const known = recentlyNormalized.get(key);
  if (known) return known;
  const result = parsePhone(input, defaultRegion);
  // Oldest first in a Map: when full, forget the oldest entry.
  if (recentlyNormalized.size >= MAX_REMEMBERED) recentlyNormalized.delete(recentlyNormalized.keys().next().value as string);
  recentlyNormalized.set(key, Object.freeze(result));
  return result;
}

function parsePhone(input: string, defaultRegion?: string): PhoneResult {
  const trimmed = input.trim();
  if (trimmed === '') return { ok: false, reason: 'empty' };
  try {
    // "00" international prefix is common in Europe and not understood without a region.
    const text = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
    const parsed = parsePhoneNumberWithError(text, defaultRegion as CountryCode | undefined);
    if (!parsed.isValid()) {
      const where = parsed.country ?? defaultRegion;
      return { ok: false, reason: where ? `not a valid number in ${where}` : 'not a valid number' };
    }
    return { ok: true, e164: parsed.number, region: parsed.country };
  } catch (error) {
    if (error instanceof ParseError) {
      return { ok: false, reason: reasons[error.message] ?? error.message };
    }
    throw error;
  }
}

/** Whether a region code (ISO 3166 alpha-2) has phone metadata, e.g. "RU". */
export function isPhoneRegion(value: string): boolean {
  return isSupportedCountry(value);
}
