// How reconciliation looks at a value: what counts as empty, when two values
// say the same thing, when a record was updated, and how an arbitrary value is
// made storable as JSON. CRM data arrives malformed (NaN, nested objects,
// numbers where strings belong), so nothing here throws on any input. Pure
// code with no imports: it runs inside Temporal workflows.

/** null, undefined, '' and whitespace-only strings carry no information. */
export function isEmptyValue(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

/** Fields whose last path segment names an e-mail compare case-insensitively. */
export function isEmailField(field: string): boolean {
  const last = field.slice(field.lastIndexOf('.') + 1);
  return /e-?mail/i.test(last);
}

/**
 * The form two values are compared in: strings trimmed (lower-cased for e-mail
 * fields), everything else as deterministic text, so 42 and "42" agree and
 * NaN, nested objects or a Date compare without throwing. Phones are E.164
 * already when they reach the hub, so they need nothing more.
 */
export function comparableValue(field: string, value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : stableText(value);
  return isEmailField(field) ? text.toLowerCase() : text;
}

/** Deterministic text for any value: object keys sorted, cycles cut. */
export function stableText(value: unknown): string {
  return textOf(value, new Set<object>());
}

function textOf(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      // -0 and 0 are the same value to any CRM.
      return Object.is(value, -0) ? '0' : String(value);
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return value.toString();
    case 'function':
      return `[function ${value.name}]`;
    case 'object':
      return objectText(value, seen);
  }
  return String(value);
}

function objectText(value: object | null, seen: Set<object>): string {
  if (value === null) return 'null';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.map((item) => quoted(item, seen)).join(',')}]`;
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${quoted((value as Record<string, unknown>)[key], seen)}`).join(',')}}`;
  } catch (error) {
    // A getter or proxy that throws is part of the malformed value, not a
    // reason to stop reconciling: its failure becomes its text, so it is still
    // compared and shown to a supervisor.
    return `[unreadable: ${error instanceof Error ? error.message : String(error)}]`;
  } finally {
    seen.delete(value);
  }
}

/** Inside objects strings are quoted, so ["1"] and [1] stay distinguishable from "[1]". */
function quoted(value: unknown, seen: Set<object>): string {
  return typeof value === 'string' ? JSON.stringify(value) : textOf(value, seen);
}

const isoTimestamp =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Milliseconds since the epoch for an ISO 8601 timestamp, or undefined when it
 * is missing or unreadable. A timestamp without an offset is read as UTC:
 * `Date.parse` would read it in the machine's zone, and the same records must
 * reconcile the same way on every worker (and on replay).
 */
export function timestampOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value !== 'string') return undefined;
  const match = isoTimestamp.exec(value.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const utc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour ?? 0), Number(minute ?? 0), Number(second ?? 0), ms);
  if (Number.isNaN(utc)) return undefined;
  return utc - zoneOffsetMs(zone);
}

function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone.toUpperCase() === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return (zone.startsWith('-') ? -minutes : minutes) * 60_000;
}

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The value as PostgreSQL jsonb will take it: non-finite numbers and bigints
 * become text (JSON has no NaN), Dates ISO text, cycles "[Circular]", and
 * strings lose NUL and lone surrogates, which jsonb refuses.
 */
export function toJsonValue(value: unknown): JsonValue {
  return jsonOf(value, new Set<object>());
}

function jsonOf(value: unknown, seen: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
      return storableString(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'undefined':
      return null;
    case 'object':
      return objectJson(value, seen);
    default:
      return storableString(textOf(value, seen));
  }
}

function objectJson(value: object | null, seen: Set<object>): JsonValue {
  if (value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => jsonOf(item, seen));
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      defineOwn(out, storableString(key), jsonOf(item, seen));
    }
    return out;
  } catch (error) {
    // See objectText: a value that cannot be read is stored as what went wrong.
    return `[unreadable: ${error instanceof Error ? error.message : String(error)}]`;
  } finally {
    seen.delete(value);
  }
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function storableString(text: string): string {
  return text.replaceAll('\u0000', '\ufffd').replace(loneSurrogate, '\ufffd');
}

/**
 * Sets an own property even for keys such as "__proto__": field names come
 * from CRMs, and a plain assignment of that key would change the object's
 * prototype instead of recording the field.
 */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function hasOwn(target: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(target, key);
}
