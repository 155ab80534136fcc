// The hub's PostgreSQL through Prisma's driver adapter (no engine binary). Prisma
// runs on a pg pool the hub owns, so the few statements on a journey's hot path
// can use the same connections without Prisma's per-query work (see sqlPoolOf).
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.js';

export type Db = PrismaClient;
export type SqlPool = pg.Pool;
export { Prisma, TaskStatus } from './generated/client.js';

const pools = new WeakMap<Db, SqlPool>();

export function createDb(databaseUrl: string, options: { poolSize?: number } = {}): Db {
  // A database that does not answer fails a connection attempt in 10 s instead of holding the caller.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000 });
  // An idle connection the server drops (a restart, a cut network) is taken out of the pool, and the
  // next query connects again or fails with its own error (a 503 at the API). Without a listener
  // here, that 'error' event would end the process whenever the hot-path SQL used the pool before
  // Prisma attached its own.
  pool.on('error', () => undefined);
  // $disconnect ends the pool as well.
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool under a client made by createDb: for hot-path statements written in
 * SQL (prepared by name, no query planning in Prisma). Everything else uses Prisma.
 */
export function sqlPoolOf(db: Db): SqlPool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this Prisma client was not made by createDb: it has no pg pool to share');
  return pool;
}
