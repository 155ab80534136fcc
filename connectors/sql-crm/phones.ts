// Matching the hub's E.164 numbers against a legacy table's phones, which may
// be stored in any format ("8 (912) 345-67-89", "+7 912 345-67-89", "79123456789").
//
// Two steps:
// 1. in SQL, a cheap candidate filter: the stored value's digits, ending in
//    the number's national significant number (9123456789 for +79123456789).
//    A national number is what every format of the same phone ends with,
//    whatever trunk prefix ("8", "0") or country code precedes it;
// 2. in JavaScript, confirmation: the stored value read by libphonenumber in
//    the instance's region (normalizePhone) must give the same E.164, or its
//    digits must be exactly the E.164 digits. This drops same-suffix numbers
//    of other countries and anything the SQL filter lets through.
//
// The filter computes digits per row, so raw lookups scan the table; for a
// large table add an expression index (PostgreSQL) or a generated column
// (MariaDB/MySQL) on the same expression.
import type { Knex } from 'knex';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { normalizePhone } from '../../core/phone.js';
import { CrmError } from '../sdk/errors.js';
import type { SqlDialect } from '../sdk/sql.js';

export interface PhoneKey {
  e164: string;
  /** The national significant number: the digits every stored format of this phone ends with. */
  nationalNumber: string;
}

/**
 * The hub passes E.164; anything else is read in `defaultRegion`. Writes
 * refuse a number libphonenumber calls invalid. Lookups accept any number in
 * E.164 syntax (an unassigned number simply matches nothing), so a probe or an
 * outdated numbering plan never turns a read into an error.
 */
export function phoneKey(input: string, defaultRegion: string | undefined, purpose: 'write' | 'lookup'): PhoneKey {
  const normalized = normalizePhone(input, defaultRegion);
  const e164 = normalized.ok ? normalized.e164 : purpose === 'lookup' && /^\+[1-9]\d{6,14}$/.test(input) ? input : undefined;
  if (e164 === undefined) {
    throw new CrmError('rejected', `"${input}" is not a usable phone number: ${normalized.ok ? 'not in E.164' : normalized.reason}`);
  }
  const parsed = parsePhoneNumberFromString(e164);
  return { e164, nationalNumber: parsed?.nationalNumber ?? e164.slice(-10) };
}

/** A WHERE condition: the column's digits end with the national number. Values are bound, the column is quoted by knex. */
export function phoneSuffixCondition(db: Knex, dialect: SqlDialect, column: string, key: PhoneKey): Knex.Raw {
  const length = key.nationalNumber.length;
  switch (dialect) {
    case 'postgres':
      return db.raw(`right(regexp_replace(CAST(?? AS text), '[^0-9]', '', 'g'), ?) = ?`, [column, length, key.nationalNumber]);
    case 'mysql':
      // REGEXP_REPLACE: MariaDB 10.0.5+, MySQL 8.0+.
      return db.raw(`RIGHT(REGEXP_REPLACE(CAST(?? AS CHAR), '[^0-9]', ''), ?) = ?`, [column, length, key.nationalNumber]);
    case 'mssql': {
      // No regular expressions: strip the separators legacy forms actually use.
      const separators = [' ', '-', '(', ')', '.', '+', '/'];
      const stripped = separators.reduce((sql) => `REPLACE(${sql}, ?, '')`, 'CAST(?? AS nvarchar(64))');
      return db.raw(`RIGHT(${stripped}, ?) = ?`, [column, ...separators, length, key.nationalNumber]);
    }
    case 'oracle':
      return db.raw(`SUBSTR(REGEXP_REPLACE(TO_CHAR(??), '[^0-9]', ''), ?) = ?`, [column, -length, key.nationalNumber]);
  }
}

/** Whether a stored phone, in whatever format, is the number `key` names. */
export function storedPhoneMatches(stored: unknown, key: PhoneKey, defaultRegion?: string): boolean {
  if (stored === null || stored === undefined) return false;
  const text = String(stored);
  if (text.replace(/\D/g, '') === key.e164.slice(1)) return true;
  const normalized = normalizePhone(text, defaultRegion);
  return normalized.ok && normalized.e164 === key.e164;
}
