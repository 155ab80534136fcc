// Applies and checks prisma/migrations without the Prisma CLI's native schema
// engine, which is downloaded from binaries.prisma.sh and so unavailable
// offline.
//
// Choice: we drive Prisma's own schema engine compiled to WebAssembly
// (@prisma/schema-engine-wasm) through @prisma/adapter-pg, rather than
// re-implementing `migrate deploy` with `pg`. The engine is the code behind
// `prisma migrate deploy` / `prisma migrate diff`, so the _prisma_migrations
// rows (checksum, timestamps, applied_steps_count, failed-migration handling)
// and the generated SQL are Prisma's, not an imitation; a later real
// `prisma migrate deploy` sees the same history. The cost is two workarounds:
// loading the WASM by hand (./schema-engine.ts: Node 20 cannot import .wasm)
// and passing PostgreSQL "char" catalog columns through adapter-pg 7.10,
// which rejects them (./char-columns.ts). ./migrations.test.ts exercises
// both; checked by hand on PostgreSQL 15 and on the embedded PostgreSQL 18.
//
// Version: no @prisma/schema-engine-wasm is published for the engines commit
// of prisma 7.10.1 (d1b3f377); we pin 8.1.0-2.59be4fda, published the same
// day on the same 8.1.0 engines line. Bump it together with prisma.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import pg from 'pg';

import { loadMigrationList } from './migrations-dir.js';
import { migrationsDir, schemaPath } from './paths.js';
import { withSchemaEngine } from './schema-engine.js';

const noFilters = { externalTables: [], externalEnums: [] };

export interface MigrationsOptions {
  /** Defaults to prisma/migrations; tests point it elsewhere. */
  migrationsDir?: string;
}

// The engine takes Prisma's advisory lock (72707369) on one of its pooled
// connections, which makes a second caller block inside the engine and hit
// its 10 s lock timeout while the first one is still migrating. Our own key,
// held on a dedicated connection for the whole run, queues our callers
// without a timeout; Prisma's lock still keeps us apart from a concurrent
// real `prisma migrate deploy`.
const deployLockKey = 4_242_001_001;

/**
 * Applies the migrations of prisma/migrations that `databaseUrl` has not seen
 * yet, in name order, recording each in _prisma_migrations as
 * `prisma migrate deploy` does. Applying nothing is the normal case.
 */
export async function applyMigrations(
  databaseUrl: string,
  options: MigrationsOptions = {},
): Promise<{ applied: string[] }> {
  assertDefaultSchema(databaseUrl);
  const migrationsList = await loadMigrationList(options.migrationsDir ?? migrationsDir);
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [deployLockKey]);
    const output = await withSchemaEngine(databaseUrl, {}, (engine) =>
      engine.applyMigrations({ migrationsList, filters: noFilters }),
    );
    await lock.query('SELECT pg_advisory_unlock($1)', [deployLockKey]);
    return { applied: output.appliedMigrationNames };
  } finally {
    // Closing the session also releases the lock when the engine failed.
    await lock.end();
  }
}

/**
 * The SQL that takes a database built from prisma/migrations to what
 * schema.prisma describes; "" when they agree. The engine replays the
 * migrations into `shadowDatabaseUrl`, which must be an empty scratch
 * database: whatever it contains is reset.
 */
export async function diffMigrationsToSchema(
  shadowDatabaseUrl: string,
  options: MigrationsOptions = {},
): Promise<string> {
  assertDefaultSchema(shadowDatabaseUrl);
  const migrationsList = await loadMigrationList(options.migrationsDir ?? migrationsDir);
  const schema = { path: path.basename(schemaPath), content: await readFile(schemaPath, 'utf8') };
  const result = await withSchemaEngine(shadowDatabaseUrl, { shadow: true }, (engine) =>
    engine.diff({
      from: { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files: [schema] },
      script: true,
      exitCode: null,
      filters: noFilters,
    }),
  );
  return hasStatements(result.stdout ?? '') ? (result.stdout ?? '') : '';
}

// The engine answers "-- This is an empty migration." when nothing differs.
function hasStatements(script: string): boolean {
  return script.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--'));
}

// Prisma's `?schema=` parameter makes the native engine set search_path; pg
// ignores it, so migrations would silently land in "public" instead.
function assertDefaultSchema(databaseUrl: string): void {
  const schema = new URL(databaseUrl).searchParams.get('schema');
  if (schema !== null && schema !== 'public') {
    throw new Error(`database URLs with ?schema=${schema} are not supported by prisma/tooling; use "public"`);
  }
}
