// Bitrix24 is PHP: batch sub-calls are query strings ("crm.contact.add?fields[NAME]=Ada")
// and outbound events arrive form-encoded ("data[FIELDS][ID]=5"), both in the
// bracketed nesting of PHP's http_build_query / parse_str. Both the connector and
// its sandbox speak it, so it lives here once.

export type PhpValue = string | number | boolean | null | undefined | PhpValue[] | { [key: string]: PhpValue };

/** Like PHP's http_build_query: nested keys in brackets, null/undefined left out, booleans as 1/0. */
export function buildPhpQuery(params: Record<string, unknown>): string {
  const pairs: string[] = [];
  const walk = (prefix: string, value: unknown): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(`${prefix}[${index}]`, item));
      return;
    }
    if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) walk(`${prefix}[${key}]`, item);
      return;
    }
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    pairs.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(text)}`);
  };
  for (const [key, value] of Object.entries(params)) walk(key, value);
  return pairs.join('&');
}

// Keys that would reach Object.prototype if used as property names.
const forbiddenKeys = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Like PHP's parse_str: "a[b][]=1&a[b][]=2" -> { a: { b: ["1", "2"] } }. Values stay
 * strings, as PHP sees them. Containers whose keys are exactly 0..n-1 become arrays,
 * which is what PHP's json_encode would print for them.
 */
export function parsePhpQuery(query: string): Record<string, PhpValue> {
  const root: Record<string, unknown> = {};
  const appendAt = new WeakMap<object, number>();
  let fields = 0;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    fields += 1;
    if (fields > MAX_PHP_INPUT_VARS) throw new PhpQueryLimitError(`more than ${MAX_PHP_INPUT_VARS} fields`);
    const equals = pair.indexOf('=');
    const rawKey = equals === -1 ? pair : pair.slice(0, equals);
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
    const path = splitKey(decodeFormComponent(rawKey));
    if (!path || path.some((part) => forbiddenKeys.has(part))) continue;
    if (path.length > MAX_PHP_NESTING) throw new PhpQueryLimitError(`field "${rawKey.slice(0, 40)}..." nests deeper than ${MAX_PHP_NESTING} levels`);
    assign(root, path, decodeFormComponent(rawValue), appendAt);
  }
  return toPhpArrays(root) as Record<string, PhpValue>;
}

/** PHP's own defaults (max_input_vars, max_input_nesting_level): what a portal never exceeds. */
export const MAX_PHP_INPUT_VARS = 1000;
export const MAX_PHP_NESTING = 64;

/** A query beyond PHP's input limits: refused whole, as it cannot be a CRM's. */
export class PhpQueryLimitError extends Error {
  override readonly name = 'PhpQueryLimitError';
}

function decodeFormComponent(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch (error) {
    // PHP keeps malformed escapes as they are; a URIError here is not a reason to drop the field.
    if (error instanceof URIError) return spaced;
    throw error;
  }
}

/** "fields[PHONE][0][VALUE]" -> ["fields", "PHONE", "0", "VALUE"]; "[]" stays "" (append). */
function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open <= 0) return key === '' ? null : [key];
  const parts = [key.slice(0, open)];
  const brackets = /\[([^\]]*)\]/g;
  let match: RegExpExecArray | null;
  while ((match = brackets.exec(key.slice(open))) !== null) parts.push(match[1] ?? '');
  return parts;
}

/**
 * Sets `value` at `path`. `appendAt` remembers each container's next index for "[]" (one more than
 * its highest numeric key, as in PHP) so that appending stays linear in the number of fields.
 */
function assign(container: Record<string, unknown>, path: string[], value: string, appendAt: WeakMap<object, number>): void {
  let current = container;
  path.forEach((rawPart, index) => {
    const part = rawPart === '' ? String(appendAt.get(current) ?? 0) : rawPart;
    if (/^\d+$/.test(part)) appendAt.set(current, Math.max(appendAt.get(current) ?? 0, Number(part) + 1));
    if (index === path.length - 1) {
      current[part] = value;
      return;
    }
    const existing = current[part];
    if (existing === null || typeof existing !== 'object') current[part] = {};
    current = current[part] as Record<string, unknown>;
  });
}

function toPhpArrays(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, toPhpArrays(item)] as const);
  const sequential = entries.length > 0 && entries.every(([key], index) => key === String(index));
  return sequential ? entries.map(([, item]) => item) : Object.fromEntries(entries);
}
