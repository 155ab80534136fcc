// A legacy CRM that is only a table in PostgreSQL. Table and column names are
// configuration. This is the minimal first version: upsert keyed by a unique
// phone column. (Optimistic concurrency and MariaDB come with the connector hub.)
import pg from 'pg';
import { z } from 'zod';
import { CrmError, defineConnector, type CrmContact } from '../sdk/index.js';

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

export const sqlCrmConfigSchema = z.object({
  connectionString: z.url({ protocol: /^postgres(ql)?$/ }),
  table: identifier.default('clients'),
  columns: z
    .object({
      id: identifier.default('id'),
      /** Must carry a unique constraint: the upsert key. */
      phone: identifier.default('phone'),
      name: identifier.default('full_name'),
      email: identifier.default('email'),
      /** A jsonb column for free-form fields. */
      fields: identifier.default('extra'),
    })
    .prefault({}),
  poolSize: z.number().int().min(1).max(50).default(5),
});

export type SqlCrmConfig = z.infer<typeof sqlCrmConfigSchema>;

// SQLSTATE classes that mean "the CRM refused this data", not "the CRM is down".
const dataErrorClasses = ['22', '23', '42'];

function classify(error: unknown): CrmError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && dataErrorClasses.includes(code.slice(0, 2))) {
    return new CrmError('rejected', `SQL CRM refused the write: ${message}`, undefined, { cause: error });
  }
  return new CrmError('unavailable', `SQL CRM unavailable: ${message}`, undefined, { cause: error });
}

export const sqlCrm = defineConnector({
  id: 'sql-crm',
  title: 'SQL CRM (PostgreSQL tables)',
  configSchema: sqlCrmConfigSchema,
  create(config) {
    const pool = new pg.Pool({ connectionString: config.connectionString, max: config.poolSize, connectionTimeoutMillis: 5000 });
    // An idle client losing its server must not crash the worker; the next query reconnects.
    pool.on('error', () => undefined);
    const q = (name: string) => pg.escapeIdentifier(name);
    const c = config.columns;
    const table = q(config.table);

    const toContact = (row: Record<string, unknown>): CrmContact => ({
      externalId: String(row.id),
      phone: String(row.phone),
      name: (row.name as string | null) ?? null,
      email: (row.email as string | null) ?? null,
      fields: (row.fields as Record<string, unknown> | null) ?? {},
    });

    return {
      async upsertContact(contact) {
        // COALESCE keeps what the CRM already knows when the task leaves a field out.
        const sql = `
          INSERT INTO ${table} (${q(c.phone)}, ${q(c.name)}, ${q(c.email)}, ${q(c.fields)})
          VALUES ($1, $2, $3, $4::jsonb)
          ON CONFLICT (${q(c.phone)}) DO UPDATE SET
            ${q(c.name)} = COALESCE(EXCLUDED.${q(c.name)}, ${table}.${q(c.name)}),
            ${q(c.email)} = COALESCE(EXCLUDED.${q(c.email)}, ${table}.${q(c.email)}),
            ${q(c.fields)} = COALESCE(${table}.${q(c.fields)}, '{}'::jsonb) || EXCLUDED.${q(c.fields)}
          RETURNING ${q(c.id)} AS id, (xmax = 0) AS created`;
        try {
          const result = await pool.query<{ id: unknown; created: boolean }>(sql, [
            contact.phone,
            contact.name ?? null,
            contact.email ?? null,
            JSON.stringify(contact.fields),
          ]);
          const row = result.rows[0];
          if (!row) throw new CrmError('unavailable', 'SQL CRM returned no row for an upsert');
          return { externalId: String(row.id), created: row.created };
        } catch (error) {
          throw error instanceof CrmError ? error : classify(error);
        }
      },
      async findContactsByPhone(phone) {
        const sql = `SELECT ${q(c.id)} AS id, ${q(c.phone)} AS phone, ${q(c.name)} AS name,
            ${q(c.email)} AS email, ${q(c.fields)} AS fields
          FROM ${table} WHERE ${q(c.phone)} = $1`;
        try {
          const result = await pool.query<Record<string, unknown>>(sql, [phone]);
          return result.rows.map(toContact);
        } catch (error) {
          throw classify(error);
        }
      },
      async close() {
        await pool.end();
      },
    };
  },
});
