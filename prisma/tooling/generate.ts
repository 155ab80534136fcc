// `prisma generate` without network access. The Prisma CLI resolves the
// native schema engine before running any command and downloads it from
// binaries.prisma.sh when missing, although generating the client never
// runs it. Pointing PRISMA_SCHEMA_ENGINE_BINARY at a stub skips that
// download; the CLI only checks that the path exists. We always use the stub
// (unless the caller set the variable), so an online machine does not fetch
// an engine it would not use either.
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { repoRoot } from './paths.js';

const stubPath = path.join(repoRoot, 'node_modules', '.cache', 'contact-hub', 'prisma-schema-engine-stub');

// Answers `--version` like the real engine in case a CLI version ever asks.
const stubScript = `#!/bin/sh
# Written by prisma/tooling/generate.ts: prisma generate needs no schema engine.
echo "schema-engine-cli 0.0.0-stub"
`;

export async function generateClient(): Promise<void> {
  const env = { ...process.env };
  if (env.PRISMA_SCHEMA_ENGINE_BINARY === undefined) {
    await mkdir(path.dirname(stubPath), { recursive: true });
    await writeFile(stubPath, stubScript);
    await chmod(stubPath, 0o755);
    env.PRISMA_SCHEMA_ENGINE_BINARY = stubPath;
  }
  await run(process.execPath, [prismaCliPath(), 'generate'], env);
}

function prismaCliPath(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('prisma/package.json');
  const { bin } = require(packageJson) as { bin: { prisma: string } };
  return path.join(path.dirname(packageJson), bin.prisma);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`prisma ${args.slice(1).join(' ')} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}
