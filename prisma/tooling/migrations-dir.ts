// Reads prisma/migrations into the shape the schema engine expects. Mirrors
// what the Prisma CLI does before `migrate deploy` / `migrate diff`
// (@prisma/migrate's listMigrations): directories only, sorted with
// localeCompare, an unreadable migration.sql passed on as an error value so
// the engine reports it with the migration's name.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import type { MigrationList } from '@prisma/schema-engine-wasm/schema_engine_bg';

const lockfileName = 'migration_lock.toml';
const migrationFileName = 'migration.sql';

export async function loadMigrationList(baseDir: string): Promise<MigrationList> {
  const lockfileContent = await readFile(path.join(baseDir, lockfileName), 'utf8').catch(
    (error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    },
  );
  const lockfile = { path: lockfileName, content: lockfileContent };

  const entries = await readdir(baseDir, { withFileTypes: true }).catch((error: unknown) => {
    if (isNotFound(error)) return [];
    throw error;
  });
  const migrationDirectories = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => ({
        path: entry.name,
        migrationFile: {
          path: migrationFileName,
          content: await readFile(path.join(baseDir, entry.name, migrationFileName), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: unknown) => ({
              tag: 'error' as const,
              value: error instanceof Error ? error.message : String(error),
            }),
          ),
        },
      })),
  );
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path));
  return { baseDir, lockfile, shadowDbInitScript: '', migrationDirectories };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}
