// A legacy CRM that is just tables, in PostgreSQL or MariaDB/MySQL (MS SQL and
// Oracle offered, untested). Table and column names are configuration
// (config.ts); queries go through the SDK's SQL client, which applies the
// instance's limits and classifies failures. Writes are idempotent without a
// unique constraint on the phone column, and use optimistic concurrency
// (versions.ts) so two writers never overwrite each other silently.
import type { Knex } from 'knex';
import type { ReadCache } from '../sdk/cache.js';
import { defineConnector } from '../sdk/define.js';
import { CrmError, VersionConflictError } from '../sdk/errors.js';
import type { RequestLimiter } from '../sdk/limits/types.js';
import { createCrmSqlClient, isUniqueViolation, type SqlDialect } from '../sdk/sql.js';
import type { ActivityInput, ConnectorOperations, ContactInput, ContactQuery, CrmContact, UpsertResult } from '../sdk/types.js';
import { readChangedContacts } from './changes.js';
import { dialectOf, sqlCrmConfigSchema, type SqlCrmConfig } from './config.js';
import { phoneKey, phoneSuffixCondition, storedPhoneMatches, type PhoneKey } from './phones.js';
import { asRowId, contactSelection, readStoredFields, rowFields, rowId, rowPhone, rowToContact, rowVersion, splitFields, toCrmFields, versionAlias, type ContactRow, type RowId } from './records.js';
import { bumpAssignments, initialAssignments, isWellFormedToken, tokenExpression, tokenSql, versionSource, type VersionSource } from './versions.js';

export { sqlCrmConfigSchema, type SqlCrmConfig } from './config.js';

/** Rows a lookup reads at most; a phone with more records than this in one CRM is data to clean, not to page through. */
const candidateLimit = 200;

export const sqlCrm = defineConnector({
  id: 'sql-crm',
  title: 'SQL CRM (PostgreSQL, MariaDB/MySQL; MS SQL and Oracle untested)',
  description: 'A CRM that is tables in a SQL database; tables and columns are mapped in the configuration.',
  configSchema: sqlCrmConfigSchema,
  secrets: ['connectionString'],
  limits: (config) => ({
    // A legacy database's real limit is how many statements it runs at once.
    concurrency: config.limits.concurrency ?? config.poolSize,
    ...(config.limits.requestsPerMinute ? { requests: { count: config.limits.requestsPerMinute, windowMs: 60_000 } } : {}),
    ...(config.limits.dailyQuota ? { dailyQuota: config.limits.dailyQuota } : {}),
  }),
  create: ({ config, limiter, cache }) => createSqlCrmOperations(config, { limiter, cache }),
  pollingProblem: (config) =>
    config.columns.updatedAt
      ? undefined
      : { field: 'columns.updatedAt', message: 'polling orders changes by an updated-at column; a version column counts per row and cannot' },
});

