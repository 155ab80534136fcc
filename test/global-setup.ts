// One PostgreSQL server, one Temporal dev server and one workflow bundle per test
// run, shared by every suite. Each suite gets its own databases (cloned from a
// migrated template) and its own task queue, so suites never see each other's work.
// Servers come from DATABASE_URL / TEMPORAL_ADDRESS when set, else are embedded.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../core/config.js';
import { runAdminSql, withDatabase } from '../core/db/admin.js';
import { startEmbeddedMariaDb } from '../embedded/mariadb.js';
import { startEmbeddedPostgres } from '../embedded/postgres.js';
import { startEmbeddedRedis } from '../embedded/redis.js';
import { findFreePort } from '../embedded/ports.js';
import { ensureTemporalBinary } from '../embedded/temporal-binary.js';
import { startTemporalDevServer } from '../embedded/temporal-server.js';
import { applyMigrations } from '../prisma/tooling/migrations.js';
import { repoRoot } from '../prisma/tooling/paths.js';
import { devServerSearchAttributes } from '../worker/search-attributes.js';
import { workflowsPath } from '../worker/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database "postgres") of the test PostgreSQL server. */
    postgresUrl: string;
    /** A database with every migration applied, to clone with CREATE DATABASE ... TEMPLATE. */
    templateDatabase: string;
    temporalAddress: string;
    temporalBinary: string;
    workflowBundlePath: string;
    /** Redis for shared rate limits (REDIS_URL, else a private redis-server). */
    redisUrl: string;
    /** MariaDB for SQL-CRM tests (MARIADB_URL, else a private mariadbd). */
    mariadbUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const workDir = await mkdtemp(join(tmpdir(), 'hub-test-'));
  // As root, embedded PostgreSQL runs as the postgres user, which must enter this directory.
  await chmod(workDir, 0o755);
  const stops: (() => Promise<void>)[] = [];

  const postgres = config.DATABASE_URL
    ? { url: withDatabase(config.DATABASE_URL, 'postgres') }
    : await startEmbeddedPostgres({ dataDir: join(workDir, 'pg'), port: await findFreePort() });
  if ('stop' in postgres) stops.push(() => postgres.stop());

  const templateDatabase = `hub_template_${process.pid}_${Date.now()}`;
  await runAdminSql(postgres.url, `CREATE DATABASE ${templateDatabase}`);
  await applyMigrations(withDatabase(postgres.url, templateDatabase));
  stops.push(() => runAdminSql(postgres.url, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`));

  const temporalBinary = await ensureTemporalBinary(repoRoot);
  let temporalAddress = config.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const server = await startTemporalDevServer({
      binary: temporalBinary,
      uiPort: false,
      searchAttributes: devServerSearchAttributes(),
      logFile: join(workDir, 'temporal.log'),
    });
    temporalAddress = server.address;
    stops.push(() => server.stop());
  }

  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const redis = await startEmbeddedRedis({ logFile: join(workDir, 'redis.log') });
    redisUrl = redis.url;
    stops.push(() => redis.stop());
  }
  let mariadbUrl = config.MARIADB_URL;
  if (!mariadbUrl) {
    const mariadb = await startEmbeddedMariaDb({ dataDir: join(workDir, 'mariadb'), logFile: join(workDir, 'mariadb.log') });
    mariadbUrl = mariadb.url;
    stops.push(() => mariadb.stop());
  }

  const bundle = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  const workflowBundlePath = join(workDir, 'workflows.js');
  await writeFile(workflowBundlePath, bundle.code);

  project.provide('postgresUrl', postgres.url);
  project.provide('templateDatabase', templateDatabase);
  project.provide('temporalAddress', temporalAddress);
  project.provide('temporalBinary', temporalBinary);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('redisUrl', redisUrl);
  project.provide('mariadbUrl', mariadbUrl);

  return async () => {
    for (const stop of stops.reverse()) await stop();
    await rm(workDir, { recursive: true, force: true });
  };
}



const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
  log: () => undefined,
};
