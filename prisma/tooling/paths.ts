// One place that knows where the Prisma project lives, so the CLI, the tests
// and the library agree whatever the current directory is.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const prismaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.dirname(prismaDir);
export const schemaPath = path.join(prismaDir, 'schema.prisma');
export const migrationsDir = path.join(prismaDir, 'migrations');
