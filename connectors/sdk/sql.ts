// The SQL client a SQL-CRM connector receives: one knex query builder for
// PostgreSQL and MariaDB/MySQL (tested), MS SQL and Oracle (offered, untested).
// Every query and transaction goes through the instance's limiter, because a
// legacy CRM database has limits too (a handful of connections, a busy server);
// failures are classified here, once, into "refused" or "unavailable", so
// connector code holds no sleeps, no retry loops and no error-code guessing.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import { CrmError } from './errors.js';
import type { RequestLimiter } from './limits/types.js';

export type SqlDialect = 'postgres' | 'mysql' | 'mssql' | 'oracle';

/** A plain SQL identifier: table and column names come from configuration and are never free text. */
export const sqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

/** A table name, optionally schema-qualified ("crm.clients", "dbo.Clients"). */
export const sqlTableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, 'must be a plain SQL table name, optionally schema.table');

const dialectsByScheme: Record<string, SqlDialect> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  mssql: 'mssql',
  sqlserver: 'mssql',
  oracle: 'oracle',
};

/** The dialect a connection URL names by its scheme (postgres://, mysql://, mariadb://, mssql://, oracle://). */
export function dialectOfUrl(connection: string): SqlDialect | undefined {
  const scheme = /^([a-z0-9+.-]+):/i.exec(connection)?.[1]?.toLowerCase();
  return scheme === undefined ? undefined : dialectsByScheme[scheme];
}

export interface CrmSqlClientOptions {
  dialect: SqlDialect;
  /** Connection URL, e.g. postgres://user:pass@host:5432/crm, mysql://user:pass@host:3306/crm. */
  connection: string;
  limiter: RequestLimiter;
  /** Connections kept at most; the limiter's concurrency should not exceed it (jobs would queue twice). */
  poolSize?: number;
  /** Longest wait for a new connection before the database counts as unavailable. */
  connectTimeoutMs?: number;
  /** Longest a statement (and a wait for a row or named lock) may take before it counts as unavailable. */
  queryTimeoutMs?: number;
}

export interface SqlTransactionOptions {
  /**
   * Serializes every transaction with the same key, across processes, for the
   * whole transaction: PostgreSQL `pg_advisory_xact_lock`, MariaDB/MySQL
   * `GET_LOCK` (held until after commit), MS SQL `sp_getapplock`, Oracle
   * `DBMS_LOCK` (the last two untested). It guards "find, then insert" where
   * `SELECT ... FOR UPDATE` cannot: there is no row yet to lock.
   */
  lockKey?: string;
}

