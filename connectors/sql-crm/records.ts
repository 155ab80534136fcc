// Contact rows <-> the hub's CrmContact, for a mapping from configuration:
// which columns are read, how free-form fields are split between their own
// columns and the JSON fields column, and how stored JSON is read back.
import type { Knex } from 'knex';
import { normalizePhone } from '../../core/phone.js';
import { CrmError } from '../sdk/errors.js';
import { agentOfOwner, ownerOfAgent } from '../sdk/responsible-agents.js';
import type { CrmContact } from '../sdk/types.js';
import type { SqlDialect } from '../sdk/sql.js';
import type { SqlCrmConfig } from './config.js';
import { tokenExpression, type VersionSource } from './versions.js';

// Result aliases, so rows read the same whatever the customer's column names are.
const alias = {
  id: 'hub_id',
  phone: 'hub_phone',
  name: 'hub_name',
  email: 'hub_email',
  fields: 'hub_fields',
  version: 'hub_version',
  updatedAt: 'hub_updated_at',
} as const;

const extraAlias = (index: number) => `hub_extra_${index}`;

export type ContactRow = Record<string, unknown>;

export function contactSelection(db: Knex, dialect: SqlDialect, config: SqlCrmConfig, source: VersionSource): (string | Knex.Raw | Record<string, string>)[] {
  const c = config.columns;
  const plain: Record<string, string> = { [alias.id]: c.id, [alias.phone]: c.phone };
  if (c.name) plain[alias.name] = c.name;
  if (c.email) plain[alias.email] = c.email;
  if (c.fields) plain[alias.fields] = c.fields;
  if (c.updatedAt) plain[alias.updatedAt] = c.updatedAt;
  Object.values(config.extraColumns).forEach((column, index) => {
    plain[extraAlias(index)] = column;
  });
  return [plain, tokenExpression(db, dialect, source, alias.version)];
}

export type StoredFields = { ok: true; value: Record<string, unknown> } | { ok: false; raw: string };

/** The fields column as an object: jsonb/json come parsed, text and MariaDB's JSON come as text. */
export function readStoredFields(value: unknown): StoredFields {
  if (value === null || value === undefined) return { ok: true, value: {} };
  if (isPlainObject(value)) return { ok: true, value };
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  if (text.trim() === '') return { ok: true, value: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Legacy text that is not JSON is reported to the caller as such, never rewritten.
    return { ok: false, raw: text };
  }
  return isPlainObject(parsed) ? { ok: true, value: parsed } : { ok: false, raw: text };
}

export function rowToContact(row: ContactRow, config: SqlCrmConfig): CrmContact {
  const stored = readStoredFields(row[alias.fields]);
  // Unreadable legacy text stays visible under the column's name rather than vanishing.
  const fields: Record<string, unknown> = stored.ok ? { ...stored.value } : { [config.columns.fields ?? 'fields']: stored.raw };
  Object.keys(config.extraColumns).forEach((field, index) => {
    const value = row[extraAlias(index)];
    if (value !== null && value !== undefined) fields[field] = fromSqlValue(value);
  });
  if (Object.keys(config.responsibleAgents).length > 0 && 'responsibleAgent' in fields) {
    const agent = agentOfOwner(config.responsibleAgents, fields.responsibleAgent);
    if (agent === undefined) delete fields.responsibleAgent;
    else fields.responsibleAgent = agent;
  }
  const updatedAt = row[alias.updatedAt];
  return {
    externalId: String(row[alias.id]),
    phone: contactPhone(row[alias.phone], config),
    name: nullableString(row[alias.name]),
    email: nullableString(row[alias.email]),
    fields,
    version: String(row[alias.version]),
    ...(updatedAt instanceof Date ? { updatedAt: updatedAt.toISOString() } : typeof updatedAt === 'string' ? { updatedAt } : {}),
  };
}

/** A primary key as the driver returns it (bigint comes back as a string). */
export type RowId = string | number;

export function asRowId(value: unknown, what: string): RowId {
  if (typeof value === 'string' || typeof value === 'number') return value;
  throw new CrmError('unavailable', `SQL CRM returned ${what} id of an unexpected type (${typeof value})`);
}

export function rowId(row: ContactRow): RowId {
  return asRowId(row[alias.id], 'a contact');
}

export function rowPhone(row: ContactRow): unknown {
  return row[alias.phone];
}

export function rowVersion(row: ContactRow): string {
  return String(row[alias.version]);
}

export function rowFields(row: ContactRow): unknown {
  return row[alias.fields];
}

export const versionAlias = alias.version;

/**
 * The hub's fields as the CRM stores them: with `responsibleAgents`, an agent becomes its owner
 * value, and an agent the map does not list is left out (the record keeps its owner).
 */
export function toCrmFields(fields: Record<string, unknown>, config: SqlCrmConfig): Record<string, unknown> {
  if (Object.keys(config.responsibleAgents).length === 0 || !('responsibleAgent' in fields)) return fields;
  const { responsibleAgent, ...rest } = fields;
  const owner = ownerOfAgent(config.responsibleAgents, responsibleAgent);
  return owner === undefined ? rest : { ...rest, responsibleAgent: owner };
}

/** Splits incoming fields into values of mapped columns and the rest (for the JSON fields column). */
export function splitFields(fields: Record<string, unknown>, extraColumns: Record<string, string>): { columns: Record<string, unknown>; json: Record<string, unknown> } {
  const columns: Record<string, unknown> = {};
  const json: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const column = extraColumns[field];
    if (column) columns[column] = toSqlValue(value);
    else json[field] = value;
  }
  return { columns, json };
}

/** Scalars are bound as they are; structures go to text columns as JSON. */
export function toSqlValue(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) return value;
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value);
}

function fromSqlValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return value;
}

/** Raw-format phones are handed to the hub in E.164 when they read as a number; what does not stays as stored. */
function contactPhone(stored: unknown, config: SqlCrmConfig): string | null {
  const text = nullableString(stored);
  if (text === null || config.phoneFormat === 'e164') return text;
  const normalized = normalizePhone(text, config.defaultRegion);
  return normalized.ok ? normalized.e164 : text;
}

function nullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !Buffer.isBuffer(value);
}
