import { z } from 'zod';

export interface FieldError {
  /** Dotted path into the request, e.g. "tasks.3.phone". */
  field: string;
  message: string;
}

/** A field's name in errors: its dotted path, `(body)` for the whole body. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.map(String).join('.') || '(body)';
}

export function fieldErrorsFrom(error: z.ZodError, prefix: (string | number)[] = []): FieldError[] {
  return error.issues.flatMap((issue) =>
    // A strict object names the keys it refuses in one issue on the object; each is its own field.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldName([...prefix, ...issue.path, key]), message: 'unknown field' }))
      : [{ field: fieldName([...prefix, ...issue.path]), message: issue.message }],
  );
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID as PostgreSQL's uuid type reads it: an id that is not one names nothing, and must not reach a `::uuid` cast. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** Deepest nesting a request body may have: enough for any config the hub takes, far below a stack's limits. */
export const MAX_BODY_DEPTH = 64;

/**
 * The first place in a parsed JSON value that cannot be stored or processed, named by its
 * dotted path: a NUL character (PostgreSQL text and jsonb refuse U+0000), an unpaired UTF-16
 * surrogate (not Unicode at all; JSON's \ud800 escape makes one), in a key or a value, or
 * nesting deeper than `maxDepth`. Undefined when there is none. Iterative: a hostile depth
 * cannot exhaust the stack.
 */
export function unstorableValue(value: unknown, prefix: (string | number)[] = [], maxDepth = MAX_BODY_DEPTH): FieldError | undefined {
  const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: prefix }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      const problem = unstorableText(current);
      if (problem) return { field: fieldName(path), message: problem };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (path.length - prefix.length >= maxDepth) return { field: fieldName(path), message: `nests deeper than ${maxDepth} levels` };
    const entries: [string | number, unknown][] = Array.isArray(current) ? current.map((item, index) => [index, item]) : Object.entries(current);
    for (const [key, item] of entries) {
      if (typeof key === 'string') {
        const problem = unstorableText(key);
        if (problem) return { field: fieldName([...path, key]), message: `the name ${problem}` };
      }
      pending.push({ value: item, path: [...path, key] });
    }
  }
  return undefined;
}

/** Why a string cannot be stored, or undefined. */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  // A high surrogate not followed by a low one, or a low one not preceded by a high one.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)) return 'contains an unpaired surrogate (\\ud800-\\udfff), which is not Unicode text';
  return undefined;
}

/** The instants the hub stores and computes with: 1970 to 9999 (PostgreSQL has no year 0, Date no year 10000). */
export const EARLIEST_INSTANT_MS = 0;
export const LATEST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** ISO 8601 with a zone offset, within the instants the hub stores (1970-01-01 to 9999-12-31). */
/**
 * A whole number in a query string, written in decimal digits only: `z.coerce.number()` also
 * took `0x10`, `1e2`, ` 16` and `16.0` as numbers.
 */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^[0-9]{1,9}$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

export function isoInstant() {
  // A text that is no date at all has its format error already; the range speaks of dates only.
  return z.iso.datetime({ offset: true }).refine((text) => {
    const at = Date.parse(text);
    return Number.isNaN(at) || (at >= EARLIEST_INSTANT_MS && at <= LATEST_INSTANT_MS);
  }, 'must be between 1970-01-01 and 9999-12-31');
}

/**
 * Fields of `input` that `parsed` (what a zod schema made of it) no longer has: the keys a
 * non-strict schema dropped, named by dotted path. For schemas that also read stored rows,
 * where unknown keys must pass (rows written by another version), while a request naming a
 * field the hub does not know (a typo, a setting of another product) is told so rather than
 * answered 200 with the setting ignored.
 */
export function unknownFields(input: unknown, parsed: unknown, path: (string | number)[] = []): FieldError[] {
  if (Array.isArray(input) && Array.isArray(parsed)) {
    return input.flatMap((item, index) => unknownFields(item, parsed[index], [...path, index]));
  }
  if (!isPlainObject(input) || !isPlainObject(parsed)) return [];
  return Object.entries(input).flatMap(([key, value]) =>
    key in parsed ? unknownFields(value, parsed[key], [...path, key]) : [{ field: fieldName([...path, key]), message: 'unknown field' }],
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
