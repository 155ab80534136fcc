// Configuration for the Prisma CLI (Prisma 7 reads connection URLs from here,
// not from schema.prisma). Offline, use `tsx prisma/tooling/cli.ts` instead
// of `prisma migrate`; see prisma/tooling/migrations.ts.
import { defineConfig } from 'prisma/config';

const url = process.env.DATABASE_URL;

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  // `generate` runs at install time, before any database exists, and must not
  // require a URL; migrate commands report the missing URL themselves.
  ...(url ? { datasource: { url } } : {}),
});
