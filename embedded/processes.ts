import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCommandOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Keeps only the last `limit` characters: enough to explain a failure without holding a full log. */
export class OutputTail {
  private text = '';
  constructor(private readonly limit = 8_000) {}

  append(chunk: string | Buffer): void {
    this.text = (this.text + chunk.toString()).slice(-this.limit);
  }

  toString(): string {
    return this.text.trim();
  }
}

/**
 * Runs a command to completion with its output captured (never inherited) and a
 * hard deadline, so a hanging installer cannot hang the caller.
 */
export async function runCommand(command: string, args: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env, cwd: options.cwd });
    const stdout = new OutputTail(64_000);
    const stderr = new OutputTail();
    child.stdout.on('data', (chunk: Buffer) => stdout.append(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.append(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms; stderr: ${stderr.toString()}`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

export function describeFailure(command: string, result: CommandResult): string {
  const status = result.signal ? `signal ${result.signal}` : `exit code ${String(result.code)}`;
  const output = result.stderr || result.stdout;
  return `${command} failed with ${status}${output ? `: ${output}` : ''}`;
}

/**
 * True while the process exists and has not exited. A zombie (exited, not yet
 * reaped, common when a container's pid 1 reaps slowly) counts as exited: it
 * holds no ports or files, although signal 0 still succeeds on it.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM means the process exists but belongs to another user: still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    // Gone between the signal check and this read: not a zombie, simply dead; the caller's next check sees it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  // Format: "pid (comm) state ..."; comm may contain spaces or parentheses, so read after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/**
 * The command line of a running process, or undefined when it cannot be read
 * (process gone, or no /proc and no ps). Used to recognise our own orphans
 * before touching them, since a pid from a file may have been reused.
 */
export async function readCommandLine(pid: number): Promise<string | undefined> {
  const fromProc = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (raw) => raw.split('\0').join(' ').trim(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ESRCH') return undefined;
      throw error;
    },
  );
  if (fromProc !== undefined || process.platform === 'linux') return fromProc || undefined;
  const result = await runCommand('ps', ['-o', 'command=', '-p', String(pid)], { timeoutMs: 5_000 });
  return result.code === 0 ? result.stdout.trim() || undefined : undefined;
}

/** Polls until the pid is gone; true if it exited within the timeout. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops a process we do not hold a ChildProcess handle for (an orphan of a
 * killed run): polite signal first, forceful one if it does not go.
 */
export async function terminateProcess(pid: number, polite: NodeJS.Signals, forceful: NodeJS.Signals, graceMs: number): Promise<void> {
  signalIfAlive(pid, polite);
  if (await waitForProcessExit(pid, graceMs)) return;
  signalIfAlive(pid, forceful);
  if (!(await waitForProcessExit(pid, graceMs))) {
    throw new Error(`Process ${pid} did not exit after ${polite} and ${forceful}`);
  }
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    // ESRCH: it exited between our check and the signal, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Unlike racing a sleep, leaves no timer behind that would keep Node alive after a quick exit. */
export async function settlesWithin(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

export function waitForChildExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise<void>((resolve) => child.once('exit', () => resolve()));
}