export interface CrmSqlClient {
  readonly dialect: SqlDialect;
  /** Runs one or more statements on pooled connections as one limiter job. */
  query<T>(work: (db: Knex) => Promise<T>): Promise<T>;
  /** Runs `work` in one transaction as one limiter job; commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>, options?: SqlTransactionOptions): Promise<T>;
  close(): Promise<void>;
}

// The drivers knex loads lazily. Only pg and mysql2 are dependencies of the hub;
// the others are named here so using their dialect without them fails clearly.
const drivers: Record<SqlDialect, { knexClient: string; packageName: string; tested: boolean }> = {
  postgres: { knexClient: 'pg', packageName: 'pg', tested: true },
  mysql: { knexClient: 'mysql2', packageName: 'mysql2', tested: true },
  mssql: { knexClient: 'mssql', packageName: 'tedious', tested: false },
  oracle: { knexClient: 'oracledb', packageName: 'oracledb', tested: false },
};

export function createCrmSqlClient(options: CrmSqlClientOptions): CrmSqlClient {
  const { dialect, limiter } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 15_000;
  const lockTimeoutSeconds = Math.max(1, Math.ceil(queryTimeoutMs / 1000));
  requireDriver(dialect);

  // Knex prefixes every driver error with the failed SQL; the database's own words are kept here for the CRM's message.
  const databaseMessages = new WeakMap<object, string>();
  const db = knexFactory({
    client: drivers[dialect].knexClient,
    connection: connectionSettings(dialect, options.connection, connectTimeoutMs, queryTimeoutMs),
    // min 0: an idle hub holds none of a legacy database's scarce connections.
    pool: {
      min: 0,
      max: options.poolSize ?? 5,
      ...(dialect === 'mysql' ? { afterCreate: mysqlSessionSetup(lockTimeoutSeconds) } : {}),
    },
    acquireConnectionTimeout: connectTimeoutMs + queryTimeoutMs,
    // Bound values (phones, names) stay out of error messages and logs.
    compileSqlOnError: false,
    log: knexLog,
  });
  db.client.on('query-error', (error: unknown, query: { sql?: unknown }) => {
    if (error instanceof Error && typeof query.sql === 'string' && error.message.startsWith(`${query.sql} - `)) {
      databaseMessages.set(error, error.message.slice(query.sql.length + 3));
    }
  });

  const fail = (error: unknown): never => {
    const classified = classifySqlError(error, databaseMessages.get(error as object));
    if (classified.details.code === tooManyConnections) limiter.onThrottled({});
    throw classified;
  };

  async function run<T>(job: () => Promise<T>): Promise<T> {
    return limiter.schedule(async () => {
      try {
        const result = await job();
        limiter.onSuccess();
        return result;
      } catch (error) {
        return fail(error);
      }
    });
  }

  return {
    dialect,
    query: (work) => run(() => work(db)),
    transaction: (work, transactionOptions = {}) => {
      const { lockKey } = transactionOptions;
      if (lockKey === undefined) return run(() => db.transaction(work, transactionConfig(dialect)));
      return run(() => lockedTransaction(db, dialect, lockKey, lockTimeoutSeconds, work));
    },
    async close() {
      await db.destroy();
    },
  };
}

// InnoDB defaults to REPEATABLE READ, where a locking read of a missing row
// takes a gap lock, and two writers inserting different new rows into the same
// gap deadlock. READ COMMITTED (PostgreSQL's, MS SQL's and Oracle's default)
// takes no gap locks, and makes the connector behave alike on every dialect.
function transactionConfig(dialect: SqlDialect): Knex.TransactionConfig {
  return dialect === 'mysql' ? { isolationLevel: 'read committed' } : {};
}

// Knex also logs every failed connection attempt; that error reaches the caller
// as CrmError('unavailable') (and the hub's logs from there), so printing it
// here too would only double every outage line. Other warnings are kept.
const knexLog = {
  warn(message: string) {
    if (!message.startsWith('Acquire connection error')) console.warn(`knex: ${message}`);
  },
  error(message: string) {
    console.error(`knex: ${message}`);
  },
  deprecate(method: string, alternative: string) {
    console.warn(`knex: ${method} is deprecated, use ${alternative}`);
  },
  debug: () => undefined,
};

function requireDriver(dialect: SqlDialect): void {
  const { packageName, tested } = drivers[dialect];
  try {
    // Resolved from knex's own location, which is where knex will require it.
    createRequire(createRequire(import.meta.url).resolve('knex')).resolve(packageName);
  } catch (error) {
    throw new CrmError(
      'rejected',
      `the ${dialect} dialect needs the "${packageName}" package, which the hub does not install: ` +
        `add it with \`npm install ${packageName}\`${tested ? '' : ` (the ${dialect} dialect is offered untested)`}`,
      { code: 'SQL_DRIVER_MISSING', cause: error },
    );
  }
}

function connectionSettings(dialect: SqlDialect, connection: string, connectTimeoutMs: number, queryTimeoutMs: number): Knex.Config['connection'] {
  switch (dialect) {
    case 'postgres':
      // statement_timeout also bounds waits for row and advisory locks (57014 -> unavailable).
      return { connectionString: connection, connectionTimeoutMillis: connectTimeoutMs, statement_timeout: queryTimeoutMs } as Knex.PgConnectionConfig;
    case 'mysql':
      // Big ids come back as strings instead of losing precision as JavaScript numbers.
      return { uri: connection, connectTimeout: connectTimeoutMs, supportBigNumbers: true, bigNumberStrings: true } as Knex.MySql2ConnectionConfig;
    case 'mssql': {
      const url = new URL(connection);
      return {
        server: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.slice(1)),
        connectionTimeout: connectTimeoutMs,
        requestTimeout: queryTimeoutMs,
      };
    }
    case 'oracle': {
      // oracle://user:pass@host:1521/service -> Easy Connect "host:1521/service".
      const url = new URL(connection);
      return {
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        connectString: `${url.host}${url.pathname}`,
      };
    }
  }
}

/** Row-lock waits (FOR UPDATE) are bounded like statements, and fail as retryable (1205) instead of hanging for InnoDB's 50 s. */
function mysqlSessionSetup(lockTimeoutSeconds: number) {
  return (connection: { query: (sql: string, callback: (error: unknown) => void) => void }, done: (error: unknown, connection: unknown) => void) => {
    connection.query(`SET SESSION innodb_lock_wait_timeout = ${lockTimeoutSeconds}`, (error) => done(error, connection));
  };
}

async function lockedTransaction<T>(
  db: Knex,
  dialect: SqlDialect,
  lockKey: string,
  lockTimeoutSeconds: number,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  const digest = createHash('sha256').update(lockKey).digest();
  switch (dialect) {
    case 'postgres':
      return db.transaction(async (trx) => {
        // Released by commit or rollback; waiting is bounded by statement_timeout.
        await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [digest.readBigInt64BE(0).toString()]);
        return work(trx);
      });
    case 'mssql':
      return db.transaction(async (trx) => {
        await trx.raw(
          "DECLARE @result int; EXEC @result = sp_getapplock @Resource = ?, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = ?; " +
            "IF @result < 0 THROW 51000, 'timed out waiting for the named lock', 1;",
          [`hub:${digest.toString('hex').slice(0, 40)}`, lockTimeoutSeconds * 1000],
        );
        return work(trx);
      });
    case 'oracle':
      return db.transaction(async (trx) => {
        // DBMS_LOCK needs EXECUTE on SYS.DBMS_LOCK; release_on_commit ties the lock to this transaction.
        await trx.raw(
          "DECLARE handle VARCHAR2(128); result INTEGER; BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(?, handle); " +
            "result := DBMS_LOCK.REQUEST(handle, DBMS_LOCK.X_MODE, ?, TRUE); " +
            "IF result NOT IN (0, 4) THEN RAISE_APPLICATION_ERROR(-20001, 'named lock not granted: ' || result); END IF; END;",
          [`hub:${digest.toString('hex').slice(0, 40)}`, lockTimeoutSeconds],
        );
        return work(trx);
      });
    case 'mysql':
      return mysqlLockedTransaction(db, `hub:${digest.toString('hex').slice(0, 40)}`, lockTimeoutSeconds, work);
  }
}

