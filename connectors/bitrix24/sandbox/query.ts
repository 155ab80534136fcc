// How Bitrix24's `*.list` methods select rows (crm.contact.list documentation):
// `filter` keys take an operator prefix (=, !=, !, >, >=, <, <=, @ IN, !@ NOT IN,
// % substring, =% / %= LIKE); multiple fields (PHONE, EMAIL) match exactly on any
// value; `select` takes '*' (standard fields), 'UF_*' (custom fields) and names
// multiple fields explicitly; pages are always 50 rows, addressed by `start`,
// with `total` and, when more rows follow, `next`.
import { refused, type MethodOutput } from './envelope.js';

export type Row = Record<string, unknown>;
export const pageSize = 50;

export interface ListParams {
  filter?: unknown;
  select?: unknown;
  order?: unknown;
  start?: unknown;
}

export interface EntityShape {
  /** Fields returned by '*'. */
  standard: readonly string[];
  /** Multiple fields, returned only when named in `select`. */
  multiple: readonly string[];
  /** Custom fields registered on the portal, returned by 'UF_*'. */
  custom: readonly string[];
}

const operators = ['>=', '<=', '!=', '!@', '=%', '%=', '>', '<', '@', '!', '%', '='] as const;
type Operator = (typeof operators)[number] | '';

export function listRows(rows: Row[], params: ListParams, shape: EntityShape): MethodOutput {
  const conditions = parseFilter(params.filter);
  const matching = rows.filter((row) => conditions.every((condition) => matches(row, condition, shape)));
  sortRows(matching, params.order);
  const start = parseStart(params.start);
  // start = -1 is Bitrix's "do not count" mode: first page only, no total.
  if (start === -1) return { result: matching.slice(0, pageSize).map((row) => project(row, params.select, shape)) };
  const page = matching.slice(start, start + pageSize).map((row) => project(row, params.select, shape));
  const output: MethodOutput = { result: page, total: matching.length };
  if (start + pageSize < matching.length) output.next = start + pageSize;
  return output;
}

interface Condition {
  operator: Operator;
  field: string;
  value: unknown;
}

function parseFilter(filter: unknown): Condition[] {
  if (filter === undefined || filter === null || filter === '') return [];
  if (typeof filter !== 'object' || Array.isArray(filter)) throw refused("Parameter 'filter' must be array.");
  return Object.entries(filter as Record<string, unknown>).map(([key, value]) => {
    const operator = operators.find((candidate) => key.startsWith(candidate)) ?? '';
    return { operator, field: key.slice(operator.length).toUpperCase(), value };
  });
}

function valuesOf(row: Row, field: string, shape: EntityShape): string[] {
  const raw = row[field];
  if (shape.multiple.includes(field)) {
    return Array.isArray(raw) ? raw.map((item) => String((item as Row).VALUE ?? '')) : [];
  }
  return raw === null || raw === undefined ? [] : [String(raw)];
}

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (value !== null && typeof value === 'object') return Object.values(value).map(String);
  return [String(value)];
}

function like(pattern: string, text: string): boolean {
  const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*');
  return new RegExp(`^${escaped}$`, 'i').test(text);
}

/** Datetimes as the portal prints them and as filters send them (ISO 8601, any offset). */
const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function compare(left: string, right: string): number {
  // The portal compares datetime filters as instants, whatever offset each side was written with.
  if (isoDateTime.test(left) && isoDateTime.test(right)) return Date.parse(left) - Date.parse(right);
  const a = Number(left);
  const b = Number(right);
  if (left !== '' && right !== '' && Number.isFinite(a) && Number.isFinite(b)) return a - b;
  return left < right ? -1 : left > right ? 1 : 0;
}

function matches(row: Row, { operator, field, value }: Condition, shape: EntityShape): boolean {
  const actual = valuesOf(row, field, shape);
  const wanted = asList(value);
  const equalsAny = () => actual.some((item) => wanted.includes(item)) || (actual.length === 0 && wanted.includes(''));
  switch (operator) {
    case '':
    case '=':
    case '@':
      return equalsAny();
    case '!':
    case '!=':
    case '!@':
      return !equalsAny();
    case '%':
      return actual.some((item) => wanted.some((part) => item.toLowerCase().includes(part.toLowerCase())));
    case '=%':
    case '%=':
      return actual.some((item) => wanted.some((pattern) => like(pattern, item)));
    case '>':
      return actual.some((item) => compare(item, wanted[0] ?? '') > 0);
    case '>=':
      return actual.some((item) => compare(item, wanted[0] ?? '') >= 0);
    case '<':
      return actual.some((item) => compare(item, wanted[0] ?? '') < 0);
    case '<=':
      return actual.some((item) => compare(item, wanted[0] ?? '') <= 0);
  }
}

function sortRows(rows: Row[], order: unknown): void {
  const entries: [string, string][] =
    order && typeof order === 'object' && !Array.isArray(order)
      ? Object.entries(order as Record<string, unknown>).map(([field, direction]) => [field.toUpperCase(), String(direction).toUpperCase()])
      : [];
  if (entries.length === 0) entries.push(['ID', 'ASC']);
  rows.sort((a, b) => {
    for (const [field, direction] of entries) {
      const difference = compare(String(a[field] ?? ''), String(b[field] ?? ''));
      if (difference !== 0) return direction === 'DESC' ? -difference : difference;
    }
    return 0;
  });
}

function parseStart(start: unknown): number {
  if (start === undefined || start === null || start === '') return 0;
  const value = Number(start);
  if (value === -1) return -1;
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** The row as `select` asks for it; ID is always present. */
export function project(row: Row, select: unknown, shape: EntityShape): Row {
  const names = Array.isArray(select) && select.length > 0 ? select.map((name) => String(name).toUpperCase()) : ['*', 'UF_*'];
  const wanted = new Set<string>(['ID']);
  for (const name of names) {
    if (name === '*') shape.standard.forEach((field) => wanted.add(field));
    else if (name === 'UF_*') shape.custom.forEach((field) => wanted.add(field));
    else wanted.add(name);
  }
  const out: Row = {};
  for (const field of wanted) {
    const value = row[field];
    // Multiple fields appear only when they hold values (crm.contact.get documentation).
    if (shape.multiple.includes(field) && (!Array.isArray(value) || value.length === 0)) continue;
    if (field in row || shape.standard.includes(field) || shape.custom.includes(field)) out[field] = value ?? null;
  }
  return out;
}
