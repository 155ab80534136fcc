// Test helpers for the SQL CRM: a limiter that lets everything through (and
// counts it), a connector context around it, and throwaway databases on the
// real PostgreSQL and MariaDB servers of the test machine.
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { inject } from 'vitest';
import { runAdminSql } from '../../core/db/admin.js';
import { ReadCache } from '../sdk/cache.js';
import type { ConnectorContext } from '../sdk/define.js';
import type { CrmHttpClient } from '../sdk/http.js';
import type { LimiterSnapshot, RequestLimiter } from '../sdk/limits/types.js';

/** Runs every job at once; counts them so tests can see that statements went through the limiter. */
export interface PassThroughLimiter extends RequestLimiter {
  readonly scheduled: number;
}

export function passThroughLimiter(): PassThroughLimiter {
  let scheduled = 0;
  let succeeded = 0;
  let throttled = 0;
  return {
    get scheduled() {
      return scheduled;
    },
    schedule<T>(job: () => Promise<T>): Promise<T> {
      scheduled += 1;
      return job();
    },
    onThrottled: () => {
      throttled += 1;
    },
    onRateLimitHeaders: () => undefined,
    onSuccess: () => {
      succeeded += 1;
    },
    snapshot: (): LimiterSnapshot => ({ allowedPerSecond: Number.POSITIVE_INFINITY, throttledResponses: throttled, succeeded, queued: 0, shared: false }),
    close: async () => undefined,
  };
}

const noHttp: CrmHttpClient = {
  request: () => Promise.reject(new Error('the SQL CRM makes no HTTP requests')),
};

export function sqlCrmTestContext<Config>(config: Config, limiter: RequestLimiter = passThroughLimiter()): ConnectorContext<Config> {
  return { instanceId: `test-${randomUUID()}`, config, http: noHttp, limiter, cache: new ReadCache(5_000) };
}

export type TestDialect = 'postgres' | 'mariadb';

/** A database to create tables in, dropped (with what the test created) by `drop`. */
export interface TestCrmDatabase {
  dialect: TestDialect;
  url: string;
  /** Appended to table names so concurrent runs never share a table. */
  suffix: string;
  /** A knex handle on the database, for creating tables and checking rows behind the connector's back. */
  db: Knex;
  /** The same server on a port where nothing listens. */
  unreachableUrl(port: number): string;
  drop(): Promise<void>;
}

export async function createTestCrmDatabase(dialect: TestDialect): Promise<TestCrmDatabase> {
  const suffix = randomUUID().replaceAll('-', '').slice(0, 10);
  const unreachable = (url: string) => (port: number) => {
    const parsed = new URL(url);
    parsed.port = String(port);
    return parsed.toString();
  };
  if (dialect === 'postgres') {
    const admin = inject('postgresUrl');
    const name = `sqlcrm_${suffix}`;
    await runAdminSql(admin, `CREATE DATABASE ${name}`);
    const parsed = new URL(admin);
    parsed.pathname = `/${name}`;
    const url = parsed.toString();
    const db = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
    return {
      dialect,
      url,
      suffix,
      db,
      unreachableUrl: unreachable(url),
      async drop() {
        await db.destroy();
        await runAdminSql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }
  const url = inject('mariadbUrl');
  const db = knexFactory({ client: 'mysql2', connection: url, pool: { min: 0, max: 2 } });
  return {
    dialect,
    url,
    suffix,
    db,
    unreachableUrl: unreachable(url),
    async drop() {
      // Every table a test made carries the suffix.
      const [rows] = (await db.raw('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?', [
        `%\\_${suffix}`,
      ])) as [{ name: string }[]];
      for (const { name } of rows) await db.schema.dropTableIfExists(name);
      await db.destroy();
    },
  };
}

