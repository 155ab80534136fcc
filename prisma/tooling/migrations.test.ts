import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { loadMigrationList } from './migrations-dir.js';
import { applyMigrations, diffMigrationsToSchema } from './migrations.js';
import { migrationsDir } from './paths.js';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database.js';

const adminUrl = inject('postgresUrl');
const engineTimeout = 60_000;

const scratch: ScratchDatabase[] = [];
async function freshDatabase(): Promise<string> {
  const database = await createScratchDatabase(adminUrl, 'test_migrations');
  scratch.push(database);
  return database.url;
}
afterEach(async () => {
  await Promise.all(scratch.splice(0).map((database) => database.drop()));
});

async function query<Row extends pg.QueryResultRow>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function migrationsOnDisk(): Promise<{ name: string; checksum: string }[]> {
  const list = await loadMigrationList(migrationsDir);
  return list.migrationDirectories.map(({ path, migrationFile }) => {
    if (migrationFile.content.tag === 'error') throw new Error(`${path}: ${migrationFile.content.value}`);
    return { name: path, checksum: createHash('sha256').update(migrationFile.content.value).digest('hex') };
  });
}

describe('prisma migrations', () => {
  it(
    'match schema.prisma (no drift)',
    async () => {
      const diff = await diffMigrationsToSchema(await freshDatabase());
      expect(
        diff,
        'schema.prisma changed without a migration. Run `npm run db:diff` to review and ' +
          '`tsx prisma/tooling/cli.ts new <name>` to add it. Missing SQL:\n' +
          diff,
      ).toBe('');
    },
    engineTimeout,
  );

  // Guards the drift check itself: a diff that always came back empty would pass it.
  it(
    'report the missing SQL when a migration is missing',
    async () => {
      const onlyLockfile = await mkdtemp(path.join(tmpdir(), 'migrations-'));
      try {
        await copyFile(
          path.join(migrationsDir, 'migration_lock.toml'),
          path.join(onlyLockfile, 'migration_lock.toml'),
        );
        const diff = await diffMigrationsToSchema(await freshDatabase(), { migrationsDir: onlyLockfile });
        expect(diff).toContain('CREATE TABLE "projects"');
      } finally {
        await rm(onlyLockfile, { recursive: true, force: true });
      }
    },
    engineTimeout,
  );

  // The engine reads catalog columns of type "char" (pg_constraint.contype)
  // when a database has CHECK constraints, or any NOT NULL column on
  // PostgreSQL 18; see ./char-columns.ts. Prisma's diff ignores CHECK
  // constraints, so the answer stays empty.
  it(
    'describe databases with CHECK constraints',
    async () => {
      const withCheck = await mkdtemp(path.join(tmpdir(), 'migrations-'));
      try {
        await cp(migrationsDir, withCheck, { recursive: true });
        await mkdir(path.join(withCheck, '99991231000000_check'));
        await writeFile(
          path.join(withCheck, '99991231000000_check', 'migration.sql'),
          `ALTER TABLE "projects" ADD CONSTRAINT "projects_slug_nonempty" CHECK (slug <> '');\n`,
        );
        expect(await diffMigrationsToSchema(await freshDatabase(), { migrationsDir: withCheck })).toBe('');
      } finally {
        await rm(withCheck, { recursive: true, force: true });
      }
    },
    engineTimeout,
  );

  it(
    'apply to a fresh database once, recorded like prisma migrate deploy',
    async () => {
      const url = await freshDatabase();
      const onDisk = await migrationsOnDisk();
      expect(onDisk.length).toBeGreaterThan(0);

      const first = await applyMigrations(url);
      expect(first.applied).toEqual(onDisk.map((m) => m.name));

      const tables = await query<{ table_name: string }>(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining([
          '_prisma_migrations',
          'projects',
          'api_keys',
          'connector_instances',
          'tasks',
          'outbox',
          'idempotency_records',
        ]),
      );

      const rows = await query<{
        migration_name: string;
        checksum: string;
        finished_at: Date | null;
        rolled_back_at: Date | null;
        applied_steps_count: number;
        logs: string | null;
      }>(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');
      expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(onDisk);
      for (const row of rows) {
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.rolled_back_at).toBeNull();
        expect(row.applied_steps_count).toBe(1);
        expect(row.logs).toBeNull();
      }

      expect(await applyMigrations(url)).toEqual({ applied: [] });
      const after = await query<{ count: string }>(url, 'SELECT count(*) FROM _prisma_migrations');
      expect(Number(after[0]?.count)).toBe(onDisk.length);
    },
    engineTimeout,
  );

  it(
    'apply each migration once when two callers race',
    async () => {
      const url = await freshDatabase();
      const onDisk = await migrationsOnDisk();
      const [a, b] = await Promise.all([applyMigrations(url), applyMigrations(url)]);
      expect([...a.applied, ...b.applied].sort()).toEqual(onDisk.map((m) => m.name).sort());
      const rows = await query<{ count: string }>(url, 'SELECT count(*) FROM _prisma_migrations');
      expect(Number(rows[0]?.count)).toBe(onDisk.length);
    },
    engineTimeout,
  );
});
