/**
 * `npm run test:telephony [-- --drachtio host:port [--secret s]] [vitest filters...]`
 *
 * Runs the telephony suites. Without --drachtio they start the drachtio-server stand-in; with it
 * they connect the same adapter to that drachtio-server instead (DRACHTIO_HOST/PORT/SECRET are
 * what the suites read through core/config.ts).
 */
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const env: NodeJS.ProcessEnv = { ...process.env };
const passThrough: string[] = [];
for (let index = 0; index < args.length; index++) {
  const arg = args[index]!;
  if (arg === '--drachtio') {
    const target = args[++index] ?? '';
    const match = /^([^:\s]+):(\d+)$/.exec(target);
    if (!match) {
      console.error(`--drachtio expects host:port, got "${target}"`);
      process.exit(2);
    }
    env.DRACHTIO_HOST = match[1];
    env.DRACHTIO_PORT = match[2];
  } else if (arg === '--secret') {
    env.DRACHTIO_SECRET = args[++index] ?? '';
  } else {
    passThrough.push(arg);
  }
}

const child = spawn('npx', ['vitest', 'run', '--config', 'telephony/testing/vitest.config.ts', ...passThrough], { stdio: 'inherit', env });
child.on('close', (code) => process.exit(code ?? 1));
