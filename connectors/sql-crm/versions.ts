// Optimistic concurrency on legacy tables: the concurrency token is a version
// column when there is one, else the updated-at column. Reads return it, writes
// compare it in their WHERE clause and move it forward, so a writer holding an
// old token changes nothing and learns about it (VersionConflictError).
//
// An updated-at token is only as good as the column's resolution: a DATETIME
// without fractions holds one value per second, and two writes in the same
// second would leave the same token behind. Writes therefore move it to
// max(now, previous + 1 second), so it changes on every write at any
// resolution; a record written several times within a second ends up a little
// ahead of the clock. Tokens are compared exactly in SQL (epoch microseconds on
// PostgreSQL, a fixed text format elsewhere), never through JavaScript Dates,
// which would drop microseconds.
import type { Knex } from 'knex';
import type { SqlDialect } from '../sdk/sql.js';

export type VersionSource = { kind: 'version'; column: string; touch?: string | undefined } | { kind: 'updatedAt'; column: string };

export function versionSource(columns: { version?: string | undefined; updatedAt?: string | null | undefined }): VersionSource | undefined {
  if (columns.version) return { kind: 'version', column: columns.version, touch: columns.updatedAt ?? undefined };
  if (columns.updatedAt) return { kind: 'updatedAt', column: columns.updatedAt };
  return undefined;
}

/** SQL for the token of a row, as the text or integer reads return and writes compare. NULL reads as "0". */
export function tokenSql(dialect: SqlDialect, source: VersionSource): string {
  if (source.kind === 'version') return 'COALESCE(??, 0)';
  switch (dialect) {
    case 'postgres':
      return 'COALESCE(CAST(ROUND(EXTRACT(EPOCH FROM ??) * 1000000) AS bigint), 0)';
    case 'mysql':
      return "COALESCE(DATE_FORMAT(??, '%Y%m%d%H%i%s%f'), '0')";
    case 'mssql':
      return "COALESCE(CONVERT(varchar(30), ??, 126), '0')";
    case 'oracle':
      return "COALESCE(TO_CHAR(CAST(?? AS TIMESTAMP), 'YYYYMMDDHH24MISSFF6'), '0')";
  }
}

export function tokenExpression(db: Knex, dialect: SqlDialect, source: VersionSource, alias?: string): Knex.Raw {
  return alias === undefined
    ? db.raw(tokenSql(dialect, source), [source.column])
    : db.raw(`${tokenSql(dialect, source)} AS ??`, [source.column, alias]);
}

/** A token the caller sends must have the shape this source produces; a malformed one is a caller bug, not a conflict. */
export function isWellFormedToken(dialect: SqlDialect, source: VersionSource, token: string): boolean {
  if (source.kind === 'version' || dialect === 'postgres') return /^-?\d{1,20}$/.test(token);
  return token.length > 0 && token.length <= 40;
}

/** Column assignments that move the token forward on an update. */
export function bumpAssignments(db: Knex, dialect: SqlDialect, source: VersionSource): Record<string, Knex.Raw> {
  if (source.kind === 'version') {
    return {
      [source.column]: db.raw('COALESCE(??, 0) + 1', [source.column]),
      ...(source.touch ? { [source.touch]: db.fn.now() } : {}),
    };
  }
  return { [source.column]: db.raw(nextTimestampSql(dialect), Array(nextTimestampColumnUses[dialect]).fill(source.column)) };
}

/** Column values of a new row. */
export function initialAssignments(db: Knex, source: VersionSource): Record<string, Knex.Raw | number> {
  if (source.kind === 'version') return { [source.column]: 1, ...(source.touch ? { [source.touch]: db.fn.now() } : {}) };
  return { [source.column]: db.fn.now() };
}

const nextTimestampColumnUses: Record<SqlDialect, number> = { postgres: 1, mysql: 1, mssql: 3, oracle: 1 };

function nextTimestampSql(dialect: SqlDialect): string {
  switch (dialect) {
    case 'postgres':
      // GREATEST ignores NULL in PostgreSQL.
      return "GREATEST(CURRENT_TIMESTAMP, ?? + INTERVAL '1 second')";
    case 'mysql':
      // GREATEST returns NULL if any argument is NULL in MySQL.
      return 'COALESCE(GREATEST(CURRENT_TIMESTAMP(6), ?? + INTERVAL 1 SECOND), CURRENT_TIMESTAMP(6))';
    case 'mssql':
      return 'CASE WHEN ?? IS NULL OR DATEADD(second, 1, ??) < SYSDATETIME() THEN SYSDATETIME() ELSE DATEADD(second, 1, ??) END';
    case 'oracle':
      return "GREATEST(SYSTIMESTAMP, NVL(?? + INTERVAL '1' SECOND, SYSTIMESTAMP))";
  }
}
