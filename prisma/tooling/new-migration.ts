// Writes the next migration folder from the difference between
// prisma/migrations and schema.prisma, named like `prisma migrate dev` does
// (UTC yyyymmddhhmmss_name) so the folder stays a standard Prisma one.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { diffMigrationsToSchema } from './migrations.js';
import { migrationsDir } from './paths.js';
import { createScratchDatabase } from './scratch-database.js';

export async function createMigration(
  serverUrl: string,
  rawName: string,
): Promise<{ directory: string } | { empty: true }> {
  const name = migrationName(rawName);
  const sql = await diffAgainstScratch(serverUrl);
  if (sql === '') return { empty: true };

  const folder = `${timestamp(new Date())}_${name}`;
  const existing = await readdir(migrationsDir);
  if (existing.some((entry) => entry.slice(0, 14) === folder.slice(0, 14))) {
    // Same second as another migration: the order between them would depend on the name.
    throw new Error(`a migration with timestamp ${folder.slice(0, 14)} already exists; retry in a second`);
  }
  const directory = path.join(migrationsDir, folder);
  await mkdir(directory, { recursive: true });
  await writeFile(path.join(directory, 'migration.sql'), sql);
  return { directory };
}

/** The diff, replayed in a scratch shadow database on the server of `serverUrl`. */
export async function diffAgainstScratch(serverUrl: string): Promise<string> {
  const shadow = await createScratchDatabase(serverUrl, 'prisma_shadow');
  try {
    return await diffMigrationsToSchema(shadow.url);
  } finally {
    await shadow.drop();
  }
}

function migrationName(raw: string): string {
  const name = raw.trim().replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (name === '') throw new Error(`"${raw}" is not a usable migration name (letters, digits, _)`);
  return name;
}

function timestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}