export function createSqlCrmOperations(config: SqlCrmConfig, context: { limiter: RequestLimiter; cache: ReadCache }): ConnectorOperations {
  const dialect = dialectOf(config);
  const maybeSource = versionSource(config.columns);
  // The schema refuses a mapping without a token; reaching here means it was bypassed.
  if (!maybeSource) throw new CrmError('rejected', 'SQL CRM mapping has neither a version nor an updatedAt column');
  const source: VersionSource = maybeSource;
  const sql = createCrmSqlClient({
    dialect,
    connection: config.connectionString,
    limiter: context.limiter,
    poolSize: config.poolSize,
    queryTimeoutMs: config.queryTimeoutMs,
  });
  const contacts = new ContactTable(config, dialect, source);
  const { cache } = context;

  return {
    async findContacts(query) {
      const key = query.phone === undefined ? undefined : phoneKey(query.phone, config.defaultRegion, 'lookup');
      if (!key && query.email === undefined && query.externalId === undefined) {
        throw new CrmError('rejected', 'a contact query needs a phone, an e-mail or an external id');
      }
      return cache.wrap(`contacts:find:${JSON.stringify([key?.e164, query.email?.toLowerCase(), query.externalId])}`, () =>
        sql.query((db) => contacts.find(db, { ...query, key })),
      );
    },

    async getContact(externalId) {
      return cache.wrap(`contacts:get:${externalId}`, () =>
        sql.query(async (db) => (await contacts.find(db, { externalId }))[0] ?? null),
      );
    },

    async upsertContact(contact) {
      try {
        return await upsert(contact);
      } finally {
        // Whatever happened, cached reads of this contact may be stale now
        // (and a conflict means the caller is about to re-read).
        cache.invalidate('contacts:');
      }
    },

    async logActivity(activity) {
      const mapping = config.activities;
      if (!mapping) throw new CrmError('rejected', 'this SQL CRM has no activities table configured (activities in the connector configuration)');
      const occurredAt = new Date(activity.occurredAt);
      if (Number.isNaN(occurredAt.getTime())) throw new CrmError('rejected', `occurredAt "${activity.occurredAt}" is not a date`);
      const findLogged = async (db: Knex) =>
        (await db(mapping.table).select({ id: mapping.columns.id }).where(mapping.columns.hubActivityId, activity.hubActivityId).first()) as
          | { id: unknown }
          | undefined;
      try {
        return await sql.transaction(
          async (trx) => {
            const logged = await findLogged(trx);
            if (logged) return { externalId: String(logged.id) };
            const id = await insertReturningId(trx, dialect, mapping.table, activityRow(mapping.columns, activity, occurredAt), mapping.columns.id);
            return { externalId: String(id) };
          },
          { lockKey: `activity:${mapping.table}:${activity.hubActivityId}` },
        );
      } catch (error) {
        // A unique index on the hub id caught a writer outside our lock: the activity is logged, which is what was asked.
        if (!isUniqueViolation(error)) throw error;
        const logged = await sql.query(findLogged);
        if (!logged) throw error;
        return { externalId: String(logged.id) };
      }
    },

    async updateDealStatus(input) {
      const mapping = config.deals;
      if (!mapping) throw new CrmError('rejected', 'this SQL CRM has no deals table configured (deals in the connector configuration)');
      const value = mapping.statusMap ? mapping.statusMap[input.status] : input.status;
      if (value === undefined) {
        throw new CrmError('rejected', `status "${input.status}" has no value in this CRM (statusMap knows ${Object.keys(mapping.statusMap ?? {}).join(', ')})`);
      }
      const dc = mapping.columns;
      const changed = await sql.query(async (db) => {
        const assignments: Record<string, unknown> = { [dc.status]: value };
        if (dc.note && input.note !== undefined) assignments[dc.note] = input.note;
        if (dc.version) assignments[dc.version] = db.raw('COALESCE(??, 0) + 1', [dc.version]);
        if (dc.updatedAt) assignments[dc.updatedAt] = db.fn.now();
        return db(mapping.table).where(dc.id, input.dealExternalId).update(assignments);
      });
      if (changed === 0) throw new CrmError('rejected', `SQL CRM has no deal ${input.dealExternalId} in ${mapping.table}`);
    },

    async listChangedContacts(query) {
      // Never cached: a poll asks what is new.
      return sql.query((db) => readChangedContacts(db, { config, dialect, source, settleSeconds: config.changeSettleSeconds }, query));
    },

    async close() {
      await sql.close();
    },
  };

  async function upsert(contact: ContactInput): Promise<UpsertResult> {
    const key = phoneKey(contact.phone, config.defaultRegion, 'write');
    const expected = contact.expectedVersion;
    if (expected !== undefined && !isWellFormedToken(dialect, source, expected)) {
      throw new CrmError('rejected', `expectedVersion "${expected}" is not a version this CRM issued`);
    }
    const write = { contact, key, ...splitFields(toCrmFields(contact.fields, config), config.extraColumns) };
    try {
      // The named lock serializes writers of this phone across processes, so
      // "find, then insert" cannot create two records even without a unique
      // constraint; FOR UPDATE holds the found row against other programs.
      return await sql.transaction(
        async (trx) => {
          const [existing] = await contacts.findByPhone(trx, key, { forUpdate: true });
          if (existing) return contacts.update(trx, existing, write);
          if (expected !== undefined) {
            throw new VersionConflictError(`SQL CRM: the contact with phone ${key.e164} no longer exists (the write was based on version ${expected})`);
          }
          return contacts.insert(trx, write);
        },
        { lockKey: `contact:${config.table}:${key.e164}` },
      );
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // A unique index on the phone caught a writer outside our lock (the
      // legacy CRM's own screens): the record exists now, and the next
      // attempt updates it. Any other unique index refused the data itself.
      const now = await sql.query((db) => contacts.findByPhone(db, key, { forUpdate: false }));
      if (now.length === 0) throw error;
      throw new CrmError('unavailable', `SQL CRM: another writer created the contact with phone ${key.e164} at the same moment; retrying updates it`, {
        cause: error,
      });
    }
  }
}

