// npm run project:create -- --slug acme --name "Acme Loans" --region RU [--timezone Europe/Moscow]
// Creates a project and prints its first API key (shown only here).
import { parseArgs } from 'node:util';
import { loadConfig, requireSetting } from '../core/config.js';
import { createDb } from '../core/db/client.js';
import { createProject, InvalidProjectError } from '../core/projects/projects.js';

const { values } = parseArgs({
  options: {
    slug: { type: 'string' },
    name: { type: 'string' },
    region: { type: 'string', default: 'US' },
    timezone: { type: 'string', default: 'UTC' },
  },
});
if (!values.slug) {
  console.error('usage: npm run project:create -- --slug <slug> [--name <name>] [--region US] [--timezone UTC]');
  process.exit(2);
}
const db = createDb(requireSetting(loadConfig(), 'DATABASE_URL'), { poolSize: 1 });
try {
  const project = await createProject(db, {
    slug: values.slug,
    name: values.name ?? values.slug,
    defaultRegion: values.region ?? 'US',
    timezone: values.timezone ?? 'UTC',
  });
  console.log(`project ${values.slug} (${project.id})`);
  console.log(`API key (shown once): ${project.apiKey}`);
} catch (error) {
  if (error instanceof InvalidProjectError) {
    console.error(error.message);
    process.exitCode = 2;
  } else throw error;
} finally {
  await db.$disconnect();
}
