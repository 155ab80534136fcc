// Test support for the "does not outlive its parent" cases: a parent process
// that dies by SIGKILL, the one death no hook in Node can react to.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputTail } from './processes.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs `script` in a separate Node process, reads the JSON line it prints,
 * then kills that process with SIGKILL, so that no exit hook of it runs.
 */
export async function startInKilledParent<Printed extends { pid: number } = { pid: number }>(script: string): Promise<Printed> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = new OutputTail();
  child.stderr.on('data', (chunk: Buffer) => stderr.append(chunk));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const end = stdout.indexOf('\n');
        if (end >= 0) resolve(stdout.slice(0, end));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`child exited (${String(code ?? signal)}) before printing: ${stderr.toString()}`)));
    });
    return JSON.parse(line) as Printed;
  } finally {
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await exited;
  }
}