interface ContactWrite {
  contact: ContactInput;
  key: PhoneKey;
  /** Values of mapped extra columns. */
  columns: Record<string, unknown>;
  /** Fields for the JSON fields column. */
  json: Record<string, unknown>;
}

/** Queries on the contacts table, for the configured mapping. */
class ContactTable {
  private readonly c: SqlCrmConfig['columns'];

  constructor(
    private readonly config: SqlCrmConfig,
    private readonly dialect: SqlDialect,
    private readonly source: VersionSource,
  ) {
    this.c = config.columns;
  }

  private select(db: Knex): Knex.QueryBuilder {
    return db(this.config.table).select(contactSelection(db, this.dialect, this.config, this.source));
  }

  private wherePhone(db: Knex, query: Knex.QueryBuilder, key: PhoneKey): Knex.QueryBuilder {
    if (this.config.phoneFormat === 'e164') return query.where(this.c.phone, key.e164);
    return query.where(phoneSuffixCondition(db, this.dialect, this.c.phone, key));
  }

  private confirmPhones(rows: ContactRow[], key: PhoneKey): ContactRow[] {
    if (this.config.phoneFormat === 'e164') return rows;
    return rows.filter((row) => storedPhoneMatches(rowPhone(row), key, this.config.defaultRegion));
  }

  /** Records of this phone, oldest first (legacy tables may hold duplicates; writes go to the oldest). */
  async findByPhone(db: Knex, key: PhoneKey, options: { forUpdate: boolean }): Promise<ContactRow[]> {
    let query = this.wherePhone(db, this.select(db), key).orderBy(this.c.id).limit(candidateLimit);
    if (options.forUpdate) query = query.forUpdate();
    return this.confirmPhones((await query) as ContactRow[], key);
  }

  async find(db: Knex, query: ContactQuery & { key?: PhoneKey | undefined }): Promise<CrmContact[]> {
    let builder = this.select(db);
    if (query.externalId !== undefined) builder = builder.where(this.c.id, query.externalId);
    if (query.email !== undefined) {
      if (!this.c.email) return [];
      builder = builder.whereRaw('LOWER(??) = ?', [this.c.email, query.email.toLowerCase()]);
    }
    if (query.key) builder = this.wherePhone(db, builder, query.key);
    const rows = (await builder.orderBy(this.c.id).limit(candidateLimit)) as ContactRow[];
    return (query.key ? this.confirmPhones(rows, query.key) : rows).map((row) => rowToContact(row, this.config));
  }

