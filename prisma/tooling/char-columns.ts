// Makes PostgreSQL's internal one-byte type "char" (OID 18) readable by the
// schema engine through @prisma/adapter-pg 7.10, which rejects such result
// columns as an unsupported native type. The engine reads them whenever it
// describes a database (pg_constraint.contype, pg_class.relkind, ...), so
// without this `diff` fails on any database that has tables.
//
// Two steps, because the adapter offers no hook for column types:
// 1. on the pg connection, announce "char" columns as text (OID 25) so the
//    adapter accepts them (their values already arrive as one-letter
//    strings), and remember which columns they were, keyed by the rows array
//    the adapter passes through unchanged;
// 2. around the adapter, report those columns as Character again, because
//    the engine reads them as chars and rejects text there.
// Only the tooling uses this; the application's Prisma client never reads
// catalogs.
import {
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlQuery,
  type SqlQueryable,
  type SqlResultSet,
} from '@prisma/driver-adapter-utils';
import pg from 'pg';

const CHAR_OID = 18;
const TEXT_OID = 25;

const charColumnsByRows = new WeakMap<object, number[]>();

type QueryFn = (...args: unknown[]) => unknown;

export function createEnginePool(connectionString: string): pg.Pool {
  // idleTimeoutMillis 0: the engine holds Prisma's session-level advisory lock
  // on one of these connections; closing it while idle would drop the lock.
  const pool = new pg.Pool({ connectionString, max: 4, idleTimeoutMillis: 0 });
  // 'connect' fires once per new physical connection, before the pool hands it out.
  pool.on('connect', (client) => {
    const original = client.query.bind(client) as QueryFn;
    const patched: QueryFn = (...args) => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (error: unknown, result: unknown) => {
          if (!error) announceCharAsText(result);
          (callback as (error: unknown, result: unknown) => void)(error, result);
        };
        return original(...args);
      }
      const returned = original(...args);
      return returned instanceof Promise ? returned.then(announceCharAsText) : returned;
    };
    client.query = patched as typeof client.query;
  });
  return pool;
}

function announceCharAsText(result: unknown): unknown {
  // Multi-statement scripts resolve to one result per statement.
  for (const single of Array.isArray(result) ? result : [result]) {
    const { fields, rows } = (single ?? {}) as Partial<pg.QueryResult>;
    if (fields === undefined || rows === undefined) continue;
    const charColumns: number[] = [];
    fields.forEach((field, index) => {
      if (field.dataTypeID !== CHAR_OID) return;
      field.dataTypeID = TEXT_OID;
      charColumns.push(index);
    });
    if (charColumns.length > 0) charColumnsByRows.set(rows, charColumns);
  }
  return result;
}

/** Wraps an adapter (and the transactions it starts) to restore Character columns. */
export function withCharColumns<T extends SqlQueryable>(target: T): T {
  return new Proxy(target, {
    get(object, property) {
      if (property === 'queryRaw') {
        return async (query: SqlQuery) => restoreCharColumns(await object.queryRaw(query));
      }
      if (property === 'startTransaction' && 'startTransaction' in object) {
        const adapter = object as unknown as SqlDriverAdapter;
        return async (...args: Parameters<SqlDriverAdapter['startTransaction']>) =>
          withCharColumns(await adapter.startTransaction(...args));
      }
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

function restoreCharColumns(result: SqlResultSet): SqlResultSet {
  const charColumns = charColumnsByRows.get(result.rows);
  if (charColumns === undefined) return result;
  const columnTypes = [...result.columnTypes];
  for (const index of charColumns) columnTypes[index] = ColumnTypeEnum.Character;
  return { ...result, columnTypes };
}
