// npm run connector:test <name> - runs the connector contract (and the
// connector's own tests) for connectors/<name>.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../prisma/tooling/paths.js';

const name = process.argv[2];
if (!name || !existsSync(join(repoRoot, 'connectors', name, 'contract.test.ts'))) {
  console.error(`usage: npm run connector:test <name>   (connectors/<name>/contract.test.ts must exist)`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', `connectors/${name}/`], {
  cwd: repoRoot,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