  async update(trx: Knex.Transaction, row: ContactRow, write: ContactWrite): Promise<UpsertResult> {
    const { contact } = write;
    const id = rowId(row);
    const assignments: Record<string, unknown> = { ...write.columns, ...bumpAssignments(trx, this.dialect, this.source) };
    // Fields the write leaves out keep what the CRM already knows.
    if (this.c.name && contact.name !== undefined) assignments[this.c.name] = contact.name;
    if (this.c.email && contact.email !== undefined) assignments[this.c.email] = contact.email;
    if (this.c.fields && Object.keys(write.json).length > 0) {
      const stored = readStoredFields(rowFields(row));
      if (!stored.ok) {
        throw new CrmError('rejected', `SQL CRM: ${this.c.fields} of contact ${String(id)} holds text that is not a JSON object; the connector will not overwrite it`);
      }
      assignments[this.c.fields] = JSON.stringify({ ...stored.value, ...write.json });
    }
    // Compare-and-set: without expectedVersion, against the version just read,
    // so the merge above never overwrites a change made in between.
    const basedOn = contact.expectedVersion ?? rowVersion(row);
    const changed = await trx(this.config.table)
      .where(this.c.id, id)
      .whereRaw(`${tokenSql(this.dialect, this.source)} = ?`, [this.source.column, basedOn])
      .update(assignments);
    if (changed === 0) {
      if (contact.expectedVersion !== undefined) {
        throw new VersionConflictError(
          `SQL CRM: contact ${String(id)} changed since version ${contact.expectedVersion} (now ${rowVersion(row)}); re-read it and merge`,
          rowVersion(row),
        );
      }
      throw new CrmError('unavailable', `SQL CRM: contact ${String(id)} changed while it was being written; retrying merges again`);
    }
    return { externalId: String(id), created: false, version: await this.versionOf(trx, id) };
  }

  async insert(trx: Knex.Transaction, write: ContactWrite): Promise<UpsertResult> {
    const { contact } = write;
    // New records are stored in E.164 whatever the table's old rows look like: keep new data normal.
    const row: Record<string, unknown> = { [this.c.phone]: write.key.e164, ...write.columns, ...initialAssignments(trx, this.source) };
    if (this.c.name && contact.name !== undefined) row[this.c.name] = contact.name;
    if (this.c.email && contact.email !== undefined) row[this.c.email] = contact.email;
    if (this.c.fields) row[this.c.fields] = JSON.stringify(write.json);
    const id = await insertReturningId(trx, this.dialect, this.config.table, row, this.c.id);
    return { externalId: String(id), created: true, version: await this.versionOf(trx, id) };
  }

  private async versionOf(trx: Knex.Transaction, id: RowId): Promise<string> {
    const rows = (await trx(this.config.table)
      .select(tokenExpression(trx, this.dialect, this.source, versionAlias))
      .where(this.c.id, id)) as ContactRow[];
    const [row] = rows;
    if (!row) throw new CrmError('unavailable', `SQL CRM: contact ${String(id)} vanished inside its own transaction`);
    return rowVersion(row);
  }
}

/** The new row's id: RETURNING where the dialect has it, the auto-increment id on MariaDB/MySQL. */
async function insertReturningId(trx: Knex.Transaction, dialect: SqlDialect, table: string, row: Record<string, unknown>, idColumn: string): Promise<RowId> {
  if (dialect === 'mysql') {
    const [insertId] = (await trx(table).insert(row)) as unknown[];
    if (insertId === undefined || insertId === 0 || insertId === '0') {
      throw new CrmError('rejected', `SQL CRM: ${table}.${idColumn} is not generated by the database (AUTO_INCREMENT); the connector cannot create records`);
    }
    return asRowId(insertId, 'a new row\'s');
  }
  const [inserted] = (await trx(table).insert(row, [idColumn])) as Record<string, unknown>[];
  return asRowId(inserted?.[idColumn], `the new row's`);
}

function activityRow(columns: NonNullable<SqlCrmConfig['activities']>['columns'], activity: ActivityInput, occurredAt: Date): Record<string, unknown> {
  const row: Record<string, unknown> = {
    [columns.contactId]: activity.contactExternalId,
    [columns.hubActivityId]: activity.hubActivityId,
    [columns.occurredAt]: occurredAt,
    [columns.subject]: activity.subject,
  };
  if (columns.kind) row[columns.kind] = activity.kind;
  if (columns.direction && activity.direction !== undefined) row[columns.direction] = activity.direction;
  if (columns.body && activity.body !== undefined) row[columns.body] = activity.body;
  if (columns.durationSeconds && activity.durationSeconds !== undefined) row[columns.durationSeconds] = activity.durationSeconds;
  return row;
}
