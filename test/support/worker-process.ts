// The hub's worker as a real process (`node --import tsx worker/main.ts`), for
// tests that must kill it the way an OOM killer or a lost VM does: SIGKILL, no
// shutdown hook, in-flight activities abandoned mid-request.
import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { repoRoot } from '../../prisma/tooling/paths.js';

export interface WorkerProcessEnv {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_TASK_QUEUE: string;
  CONNECTOR_SECRET_KEY: string;
  LOG_LEVEL?: string;
}

/** A worker process serving a test hub (its database, task queue and sealing key) on the suite's Temporal. */
export function startHubWorkerProcess(hub: { databaseUrl: string; taskQueue: string; secretKey: string }, logLevel = 'warn'): WorkerProcess {
  return startWorkerProcess({
    DATABASE_URL: hub.databaseUrl,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: hub.taskQueue,
    CONNECTOR_SECRET_KEY: hub.secretKey,
    LOG_LEVEL: logLevel,
  });
}

export interface WorkerProcess {
  readonly pid: number;
  /** Resolves with how the process ended (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Sends the signal and waits for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const keptOutputChars = 20_000;

export function startWorkerProcess(env: WorkerProcessEnv): WorkerProcess {
  return startServiceProcess('worker/main.ts', { ...env });
}

/** One of the hub's processes (`worker/main.ts`, `telephony/main.ts`...) started the way `npm start` starts it. */
export function startServiceProcess(entry: string, env: Record<string, string | undefined>): WorkerProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${entry} did not start`);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-keptOutputChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid,
    exited,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