// GET_LOCK belongs to the session, not the transaction: it is taken before
// BEGIN and released after COMMIT on the same connection, so the next writer
// of the key only starts once this one's rows are visible.
async function mysqlLockedTransaction<T>(db: Knex, name: string, timeoutSeconds: number, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const connection: { __knex__disposed?: unknown } = await db.client.acquireConnection();
  try {
    const [rows] = (await db.raw('SELECT GET_LOCK(?, ?) AS granted', [name, timeoutSeconds]).connection(connection)) as [{ granted: number | null }[]];
    if (rows[0]?.granted !== 1) {
      // 0: another writer held it past the timeout; NULL: the server could not grant it.
      throw new CrmError('unavailable', `SQL CRM unavailable: the write lock for this record was not granted within ${timeoutSeconds} s`, {
        code: 'LOCK_TIMEOUT',
      });
    }
    try {
      return await db.transaction(work, { ...transactionConfig('mysql'), connection });
    } finally {
      await db
        .raw('SELECT RELEASE_LOCK(?)', [name])
        .connection(connection)
        .catch((error: unknown) => {
          // A lock left on a pooled connection would block this record's writers
          // until the connection closes: have the pool destroy the connection,
          // which releases the lock on the server.
          connection.__knex__disposed = error;
        });
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

// ---------------------------------------------------------------------------
// Error classification: data/constraint errors are the CRM refusing this write
// (retrying cannot help); everything about reaching the database, timeouts,
// deadlocks and serialization failures is "unavailable" (retry with backoff).

const tooManyConnections = 'TOO_MANY_CONNECTIONS';

/** Errors of the network and the pool, before any database answered. */
const networkCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  'ECONNABORTED', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
]);

/** SQLSTATE classes (PostgreSQL, and MySQL's sqlState) that mean the database refused this request's data. */
const rejectedSqlStateClasses = new Set([
  '0A', // feature not supported
  '21', // cardinality violation
  '22', // data exception: too long, out of range, invalid text representation
  '23', // integrity constraint violation: unique, foreign key, not null, check
  '28', // invalid authorization: wrong user or password
  '2B', // dependent privilege descriptors still exist
  '3D', // invalid catalog name: no such database
  '3F', // invalid schema name
  '42', // syntax error or access rule violation: no such table/column, no privilege
  '44', // WITH CHECK OPTION violation
  '45', // MySQL SIGNAL from a trigger: the CRM's own validation
  'P0', // PL/pgSQL RAISE from a trigger: the CRM's own validation
]);

/** PostgreSQL SQLSTATEs inside refused classes that are worth retrying all the same. */
const retryablePgStates = new Set(['53300' /* too_many_connections */]);

/** MySQL/MariaDB errno whose sqlState is the catch-all HY000, by meaning. */
const mysqlErrno: Record<number, 'rejected' | 'unavailable'> = {
  1048: 'rejected', // column cannot be null
  1062: 'rejected', // duplicate entry
  1264: 'rejected', // out of range
  1265: 'rejected', // data truncated
  1292: 'rejected', // incorrect value
  1364: 'rejected', // field has no default value
  1366: 'rejected', // incorrect value for column
  1406: 'rejected', // data too long
  1451: 'rejected', // foreign key: row is referenced
  1452: 'rejected', // foreign key: parent row missing
  1644: 'rejected', // SIGNAL from a trigger
  3819: 'rejected', // check constraint violated (MySQL)
  4025: 'rejected', // constraint failed (MariaDB)
  1040: 'unavailable', // too many connections
  1053: 'unavailable', // server shutdown in progress
  1205: 'unavailable', // lock wait timeout
  1213: 'unavailable', // deadlock
  1290: 'unavailable', // read-only (a failover in progress)
  1317: 'unavailable', // query interrupted
  1927: 'unavailable', // connection killed (MariaDB)
  1969: 'unavailable', // statement timeout (MariaDB max_statement_time)
  3024: 'unavailable', // statement timeout (MySQL max_execution_time)
  4031: 'unavailable', // idle client disconnected (MySQL)
};

/** MS SQL error numbers (untested). */
const mssqlNumbers: Record<number, 'rejected' | 'unavailable'> = {
  515: 'rejected', 547: 'rejected', 2601: 'rejected', 2627: 'rejected', 2628: 'rejected', 8152: 'rejected', 245: 'rejected', 207: 'rejected', 208: 'rejected',
  1205: 'unavailable', 1222: 'unavailable', 40613: 'unavailable', 40501: 'unavailable', 10928: 'unavailable', 10929: 'unavailable',
};

/** Oracle ORA- numbers (untested). */
const oracleNumbers: Record<number, 'rejected' | 'unavailable'> = {
  1: 'rejected', 1400: 'rejected', 1407: 'rejected', 1722: 'rejected', 2290: 'rejected', 2291: 'rejected', 2292: 'rejected', 12899: 'rejected', 904: 'rejected', 942: 'rejected',
  60: 'unavailable', 8177: 'unavailable', 3113: 'unavailable', 3114: 'unavailable', 3135: 'unavailable', 12170: 'unavailable', 12514: 'unavailable', 12541: 'unavailable',
};

/** Whether the database refused a duplicate in a unique index (the record may exist now: read again). */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof CrmError) || error.kind !== 'rejected') return false;
  const cause = (error.details.cause ?? {}) as DriverError;
  return (
    error.details.code === '23505' ||
    error.details.code === 'ER_DUP_ENTRY' ||
    cause.errno === 1062 ||
    cause.number === 2627 ||
    cause.number === 2601 ||
    cause.errorNum === 1
  );
}

