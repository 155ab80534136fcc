// Database tooling that works offline: `tsx prisma/tooling/cli.ts <command>`.
// See ./migrations.ts for why this exists next to the Prisma CLI.
import path from 'node:path';

import { generateClient } from './generate.js';
import { applyMigrations } from './migrations.js';
import { createMigration, diffAgainstScratch } from './new-migration.js';
import { repoRoot } from './paths.js';

const usage = `usage: tsx prisma/tooling/cli.ts <command>
  generate     generate the Prisma client into core/db/generated
  deploy       apply pending migrations to $DATABASE_URL
  diff         print the SQL from prisma/migrations to schema.prisma
               (replayed in a scratch database on the server of $DATABASE_URL)
  new <name>   write that SQL as prisma/migrations/<timestamp>_<name>/migration.sql`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'generate':
      await generateClient();
      return 0;
    case 'deploy': {
      const { applied } = await applyMigrations(databaseUrl());
      console.log(applied.length === 0 ? 'No pending migrations.' : `Applied: ${applied.join(', ')}`);
      return 0;
    }
    case 'diff': {
      const sql = await diffAgainstScratch(databaseUrl());
      if (sql === '') console.error('prisma/migrations and schema.prisma agree.');
      else process.stdout.write(sql.endsWith('\n') ? sql : `${sql}\n`);
      return 0;
    }
    case 'new': {
      const [name] = args;
      if (name === undefined || args.length !== 1) {
        console.error(usage);
        return 2;
      }
      const result = await createMigration(databaseUrl(), name);
      if ('empty' in result) {
        console.error('Nothing to migrate: prisma/migrations already matches schema.prisma.');
        return 1;
      }
      console.log(`Wrote ${path.relative(repoRoot, result.directory)}/migration.sql`);
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') throw new Error('DATABASE_URL is not set');
  return url;
}

process.exitCode = await main(process.argv.slice(2));
