// Change detection on a legacy table that no CRM webhook covers: rows are read in
// the order of the mapping's updated-at column, ties broken by id, from a cursor
// (updated-at, id). A version column cannot serve: it counts per row, not across
// the table.
//
// Two things make a naive "updated_at > last seen" lose rows, and both are handled:
// - ties: many rows share one stamp (a DATETIME holds one value per second), and a
//   page may end in the middle of them. The cursor carries the id as well.
// - late commits: a transaction stamps its rows when it writes them but they become
//   visible when it commits, possibly after a poll has passed that stamp. The cursor
//   therefore never moves past rows stamped within `settleSeconds` of the database's
//   clock; such rows are still reported at once, and again on the next poll until they
//   settle (the hub recognizes a repeated state by its marker).
//
// The cursor holds the stamp as the database prints it (`::text` in PostgreSQL, a
// microsecond DATE_FORMAT in MariaDB/MySQL) and is compared to the column as a
// literal of the column's own type, so the comparison is exact and an index on
// (updated_at, id) serves it.
import type { Knex } from 'knex';
import { CrmError } from '../sdk/errors.js';
import type { SqlDialect } from '../sdk/sql.js';
import type { ChangedContact, ChangedContactsPage, ChangedContactsQuery } from '../sdk/types.js';
import type { SqlCrmConfig } from './config.js';
import { contactSelection, rowId, rowToContact, rowVersion, type ContactRow } from './records.js';
import type { VersionSource } from './versions.js';

/** `from`: no row read yet, start at this epoch second (absent: the first row). `at`/`id`: the last settled row read. */
type SqlChangeCursor = { v: 1; from?: number | undefined } | { v: 1; at: string; id: string };

const changeAtAlias = 'hub_change_at';
const settledAlias = 'hub_settled';

export function encodeCursor(cursor: SqlChangeCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): SqlChangeCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new CrmError('rejected', 'SQL CRM: the change cursor is not one this connector issued');
  }
  const cursor = parsed as Partial<{ v: number; from: number; at: string; id: string }>;
  const valid =
    cursor !== null &&
    typeof cursor === 'object' &&
    cursor.v === 1 &&
    (typeof cursor.at === 'string' ? typeof cursor.id === 'string' : cursor.from === undefined || typeof cursor.from === 'number');
  if (!valid) throw new CrmError('rejected', 'SQL CRM: the change cursor is not one this connector issued');
  return cursor as SqlChangeCursor;
}

/**
 * Where the first poll starts. A legacy stamp often holds whole seconds, so a row
 * changed a moment after `startAt` within the same second carries a stamp before it;
 * and a transaction may have stamped rows just before `startAt` and commit after the
 * first poll. The start is therefore the whole second, less the settle window: a
 * change from just before polling began may be reported, none after it is lost.
 */
export function initialCursor(startAt: string | undefined, settleSeconds: number): SqlChangeCursor {
  if (startAt === undefined) return { v: 1 };
  const ms = Date.parse(startAt);
  if (Number.isNaN(ms)) throw new CrmError('rejected', `SQL CRM: startAt "${startAt}" is not a date`);
  return { v: 1, from: Math.floor(ms / 1000) - Math.max(0, Math.ceil(settleSeconds)) };
}

/** The stamp as text that casts back to the same value of the column's type. */
function stampTextSql(dialect: SqlDialect): string {
  switch (dialect) {
    case 'postgres':
      return '??::text';
    case 'mysql':
      return "DATE_FORMAT(??, '%Y-%m-%d %H:%i:%s.%f')";
    default:
      throw new CrmError('rejected', `SQL CRM: polling for changes is implemented for PostgreSQL and MariaDB/MySQL, not ${dialect}`);
  }
}

/** 1 when the row's stamp is older than the settle window on the database's own clock. */
function settledSql(dialect: SqlDialect): string {
  return dialect === 'postgres'
    ? "CASE WHEN ?? <= statement_timestamp() - (? * interval '1 second') THEN 1 ELSE 0 END"
    : 'CASE WHEN ?? <= NOW(6) - INTERVAL ? SECOND THEN 1 ELSE 0 END';
}

function fromEpochSql(dialect: SqlDialect): string {
  return dialect === 'postgres' ? 'to_timestamp(?)' : 'FROM_UNIXTIME(?)';
}

export interface ChangeReaderOptions {
  config: SqlCrmConfig;
  dialect: SqlDialect;
  source: VersionSource;
  settleSeconds: number;
}

export async function readChangedContacts(db: Knex, options: ChangeReaderOptions, query: ChangedContactsQuery): Promise<ChangedContactsPage> {
  const { config, dialect, source, settleSeconds } = options;
  const stamp = config.columns.updatedAt;
  if (!stamp) {
    throw new CrmError('rejected', 'SQL CRM: polling for changes needs an updated-at column (columns.updatedAt); a version column counts per row and cannot order changes');
  }
  const idColumn = config.columns.id;
  const cursor = query.since === null ? initialCursor(query.startAt, settleSeconds) : decodeCursor(query.since);
  const limit = Math.max(1, Math.min(query.limit, 1000));

  let builder = db(config.table)
    .select([
      ...contactSelection(db, dialect, config, source),
      db.raw(`${stampTextSql(dialect)} AS ??`, [stamp, changeAtAlias]),
      db.raw(`${settledSql(dialect)} AS ??`, [stamp, settleSeconds, settledAlias]),
    ])
    .whereNotNull(stamp);
  if ('at' in cursor) {
    const { at, id } = cursor;
    builder = builder.where((where) => where.where(stamp, '>', at).orWhere((tie) => tie.where(stamp, '=', at).andWhere(idColumn, '>', id)));
  } else if (cursor.from !== undefined) {
    builder = builder.whereRaw(`?? >= ${fromEpochSql(dialect)}`, [stamp, cursor.from]);
  }
  const rows = (await builder.orderBy([stamp, idColumn]).limit(limit)) as ContactRow[];

  const contacts: ChangedContact[] = rows.map((row) => {
    const contact = rowToContact(row, config);
    const at = String(row[changeAtAlias]);
    return { ...contact, modifiedMarker: source.kind === 'version' ? `${at}#v${rowVersion(row)}` : at };
  });
  // Settled rows are a prefix of the page (the order is the stamp's); the cursor moves to its end.
  let next: SqlChangeCursor = cursor;
  let settledCount = 0;
  for (const row of rows) {
    if (Number(row[settledAlias]) !== 1) break;
    next = { v: 1, at: String(row[changeAtAlias]), id: String(rowId(row)) };
    settledCount += 1;
  }
  return { contacts, cursor: encodeCursor(next), more: rows.length === limit && settledCount === rows.length };
}