interface DriverError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  detail?: unknown;
  number?: unknown;
  errorNum?: unknown;
}

/**
 * Sorts a driver error into CrmError('rejected') with the database's own
 * message (constraint, data and schema errors) or CrmError('unavailable')
 * (connection, timeout, deadlock, serialization failure, anything unknown).
 * `databaseMessage` is the driver's message without knex's SQL prefix.
 */
export function classifySqlError(error: unknown, databaseMessage?: string): CrmError {
  if (error instanceof CrmError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as DriverError;
  // PostgreSQL puts the offending key or row in `detail` ("Key (mail)=(a@b) already exists."): part of its answer.
  const detail = typeof e.detail === 'string' ? ` (${e.detail})` : '';
  const message =
    ((typeof e.sqlMessage === 'string' ? e.sqlMessage : undefined) ??
      databaseMessage ??
      (typeof e.message === 'string' ? e.message : String(error))) + detail;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const sqlState = typeof e.sqlState === 'string' ? e.sqlState : code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !networkCodes.has(code) ? code : undefined;
  const reportedCode = code ?? sqlState;

  const unavailable = (detail: string, codeOverride?: string) =>
    new CrmError('unavailable', `SQL CRM unavailable: ${detail}`, { cause: error, ...(codeOverride ?? reportedCode ? { code: codeOverride ?? reportedCode } : {}) });
  const rejected = () => new CrmError('rejected', `SQL CRM refused: ${message}`, { cause: error, ...(reportedCode ? { code: reportedCode } : {}) });

  if (e.name === 'KnexTimeoutError') {
    return unavailable('no database connection within the timeout (the server does not answer, or every connection is busy)', 'POOL_TIMEOUT');
  }
  if (code === 'ER_CON_COUNT_ERROR' || e.errno === 1040 || sqlState === '53300') return unavailable(message, tooManyConnections);
  if (code !== undefined && networkCodes.has(code)) return unavailable(message);

  const byNumber =
    (typeof e.errno === 'number' ? mysqlErrno[e.errno] : undefined) ??
    (typeof e.number === 'number' ? mssqlNumbers[e.number] : undefined) ??
    (typeof e.errorNum === 'number' ? oracleNumbers[e.errorNum] : undefined);
  if (byNumber === 'rejected') return rejected();
  if (byNumber === 'unavailable') return unavailable(message);

  if (sqlState !== undefined && !retryablePgStates.has(sqlState) && rejectedSqlStateClasses.has(sqlState.slice(0, 2))) return rejected();
  // 08 connection, 40 deadlock/serialization, 53 resources, 57 timeouts and shutdowns,
  // 55P03 lock not available, 58/XX server faults, and anything unrecognised:
  // a database that cannot answer now may answer later.
  return unavailable(message);
}
